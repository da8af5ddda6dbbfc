"""Real kernel: which processes are servers, and which end of each socket is the server.

A server's accept is never an outbound connection, whatever socket call follows; the
listening sockets of a process are known after bind/listen, inherited by its children and
re-read by the kernel at every exec.
"""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from ebpf_harness import live, only, requires_bpf  # noqa: F401  (fixture)
from needs import needs_shared, shared_path

from vigil.events.fields import DEFAULT_FIELDS
from vigil.rules.sigma import SigmaEngine, load_sigma_paths

pytestmark = requires_bpf

CALLBACK = "rules/sigma/linux/network_connection/net_connection_lnx_susp_malware_callback_port.yml"
CALLBACK_RULE = shared_path(CALLBACK)


def field(name: str, event, arg: str | None = None):
    return DEFAULT_FIELDS.extractor(name, arg)(event)


SERVER = r"""
import os, socket, sys, time
family, host, port = socket.AF_INET6, "::", int(sys.argv[1])
srv = socket.socket(family)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port))
srv.listen(4)
print(srv.getsockname()[1], flush=True)
conn, peer = srv.accept()
conn.send(b"hello")               # a reply on the accepted socket (sendto)
conn.recv(16)
pid = os.fork()
if pid == 0:                      # a worker forked by the server
    os.close(os.open("/dev/null", os.O_RDONLY))
    os._exit(0)
os.waitpid(pid, 0)
os.set_inheritable(srv.fileno(), True)
if os.fork() == 0:                # an exec that keeps the listening socket (socket activation)
    os.execv("/bin/sh", ["sh", "-c", ": vigil-inherits-listener"])
os.wait()
os.set_inheritable(srv.fileno(), False)
os.execv("/bin/sh", ["sh", "-c", ": vigil-no-listener"])
"""


def _port_2222_free() -> bool:
    with socket.socket(socket.AF_INET6) as s:
        try:
            s.bind(("::", 2222))
            return True
        except OSError:
            return False


@needs_shared(CALLBACK)
def test_a_server_on_any_address_port_2222_is_never_an_outbound_connection(live):
    port = 2222 if _port_2222_free() else 0
    live.drain()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdout=subprocess.PIPE,
                              text=True)
    try:
        port = int(server.stdout.readline())
        with socket.create_connection(("::1", port)) as c:
            client_port = c.getsockname()[1]
            c.recv(16)
            c.sendall(b"x")
        server.wait(10)
        events = live.collect(lambda e: e.type == "execve" and e.proc.name == "sh"
                              and "vigil-no-listener" in " ".join(e.proc.args))
    finally:
        server.kill()
    mine = [e for e in events if e.proc.pid == server.pid]
    listen = only(mine, lambda e: e.type == "listen")
    assert listen.fd.role == "server" and listen.fd.lport == port and listen.fd.lip == "::"
    assert field("proc.is_server", listen) is True
    assert field("proc.listen_ports", listen) == [port]
    acc = only(mine, lambda e: e.type in ("accept", "accept4") and e.res >= 0)
    assert acc.fd.role == "server" and field("fd.is_server", acc) is True
    assert field("fd.initiated", acc) is False
    assert field("fd.sport", acc) == port and field("fd.cport", acc) == client_port
    assert field("fd.sip", acc) == "::1" and field("fd.cip", acc) == "::1"
    assert acc.fd.name == f"::1:{client_port}->::1:{port}"
    # later calls on the accepted socket keep its role (the socket inode remembers it)
    reply = only(mine, lambda e: e.type == "sendto" and e.fd is not None and e.fd.lport == port)
    assert reply.fd.role == "server" and field("fd.initiated", reply) is False
    recv = only(mine, lambda e: e.type == "recvfrom" and e.fd is not None and e.fd.lport == port)
    assert recv.fd.role == "server"
    # not one socket event of the server says it initiated a connection
    assert not [e for e in mine if field("fd.initiated", e) is True]
    # the worker it forked is a server too; the exec that kept the socket is one, the exec
    # that closed it (close-on-exec) is not
    worker = only(events, lambda e: e.type == "openat" and e.proc.ppid == server.pid
                  and e.fd.name == "/dev/null")
    assert field("proc.is_server", worker) is True
    kept = only(events, lambda e: e.type == "execve" and e.proc.name == "sh"
                and "vigil-inherits-listener" in " ".join(e.proc.args))
    assert field("proc.is_server", kept) is True and field("proc.listen_ports", kept) == [port]
    assert kept.proc.listening[0].proto == "tcp" and kept.proc.listening[0].ip == "::"
    gone = only(events, lambda e: e.type == "execve" and e.proc.name == "sh"
                and "vigil-no-listener" in " ".join(e.proc.args))
    assert field("proc.is_server", gone) is False
    # the Sigma rule that fired on sshd listening on :: port 2222 stays quiet
    if port == 2222:
        sigma = SigmaEngine(load_sigma_paths([CALLBACK_RULE]).rules)
        assert not [d for e in mine for d in sigma.on_event(e)]


