"""Decoding of kernel records built by hand in the program's layout (no kernel needed)."""

from __future__ import annotations

import socket
import struct

import pytest

from ebpf_records import fd_desc, record, sock_tuple

from vigil.events.proctable import ProcessTable
from vigil.sensors.ebpf import syscalls as sc
from vigil.sensors.ebpf.decode import RecordDecoder, kernel_path
from vigil.sensors.ebpf.fdview import FDK_SOCK
from vigil.sensors.ebpf.sockets import parse_sockaddr


@pytest.fixture
def dec(tmp_path):
    (tmp_path / "passwd").write_text("root:x:0:0::/root:/bin/bash\n")
    (tmp_path / "group").write_text("root:x:0:\n")
    return RecordDecoder(ProcessTable(proc_root=tmp_path / "noproc", etc_root=tmp_path), "h")


def _decode(dec, rec):
    return dec.decode(rec, 0, len(rec))


def test_kernel_path_reverses_leaf_first_components():
    assert kernel_path(b"shadow\0etc\0") == "/etc/shadow"
    assert kernel_path(b"") == "/"
    assert kernel_path(b"memfd:x\0") == "/memfd:x"


def test_parse_sockaddr_families():
    v4 = struct.pack("<H", 2) + struct.pack(">H", 53) + socket.inet_aton("10.0.0.1") + bytes(8)
    assert parse_sockaddr(v4) == (2, "10.0.0.1", 53)
    v6 = struct.pack("<H", 10) + struct.pack(">H", 443) + bytes(4) + \
        socket.inet_pton(socket.AF_INET6, "2001:db8::1") + bytes(4)
    assert parse_sockaddr(v6) == (10, "2001:db8::1", 443)
    assert parse_sockaddr(struct.pack("<H", 1) + b"/run/x.sock\0") == (1, "/run/x.sock", None)
    assert parse_sockaddr(struct.pack("<H", 1) + b"\0abstract\0") == (1, "@abstract", None)
    assert parse_sockaddr(b"\x02") == (0, None, None)
    assert parse_sockaddr(struct.pack("<H", 2) + b"\0") == (2, None, None)


def test_openat_relative_to_a_known_directory_fd(dec):
    dec.table.on_fork(1, 4242, 0)
    opened = _decode(dec, record(257, res=5, args=(-100 & 0xFFFFFFFF, 0, 0o200000, 0, 0, 0),
                                 strings=[b"/var/log\0"]))
    assert opened.fd.type == "directory"
    ev = _decode(dec, record(257, res=6, args=(5, 0, 0, 0, 0, 0), strings=[b"../lib/./x\0"]))
    assert ev.args["name"] == "/var/lib/x" and ev.fd.nameraw == "../lib/./x"
    assert ev.args["dirfd"] == 5 and ev.proc.name == "tester" and ev.proc.loginuid == -1


def test_connect_ipv6_uses_requested_address_and_kernel_local_end(dec):
    addr = struct.pack("<H", 10) + struct.pack(">H", 8443) + bytes(4) + \
        socket.inet_pton(socket.AF_INET6, "2001:db8::7") + bytes(4)
    tup = sock_tuple(10, 1, 6, 40000, 0, 2, socket.inet_pton(socket.AF_INET6, "2001:db8::2"),
                     bytes(16))
    ev = _decode(dec, record(42, res=-115, args=(3, 0, len(addr), 0, 0, 0), buf=addr,
                             fds=fd_desc(3, FDK_SOCK, 3, 0, 77, tup), fd=(3, FDK_SOCK, 3, 0, 77)))
    assert ev.type == "connect" and ev.res == -115
    assert ev.fd.type == "ipv6" and ev.fd.l4proto == "tcp"
    assert ev.fd.rip == "2001:db8::7" and ev.fd.rport == 8443
    assert ev.fd.lip == "2001:db8::2" and ev.fd.lport == 40000
    assert ev.fd.name == "2001:db8::2:40000->2001:db8::7:8443"


def test_exec_record_builds_the_new_process(dec):
    segs = [b"memfd:payload\0", b"payload\0-x\0", b"tmp\0"]
    ev = _decode(dec, record(59, res=0, strings=segs, flags=1 | 2 | 4,
                             args=((136 << 32) | 3, 7, 8, 0, 0, 0)))
    assert ev.type == "execve" and ev.proc.exe_from_memfd and ev.proc.exepath == "memfd:payload"
    assert ev.proc.args == ["-x"] and ev.proc.args_truncated and ev.proc.cwd == "/tmp"
    assert ev.proc.tty == (3 | 136 << 8) and ev.proc.sid == 7 and ev.proc.pgid == 8
    assert dec.table.get(4242) is ev.proc


def test_failed_exec_reports_the_filename(dec):
    ev = _decode(dec, record(59, res=-2, strings=[b"/nope\0"]))
    assert ev.type == "execve" and ev.res == -2 and ev.args["filename"] == "/nope"


def test_bad_records_are_counted_not_raised(dec):
    assert dec.decode(b"\0" * 10, 0, 10) is None
    assert _decode(dec, record(499)) is None  # a syscall the table does not know
    assert dec.errors == 2
    # segment lengths beyond the record: short strings, no exception, counted
    rec = record(87, strings=[b"/x\0"])[:-2]
    ev = dec.decode(rec, 0, len(rec))
    assert ev.type == "unlink" and ev.args["path"] == "/"
    assert dec.counts.truncated_records == 1


def test_every_spec_fits_the_program_limits():
    for s in sc.SYSCALLS:
        assert s.nr < sc.MAX_SYSCALLS
        assert len(s.string_regs) <= 3, s.name
        assert len(s.spec_bytes(True)) == 32
    assert len({s.name for s in sc.SYSCALLS}) == len(sc.SYSCALLS)


def test_a_record_that_breaks_the_decoder_is_counted_and_skipped(dec, caplog):
    # the decoder has no known crashing input, so a failure is injected (a subclass) to
    # check the guard that keeps a future decoder bug from stopping the sensor
    from vigil.sensors.ebpf.sensor import EbpfSensor

    s = EbpfSensor(table=dec.table)  # not started: only its record handler is used
    s._decoder = dec
    s._out = []
    bad = record(42, buf=b"x", fds=b"y" * 3)  # a connect whose socket tuple is too short
    good = record(87, strings=[b"/tmp/x\0"])

    class Boom(RecordDecoder):
        def decode(self, buf, off, size):
            if size == len(bad):
                raise ValueError("malformed")
            return super().decode(buf, off, size)

    s._decoder = Boom(dec.table, "h")
    s._handle(bad, 0, len(bad))
    s._handle(good, 0, len(good))
    assert [e.type for e in s._out] == ["unlink"]
    assert s._decoder.errors == 1
    assert "cannot decode a kernel record" in caplog.text
