"""Bad input to the decoder: truncated or oversized payloads, non-DNS data on a DNS port,
pipes whose writer is gone, fd numbers beyond what is tracked. Fields stay empty, nothing
raises, and a counter says what happened. (Records built by hand: no kernel needed.)"""

from __future__ import annotations

import socket
import struct

import pytest
from ebpf_records import fd_desc, record, sock_tuple, sockaddr_in
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.events.model import Process
from vigil.events.pipes import PipeHolders
from vigil.events.proctable import ProcessTable
from vigil.sensors.ebpf import syscalls as sc
from vigil.sensors.ebpf.decode import F_DNS, F_FDS_BEYOND, F_PAYLOAD_CUT, RecordDecoder
from vigil.sensors.ebpf.dnswire import parse_question
from vigil.sensors.ebpf.fdview import FDK_FILE, FDK_PIPE, FDK_SOCK

SENDTO = sc.BY_NAME["sendto"].nr
EXECVE = sc.BY_NAME["execve"].nr
DUP2 = sc.BY_NAME["dup2"].nr
LOOPBACK = socket.inet_aton("127.0.0.1")


def query(name: str, qtype: int = 1) -> bytes:
    q = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


@pytest.fixture
def dec(tmp_path):
    (tmp_path / "passwd").write_text("root:x:0:0::/root:/bin/bash\n")
    (tmp_path / "group").write_text("root:x:0:\n")
    return RecordDecoder(ProcessTable(proc_root=tmp_path / "noproc", etc_root=tmp_path), "h")


# ---------------------------------------------------------------------------- DNS


def test_parse_question_reads_name_and_type():
    assert parse_question(query("a.example.org", 28)) == ("a.example.org", 28)
    assert parse_question(struct.pack(">H", 40) + query("tcp.example", 16),
                          stream=True) == ("tcp.example", 16)
    # bytes outside letters, digits and -_* are escaped, as dig prints them
    raw = query("x.y").replace(b"\x01x", b"\x03a.\x07")
    assert parse_question(raw) == ("a\\046\\007.y", 1)


@pytest.mark.parametrize("payload", [
    b"",                                                    # nothing
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",                   # not DNS at all
    query("cut.example.org")[:20],                          # the name stops early
    query("a.example")[:-2],                                # the type/class is cut
    query("x.example").replace(b"\x01\x00", b"\x81\x80", 1),  # a response, not a query
    struct.pack(">HHHHHH", 1, 0x0100, 0, 0, 0, 0) + b"\0\0\1\0\1",  # no question
    query("x.y")[:12] + b"\xc0\x0c" + b"\0\1\0\1",          # a compression pointer
    query("x.y")[:12] + b"\x50" + b"a" * 80 + b"\0\0\1\0\1",  # a label longer than 63
    query(".".join(["a" * 60] * 5)),                        # a name longer than 255
    query("x.y")[:-2] + b"\x77\x77",                        # an unknown class
])
def test_parse_question_refuses_what_is_not_a_query_question(payload):
    assert parse_question(payload) is None


def _sendto(payload: bytes, flags: int = F_DNS, port: int = 53) -> bytes:
    tup = sock_tuple(2, 2, 17, 40000, 0, 7, LOOPBACK, b"")
    return record(SENDTO, res=len(payload), args=(3, 0, len(payload), 0, 0, 16),
                  buf=sockaddr_in(LOOPBACK, port), fds=fd_desc(3, FDK_SOCK, 3, 0, 9, tup),
                  extra=payload, flags=flags, fd=(3, FDK_SOCK, 3, 0, 9))


def test_non_dns_data_on_port_53_leaves_dns_empty_and_is_counted(dec):
    ev = dec.decode(rec := _sendto(b"\x16\x03\x01 this is TLS"), 0, len(rec))
    assert ev.type == "sendto" and ev.dns is None and ev.fd.rport == 53
    assert dec.counts.dns_malformed == 1 and dec.counts.dns_queries == 0


