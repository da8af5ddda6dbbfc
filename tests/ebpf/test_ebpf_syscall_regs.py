"""Real kernel: events keep the syscall's argument registers, so auditd's a0..a3
(`audit.syscall_arg[N]`) are register N as the kernel saw it, and a Sigma auditd rule on a
register (`-F a2=16`: a sockaddr_in's length) fires on a real connect."""

from __future__ import annotations

import socket
import threading

import yaml
from ebpf_harness import live, only, requires_bpf  # noqa: F401  (fixture)

from vigil.events.fields import DEFAULT_FIELDS
from vigil.rules.sigma import SigmaEngine, load_sigma_paths

pytestmark = requires_bpf
ARG = DEFAULT_FIELDS.extractor

CODE = r"""
import os, socket, sys
os.kill(os.getpid(), 0)
fd = os.open("/etc/hostname", os.O_RDONLY | os.O_CLOEXEC)
for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.connect((host, int(sys.argv[1])))
    except OSError:
        pass
    s.close()
"""


def test_registers_are_kept_and_read_as_auditd_prints_them(live, tmp_path):
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    srv.bind(("::", 0))
    srv.listen(4)
    port = srv.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                srv.accept()[0].close()
            except OSError:
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        events = live.run(["python3", "-c", CODE, str(port)],
                          until=lambda e: e.type == "connect" and e.proc.pid == live.pid
                          and e.fd is not None and e.fd.type == "ipv6")
    finally:
        stop.set()
        t.join()
        srv.close()
    mine = [e for e in events if e.proc.pid == live.pid]
    kill = only(mine, lambda e: e.type == "kill")
    assert kill.regs is not None and len(kill.regs) == 6
    assert kill.regs[:2] == (live.pid, 0)
    assert ARG("audit.syscall_arg", "0")(kill) == format(live.pid, "x")
    assert ARG("audit.syscall_arg", "1")(kill) == "0"
    op = only(mine, lambda e: e.type == "openat" and e.fd.name == "/etc/hostname")
    # AT_FDCWD (-100) is passed as a 32-bit int: auditd prints a0=ffffff9c
    assert ARG("audit.syscall_arg", "0")(op) == "ffffff9c"
    assert int(ARG("audit.syscall_arg", "2")(op), 16) == op.args["flags"]
    assert ARG("audit.syscall_arg", "6")(op) is None
    c4 = only(mine, lambda e: e.type == "connect" and e.fd.type == "ipv4")
    c6 = only(mine, lambda e: e.type == "connect" and e.fd.type == "ipv6")
    assert ARG("audit.syscall_arg", "2")(c4) == "10"   # sizeof(struct sockaddr_in)
    assert ARG("audit.syscall_arg", "2")(c6) == "1c"   # sizeof(struct sockaddr_in6)

    rule = {"title": "IPv4 connect", "id": "5b0f3a52-5a1c-4c55-9d32-1f0b0d1c0a01",
            "logsource": {"product": "linux", "service": "auditd",
                          "definition": "-a always,exit -F arch=b64 -S connect -F a2=16 "
                                        "-F success=1 -k net4"},
            "detection": {"sel": {"type": "SYSCALL", "key": "net4"}, "condition": "sel"}}
    (tmp_path / "r.yml").write_text(yaml.safe_dump(rule))
    engine = SigmaEngine(load_sigma_paths([tmp_path]).rules)
    assert engine.on_event(c4) and not engine.on_event(c6) and not engine.on_event(kill)

