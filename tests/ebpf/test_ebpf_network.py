"""Real kernel: socket events (connect over IPv4 and IPv6, accept, sendto, dup2 onto stdout)."""

from __future__ import annotations

import socket

import pytest

from ebpf_harness import live, only, requires_bpf  # noqa: F401  (fixture)

from vigil.events.fields import DEFAULT_FIELDS

pytestmark = requires_bpf


def field(name: str, event, arg: str | None = None):
    return DEFAULT_FIELDS.extractor(name, arg)(event)


def _listener(family: int, host: str) -> socket.socket:
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, 0))
    s.listen(4)
    return s


CONNECT = r"""
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.connect((sys.argv[1], int(sys.argv[2])))
s.close()
"""


def _connect(live, host: str, port: int, check: bool = True):
    import sys
    events = live.run([sys.executable, "-c", CONNECT, host, str(port)], check=check,
                      until=lambda e: e.type == "connect" and e.fd is not None
                      and e.fd.rport == port)
    return events, only(events, lambda e: e.type == "connect" and e.fd.rport == port)


@pytest.mark.parametrize("family,host,typechar", [(socket.AF_INET, "127.0.0.1", "4"),
                                                  (socket.AF_INET6, "::1", "6")])
def test_connect_loopback(live, family, host, typechar):
    srv = _listener(family, host)
    port = srv.getsockname()[1]
    events, ev = _connect(live, host, port)
    assert ev.res == 0 and field("evt.res", ev) == "SUCCESS"
    assert ev.fd.type == ("ipv4" if family == socket.AF_INET else "ipv6")
    assert ev.fd.l4proto == "tcp"
    assert ev.fd.rip == host and ev.fd.lip == host
    assert ev.fd.lport and ev.fd.lport != port
    assert ev.fd.role == "client"
    assert field("fd.sip", ev) == host
    assert field("fd.sport", ev) == port
    assert field("fd.name", ev) == f"{host}:{ev.fd.lport}->{host}:{port}"
    assert field("fd.typechar", ev) == typechar
    sock = only(events, lambda e: e.type == "socket" and e.proc.pid == ev.proc.pid)
    assert sock.args["domain"] == family
    assert field("evt.arg", sock, "domain") == ("AF_INET" if family == socket.AF_INET
                                                else "AF_INET6")
    conn, _ = srv.accept()
    conn.close()
    srv.close()


def test_connect_refused_reports_errno_and_target(live):
    srv = _listener(socket.AF_INET, "127.0.0.1")
    port = srv.getsockname()[1]
    srv.close()  # nothing listens there any more
    _, ev = _connect(live, "127.0.0.1", port, check=False)
    assert field("evt.res", ev) == "ECONNREFUSED"
    assert ev.fd.rip == "127.0.0.1"


SERVER = r"""
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept(); c.close(); s.close()
"""


def test_bind_listen_accept_from_the_server_side(live):
    import subprocess
    import sys
    live.drain()
    p = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    port = int(p.stdout.readline())
    cli = socket.create_connection(("127.0.0.1", port))
    cport = cli.getsockname()[1]
    p.wait(5)
    cli.close()
    events = live.collect(lambda e: e.type in ("accept", "accept4") and e.proc.pid == p.pid)
    acc = only(events, lambda e: e.type in ("accept", "accept4") and e.proc.pid == p.pid)
    assert acc.res >= 0 and acc.fd.num == acc.res
    assert acc.fd.role == "server" and acc.fd.lport == port
    assert field("fd.sport", acc) == port and field("fd.cport", acc) == cport
    assert field("fd.is_server", acc) is True
    bind = only(events, lambda e: e.type == "bind" and e.proc.pid == p.pid)
    assert bind.fd.lip == "127.0.0.1" and bind.res == 0
    assert any(e.type == "listen" and e.proc.pid == p.pid for e in events)


DNS = r"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"\x00" * 12, ("127.0.0.1", 53))
"""


def test_udp_sendto_port_53(live):
    events = live.python(DNS, until=lambda e: e.type == "sendto" and e.proc.pid == live.pid)
    ev = only(events, lambda e: e.type == "sendto" and e.proc.pid == live.pid)
    assert ev.fd.rport == 53 and ev.fd.rip == "127.0.0.1"
    assert ev.fd.l4proto == "udp"
    assert field("fd.sport", ev) == 53
    assert ev.fd.name_changed is True and ev.fd.connected is False


DUP2 = r"""
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
os.dup2(s.fileno(), 1)
os.write(1, b"hello")
"""


def test_dup2_of_a_socket_onto_stdout(live):
    import sys
    srv = _listener(socket.AF_INET, "127.0.0.1")
    port = srv.getsockname()[1]
    events = live.run([sys.executable, "-c", DUP2, str(port)],
                      until=lambda e: e.type in ("dup2", "dup3") and e.res == 1
                      and e.proc.pid == live.pid and e.proc.args[:1] == ["-c"])
    # the last one: Popen's own dup2 of /dev/null onto stdout comes first, before exec
    ev = [e for e in events if e.type in ("dup2", "dup3") and e.res == 1
          and e.proc.pid == live.pid][-1]
    assert ev.proc.args[0] == "-c"
    assert field("evt.rawres", ev) == 1
    assert ev.fd.type == "ipv4" and ev.fd.num == 1
    assert ev.fd.rport == port and ev.fd.rip == "127.0.0.1"
    assert field("fd.type", ev) in ("ipv4", "ipv6")
    assert field("fd.types", ev, "1") == "ipv4"
    assert field("proc.stdout.type", ev) == "ipv4"
    srv.close()