UDP_SERVER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
data, peer = s.recvfrom(64)
s.sendto(b"pong", peer)
"""


def test_a_datagram_server_replying_is_the_server_and_its_client_the_client(live):
    live.drain()
    server = subprocess.Popen([sys.executable, "-c", UDP_SERVER], stdout=subprocess.PIPE,
                              text=True)
    try:
        port = int(server.stdout.readline())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
            c.settimeout(5)
            c.sendto(b"ping", ("127.0.0.1", port))
            _, _ = c.recvfrom(16)
            client_port = c.getsockname()[1]
        server.wait(10)
        events = live.collect(lambda e: e.type == "sendto" and e.proc.pid == server.pid)
    finally:
        server.kill()
    mine = [e for e in events if e.proc.pid == server.pid]
    bind = only(mine, lambda e: e.type == "bind")
    assert field("proc.is_server", bind) is True and bind.proc.listening[0].proto == "udp"
    reply = only(mine, lambda e: e.type == "sendto")
    assert reply.fd.role == "server" and field("fd.sport", reply) == port
    assert field("fd.cport", reply) == client_port and field("fd.initiated", reply) is False


def test_an_outbound_connection_is_a_client(live):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    events = live.python(f"import socket; socket.create_connection(('127.0.0.1', {port}))"
                         f".sendall(b'x')",
                         until=lambda e: e.type == "sendto" and e.proc.pid == live.pid)
    conn = only(events, lambda e: e.type == "connect" and e.proc.pid == live.pid)
    send = only(events, lambda e: e.type == "sendto" and e.proc.pid == live.pid)
    for e in (conn, send):
        assert e.fd.role == "client" and field("fd.initiated", e) is True
        assert field("fd.sport", e) == port
    assert field("proc.is_server", conn) is False
    srv.close()


@pytest.mark.parametrize("family", [socket.AF_INET])
def test_socket_and_socketpair_report_the_kernels_sockets(live, family):
    events = live.python("import socket; a, b = socket.socketpair(); s = socket.socket()",
                         until=lambda e: e.type == "socket" and e.proc.pid == live.pid
                         and e.args.get("domain") == 2)
    pair = only(events, lambda e: e.type == "socketpair" and e.proc.pid == live.pid)
    assert pair.res == 0 and pair.args["fd1"] >= 0 and pair.args["fd2"] >= 0
    assert pair.fd.type == "unix" and pair.fd.ino
    sock = only(events, lambda e: e.type == "socket" and e.proc.pid == live.pid
                and e.args.get("domain") == 2)
    assert sock.fd.type == "ipv4" and sock.fd.ino


def test_a_unix_socket_server_is_a_server_without_a_port(live, tmp_path):
    path = tmp_path / "app.sock"
    code = (f"import socket; s = socket.socket(socket.AF_UNIX); s.bind({str(path)!r}); "
            f"s.listen(1)")
    events = live.python(code, until=lambda e: e.type == "listen" and e.proc.pid == live.pid)
    ev = only(events, lambda e: e.type == "listen" and e.proc.pid == live.pid)
    assert field("proc.is_server", ev) is True and field("proc.listen_ports", ev) is None
    assert ev.proc.listening[0].proto == "unix"