def test_a_truncated_payload_is_counted_and_an_oversized_one_keeps_its_question(dec):
    cut = dec.decode(rec := _sendto(query("abc.example.org")[:18]), 0, len(rec))
    assert cut.dns is None and dec.counts.dns_malformed == 1
    big = dec.decode(rec := _sendto(query("big.example.org") + b"\0" * 200,
                                    flags=F_DNS | F_PAYLOAD_CUT), 0, len(rec))
    assert big.dns.qname == "big.example.org" and big.dns.server == "127.0.0.1"
    assert dec.counts.dns_cut == 1 and dec.counts.dns_queries == 1


# ---------------------------------------------------------------------------- pipes


def test_a_pipe_whose_writer_exited_before_the_reader_has_no_writer():
    holders = PipeHolders()
    writer = Process(pid=10, ppid=1, name="curl")
    reader = Process(pid=11, ppid=1, name="sh")
    holders.hold(writer, 777, "w", ts=100)
    holders.release(10, ts=200)                      # the writer exits
    # what it wrote may still be in the pipe: it is named for a while
    assert holders.peer(777, "w", reader, ts=300) is writer
    grace = 5_000_000_000
    assert holders.peer(777, "w", reader, ts=200 + grace + 1) is None
    # ... and is the writer for a reader that started while it ran
    assert holders.peer(777, "w", reader, ts=150) is writer
    # a sibling is preferred to an unrelated holder of the same pipe, and one still
    # holding it to one gone
    other = Process(pid=12, ppid=99, name="tee")
    holders.hold(other, 777, "w", ts=160)
    assert holders.peer(777, "w", reader, ts=170) is writer
    assert holders.peer(777, "w", reader, ts=300) is other
    # forgotten once the grace period is over
    holders.purge(now=200 + 10_000_000_000)
    assert holders.peer(777, "w", reader, ts=150) is other


def _exec(dec, tgid: int, stdio: bytes, flags: int = 0, open_fds: int = 0b111,
          ppid: int = 1) -> object:
    rec = record(EXECVE, res=0, strings=[b"sh\0bin\0", b"sh\0", b"tmp\0"], fds=stdio,
                 flags=flags, aux=open_fds, tgid=tgid, ppid=ppid)
    return dec.decode(rec, 0, len(rec))


def test_a_reader_without_any_writer_in_the_batch_is_counted(dec):
    stdio = fd_desc(0, FDK_PIPE, 1, 12, 4242) + fd_desc(1, FDK_FILE) + fd_desc(2, FDK_FILE)
    ev = _exec(dec, 50, stdio)
    dec.finish_batch()
    assert ev.proc.stdio[0].type == "pipe" and ev.proc.stdio[0].peer is None
    assert dec.counts.pipe_peers_unknown == 1


def test_writer_and_reader_in_one_batch_in_either_order(dec):
    reader = _exec(dec, 60, fd_desc(0, FDK_PIPE, 1, 12, 99) + fd_desc(1, FDK_FILE)
                   + fd_desc(2, FDK_FILE))
    writer = _exec(dec, 61, fd_desc(0, FDK_FILE) + fd_desc(1, FDK_PIPE, 2, 12, 99)
                   + fd_desc(2, FDK_FILE))
    dec.finish_batch()
    assert reader.proc.stdio[0].peer.pid == 61
    assert writer.proc.stdio[1].peer.pid == 60
    assert dec.counts.pipe_peers == 2


# ---------------------------------------------------------------------------- fd numbers


def test_fd_numbers_beyond_the_tracked_range(dec):
    # dup2 onto an fd the program cannot name in 16 bits, and past the table's range
    rec = record(DUP2, res=70000, args=(3, 70000, 0, 0, 0, 0), fd=(0xFFFF, FDK_FILE, 1, 0, 5))
    ev = dec.decode(rec, 0, len(rec))
    assert ev.fd.num == -1 and ev.fd.name is None
    assert dec.table.untracked_fds == 1
    # an exec while fds 64 and up are open: the table cannot check those, it drops them
    dec.table.on_fork(1, 70, 0)
    dec.table.set_fd(70, 100, ev.fd)
    _exec(dec, 70, fd_desc(0, FDK_FILE) * 3, flags=F_FDS_BEYOND)
    assert dec.table.fd(70, 100) is None and dec.table.untracked_fds == 2
    assert dec.counts.fds_beyond_exec_view == 1


