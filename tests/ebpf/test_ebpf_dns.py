"""Real kernel: DNS questions leave with their name, type and resolver.

The sensor here asks for no network event type at all: DNS traffic (to port 53) still
arrives, on whichever syscall carried it, and nothing else sent does.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import time
from typing import Iterator

import pytest
from ebpf_harness import LiveCapture, only, requires_bpf

from vigil.events.fields import DEFAULT_FIELDS
from vigil.sensors.ebpf.sensor import EbpfSensor

pytestmark = requires_bpf


def field(name: str, event, arg: str | None = None):
    return DEFAULT_FIELDS.extractor(name, arg)(event)


@pytest.fixture(scope="module")
def dns() -> Iterator[LiveCapture]:
    sensor = EbpfSensor(event_types={"execve"}, dns_ports=(53,))
    sensor.start()
    try:
        yield LiveCapture(sensor)
    finally:
        sensor.stop()


def query(name: str, qtype: int = 1, pad: int = 0) -> bytes:
    """A DNS query as a resolver sends it (`pad` bytes of EDNS-like padding after it)."""
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1) + b"\0" * pad


SEND = r"""
import socket, sys
payload = bytes.fromhex(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(payload, ("127.0.0.1", int(sys.argv[2])))
"""


def _send(dns: LiveCapture, payload: bytes, port: int = 53):
    dns.drain()
    child = subprocess.run([sys.executable, "-c", SEND, payload.hex(), str(port)], check=True)
    assert child.returncode == 0
    out = []
    deadline = time.monotonic() + 0.8
    while time.monotonic() < deadline:
        out += dns.sensor.read(0.05)
    return [e for e in out if e.type != "execve"]


def test_a_query_sent_by_python_to_127_0_0_1_53_carries_its_question(dns):
    events = _send(dns, query("vigil-probe.example.com", qtype=16))
    ev = only(events, lambda e: e.dns is not None and e.dns.qname == "vigil-probe.example.com")
    assert ev.type == "sendto" and ev.res > 0
    assert field("dns.qname", ev) == "vigil-probe.example.com"
    assert field("dns.qtype", ev) == "TXT" and field("dns.rawqtype", ev) == 16
    assert field("dns.server", ev) == "127.0.0.1" and field("dns.server_port", ev) == 53
    assert ev.fd.l4proto == "udp" and ev.fd.rport == 53


CONNECTED = r"""
import os, socket, sys
q = bytes.fromhex(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("127.0.0.1", 53))
# nothing answers on 127.0.0.1:53: a send after the first may fail with ECONNREFUSED (the
# port unreachable of the previous one); the call, and its payload, are seen all the same
for send in (lambda: s.send(q.replace(b"first", b"secnd")),          # sendto, no address
             lambda: os.write(s.fileno(), q.replace(b"first", b"third")),
             lambda: s.sendmsg([q.replace(b"first", b"forth")])):    # sendmsg, no address
    try:
        send()
    except ConnectionRefusedError:
        pass
"""


def test_a_connected_resolver_socket_is_seen_on_send_write_and_sendmsg(dns):
    dns.drain()
    subprocess.run([sys.executable, "-c", CONNECTED, query("first.vigil.test").hex()],
                   check=True)
    out = []
    deadline = time.monotonic() + 0.8
    while time.monotonic() < deadline:
        out += dns.sensor.read(0.05)
    names = {e.type: e.dns.qname for e in out if e.dns is not None
             and e.dns.qname.endswith(".vigil.test")}
    assert names == {"sendto": "secnd.vigil.test", "write": "third.vigil.test",
                     "sendmsg": "forth.vigil.test"}


SENDMMSG = r"""
import ctypes, socket, struct, sys
q = bytes.fromhex(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("127.0.0.1", 53))
buf = ctypes.create_string_buffer(q, len(q))
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
class msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint), ("iov", ctypes.c_void_p),
                ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p),
                ("controllen", ctypes.c_size_t), ("flags", ctypes.c_int)]
class mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", msghdr), ("len", ctypes.c_uint)]
iov = iovec(ctypes.cast(buf, ctypes.c_void_p), len(q))
msgs = (mmsghdr * 1)()
msgs[0].hdr.iov = ctypes.addressof(iov)
msgs[0].hdr.iovlen = 1
n = libc.sendmmsg(s.fileno(), msgs, 1, 0)
assert n == 1, ctypes.get_errno()
"""


def test_sendmmsg_as_the_c_library_resolver_sends(dns):
    dns.drain()
    subprocess.run([sys.executable, "-c", SENDMMSG, query("mmsg.vigil.test", 28).hex()],
                   check=True)
    out = []
    deadline = time.monotonic() + 0.8
    while time.monotonic() < deadline:
        out += dns.sensor.read(0.05)
    ev = only(out, lambda e: e.dns is not None and e.dns.qname == "mmsg.vigil.test")
    assert ev.type == "sendmmsg" and field("dns.qtype", ev) == "AAAA"
    assert field("dns.server", ev) == "127.0.0.1"


def test_dns_over_tcp_on_a_local_server(dns):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        srv.bind(("127.0.0.1", 53))
    except OSError as exc:
        srv.close()
        pytest.skip(f"port 53 of 127.0.0.1 is taken here ({exc}): no local TCP resolver")
    srv.listen(1)
    q = query("tcp.vigil.test")
    code = (f"import os, socket; s = socket.create_connection(('127.0.0.1', 53)); "
            f"os.write(s.fileno(), {(struct.pack('>H', len(q)) + q)!r})")
    dns.drain()
    try:
        subprocess.run([sys.executable, "-c", code], check=True)
        out = []
        deadline = time.monotonic() + 0.8
        while time.monotonic() < deadline:
            out += dns.sensor.read(0.05)
    finally:
        srv.close()
    ev = only(out, lambda e: e.dns is not None and e.dns.qname == "tcp.vigil.test")
    assert ev.type == "write" and ev.fd.l4proto == "tcp" and field("dns.server_port", ev) == 53


def test_traffic_to_other_ports_costs_no_event(dns):
    events = _send(dns, query("elsewhere.vigil.test"), port=5353)
    assert not [e for e in events if e.dns is not None and "vigil.test" in e.dns.qname]
    assert not [e for e in events if e.type == "sendto" and e.fd and e.fd.rport == 5353]


def test_non_dns_data_to_port_53_is_counted_not_reported(dns):
    before = dns.sensor.stats()["dns_malformed"]
    events = _send(dns, b"GET / HTTP/1.1\r\nHost: vigil\r\n\r\n")
    assert not [e for e in events if e.type == "sendto" and e.fd and e.fd.rport == 53]
    assert dns.sensor.stats()["dns_malformed"] >= before + 1


def test_a_cut_question_is_counted_and_an_oversized_query_keeps_its_question(dns):
    before = dns.sensor.stats()
    full = query("cut." + "a" * 60 + ".vigil.test")
    _send(dns, full[:30])               # the name stops in the middle
    events = _send(dns, query("big.vigil.test", pad=900))   # longer than the kernel copies
    after = dns.sensor.stats()
    assert after["dns_malformed"] >= before["dns_malformed"] + 1
    assert after["dns_cut"] >= before["dns_cut"] + 1
    ev = only(events, lambda e: e.dns is not None and e.dns.qname == "big.vigil.test")
    assert ev.res == len(query("big.vigil.test", pad=900))