def test_an_exec_record_with_a_short_fd_segment(dec):
    ev = _exec(dec, 80, fd_desc(0, FDK_PIPE, 1, 0, 5) + b"\x01" * 30)
    assert len(ev.proc.stdio) == 1 and ev.proc.stdio[0].type == "pipe"


# ---------------------------------------------------------------------------- any record


@settings(max_examples=300, deadline=None)
@given(nr=st.sampled_from(sorted(sc.BY_NR)), res=st.integers(-4096, 1 << 20),
       flags=st.integers(0, 0xFFFF), segs=st.lists(st.binary(max_size=200), min_size=6,
                                                  max_size=6),
       fd=st.tuples(st.integers(0, 0xFFFF), st.integers(0, 12), st.integers(0, 3),
                    st.integers(0, 0xFFFFFFFF), st.integers(0, 1 << 40)))
def test_random_segments_of_every_syscall_never_raise(tmp_path_factory, nr, res, flags, segs,
                                                      fd):
    tmp = tmp_path_factory.mktemp("fuzz")
    dec = RecordDecoder(ProcessTable(proc_root=tmp / "noproc", etc_root=tmp), "h")
    rec = record(nr, res=res, strings=segs[:3], buf=segs[3], fds=segs[4], extra=segs[5],
                 flags=flags, fd=fd, aux=res & 0xFFFF)
    dec.decode(rec, 0, len(rec))
    dec.decode(rec[:-7], 0, len(rec) - 7)   # and cut short
    dec.finish_batch()


def test_a_reader_waits_a_little_for_a_writer_that_execs_later(dec):
    # the shell forks the writer, then the reader; the reader execs first
    t0 = dec.table.boot_epoch_ns   # records say 1000 ns after boot
    dec.table.on_fork(1, 91, t0 + 500)
    dec.table.on_fork(1, 90, t0 + 600)
    dec.table.on_fork(1, 92, t0 + 700)
    reader = _exec(dec, 90, fd_desc(0, FDK_PIPE, 1, 12, 55) + fd_desc(1, FDK_FILE)
                   + fd_desc(2, FDK_FILE))
    soon = reader.ts + dec.hold_ns // 2
    # end of the first batch: the writer has not exec'd; the reader's event may wait
    assert dec.finish_batch(final=False, now_ns=soon) == [reader]
    assert reader.proc.stdio[0].peer is None
    _exec(dec, 91, fd_desc(0, FDK_FILE) + fd_desc(1, FDK_PIPE, 2, 12, 55) + fd_desc(2, FDK_FILE))
    assert dec.finish_batch(final=False, now_ns=soon) == []
    assert reader.proc.stdio[0].peer.pid == 91
    # a reader waits a while only: with no writer by then, it goes unnamed
    dec.table.on_fork(1, 93, t0 + 800)   # a sibling that might still exec
    lonely = _exec(dec, 92, fd_desc(0, FDK_PIPE, 1, 12, 56) + fd_desc(1, FDK_FILE) * 2)
    assert dec.finish_batch(final=False, now_ns=lonely.ts + 1) == [lonely]
    assert dec.finish_batch(final=False, now_ns=lonely.ts + dec.hold_ns) == []
    assert lonely.proc.stdio[0].peer is None and dec.counts.pipe_peers_unknown == 1
    # nobody else forked by the parent is about to exec: nothing to wait for
    alone = _exec(dec, 95, fd_desc(0, FDK_PIPE, 1, 12, 57) + fd_desc(1, FDK_FILE) * 2,
                  ppid=94)
    assert dec.finish_batch(final=False, now_ns=alone.ts + 1) == []
