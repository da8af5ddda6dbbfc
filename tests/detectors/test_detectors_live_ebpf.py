"""Detectors fed by the real eBPF sensor: real child processes act, the kernel reports,
the detector decides. Needs root and BPF (skipped with the sensor's own reason otherwise).

Network actions use UDP `connect` to TEST-NET addresses: it succeeds through the default
route without sending a packet, so nothing leaves the machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

# the shared live-sensor harness lives beside the eBPF tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ebpf"))
from ebpf_harness import live, requires_bpf  # noqa: E402,F401  (fixture)

from vigil.detectors.data_exfil import DataExfilDetector, DataExfilParams  # noqa: E402
from vigil.detectors.dns_direct import DnsDirectDetector, DnsDirectParams  # noqa: E402
from vigil.detectors.fileless_exec import FilelessExecDetector  # noqa: E402
from vigil.detectors.process_identity import AgentIdentity  # noqa: E402
from vigil.detectors.ptrace import PtraceDetector  # noqa: E402
from vigil.detectors.reverse_shell import ReverseShellDetector  # noqa: E402
from vigil.detectors.sensitive_write import (SensitiveWriteDetector,  # noqa: E402
                                             SensitiveWriteParams)
from vigil.detectors.service_tamper import (ServiceTamperDetector,  # noqa: E402
                                            ServiceTamperParams)
from vigil.detectors.suid_binary import SuidBinaryDetector  # noqa: E402
from vigil.detectors.webshell import WebshellDetector, WebshellParams  # noqa: E402
from vigil.priority import Priority  # noqa: E402

pytestmark = requires_bpf


def feed(detector, events):
    out = []
    for e in events:
        if e.type in detector.event_types:
            out.extend(detector.on_event(e))
    return out


def test_live_suid_bit_on_a_tmp_file(live, tmp_path):
    target = tmp_path / "rootshell"
    target.write_bytes(b"#!/bin/sh\n")
    events = live.run(["chmod", "4755", str(target)],
                      until=lambda e: e.type in ("fchmodat", "chmod"))
    dets = feed(SuidBinaryDetector(), events)
    assert [(d.rule_id, d.priority) for d in dets] == [("suid_binary.suid", Priority.CRITICAL)]
    assert dets[0].entity.path == str(target) and dets[0].entity.process == "chmod"


def test_live_secret_read_then_outbound_connect(live, tmp_path):
    secret = tmp_path / "secrets" / "token"
    secret.parent.mkdir()
    secret.write_text("s3cr3t")
    code = (f"import socket; open({str(secret)!r}).read(); "
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            "s.connect(('198.51.100.7', 443)); s.close()")
    events = live.python(code, until=lambda e: e.type == "connect" and e.fd is not None
                         and e.fd.rport == 443)
    det = DataExfilDetector(DataExfilParams(extra_sensitive_paths=(str(secret.parent) + "/",)))
    dets = feed(det, events)
    assert [d.rule_id for d in dets] == ["data_exfil.read_then_connect"]
    assert dets[0].entity.ip == "198.51.100.7" and dets[0].entity.path == str(secret)
    assert dets[0].suppressed is None


def test_live_direct_dns_query(live):
    code = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            "s.connect(('198.51.100.53', 53)); s.close()")
    events = live.python(code, until=lambda e: e.type == "connect" and e.fd is not None
                         and e.fd.rport == 53)
    dets = feed(DnsDirectDetector(DnsDirectParams(system_resolvers=())), events)
    assert [d.entity.ip for d in dets] == ["198.51.100.53"]


def test_live_socket_duplicated_onto_stdio(live, tmp_path):
    """The code runs from a file, so only the dup2 calls can reveal it (inline `-c` code
    would already be a one-liner)."""
    import socket
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    script = tmp_path / "job.py"
    script.write_text("import os, socket\n"
                      f"s = socket.create_connection(('127.0.0.1', {port}))\n"
                      "os.dup2(s.fileno(), 0)\nos.dup2(s.fileno(), 1)\n"
                      "os.execv('/bin/true', ['true'])\n")
    try:
        events = live.run([sys.executable, str(script)], until=lambda e: e.type == "execve"
                          and (e.proc.exepath or "").endswith("true"))
    finally:
        srv.close()
    dets = feed(ReverseShellDetector(), events)
    assert [d.rule_id for d in dets] == ["reverse_shell.socket_stdio"]
    assert dets[0].data["remote"] == f"127.0.0.1:{port}" and dets[0].data["fds"] == [0, 1]


def test_live_exec_from_memfd(live):
    code = ("import os; fd = os.memfd_create('payload', 0); "
            "os.write(fd, open('/bin/true', 'rb').read()); "
            "os.execv(f'/proc/self/fd/{fd}', ['payload'])")
    events = live.python(code, until=lambda e: e.type == "execve" and e.proc.exe_from_memfd)
    dets = feed(FilelessExecDetector(), events)
    assert [d.rule_id for d in dets] == ["fileless_exec.memfd_exec"]
    assert dets[0].data["memfd"] == "payload"


def test_live_shell_spawned_by_a_web_runtime(live):
    """The runtime is the test's python, declared a web server; ancestry comes from the
    sensor's process table."""
    runtime = os.path.basename(os.path.realpath(sys.executable))
    code = "import subprocess; subprocess.run(['/bin/sh', '-c', 'id; uname -a'], check=True)"
    events = live.python(code, until=lambda e: e.type == "execve"
                         and (e.proc.exepath or "").endswith("uname"))
    det = WebshellDetector(WebshellParams(extra_web_servers=(runtime,)))
    dets = feed(det, events)
    assert [d.rule_id for d in dets] == ["webshell.recon"]
    assert dets[0].data["recon"] == ["id", "uname"]


def test_live_signal_to_the_agent(live):
    """A stand-in agent (a sleeping child) is sent SIGTERM by `kill`."""
    agent = subprocess.Popen(["sleep", "30"])
    try:
        events = live.run(["kill", "-TERM", str(agent.pid)],
                          until=lambda e: e.type == "kill" and e.args.get("pid") == agent.pid)
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait()
    dets = feed(ServiceTamperDetector(own=AgentIdentity(pid=agent.pid)), events)
    assert [d.rule_id for d in dets] == ["service_tamper.agent_kill"]
    assert dets[0].suppressed is None and dets[0].data["signal"] == 15


def test_live_write_and_rename_onto_a_watched_file(live, tmp_path):
    """`sed -i` style: write a temp file, rename it onto the watched one."""
    watched = tmp_path / "sudoers"
    watched.write_text("root ALL=(ALL) ALL\n")
    code = (f"import os; open({str(tmp_path / 'sudoers.new')!r}, 'w').write('x ALL=(ALL) ALL'); "
            f"os.rename({str(tmp_path / 'sudoers.new')!r}, {str(watched)!r})")
    events = live.python(code, until=lambda e: e.type.startswith("rename"))
    det = SensitiveWriteDetector(SensitiveWriteParams(extra_paths=(str(watched),)))
    dets = feed(det, events)
    assert [(d.rule_id, d.data["operation"]) for d in dets] == [
        ("sensitive_write.configured_path", "rename onto")]
    assert dets[0].entity.path == str(watched)


def test_live_log_truncated_by_a_shell(live, tmp_path):
    log = tmp_path / "auth.log"
    log.write_text("Nov 26 sshd[1]: Failed password for root\n")
    events = live.run(["sh", "-c", f": > {log}"],
                      until=lambda e: e.type in ("openat", "open") and e.fd is not None
                      and e.fd.name == str(log))
    det = ServiceTamperDetector(ServiceTamperParams(extra_log_paths=(str(log),)))
    dets = feed(det, events)
    assert [d.rule_id for d in dets] == ["service_tamper.log_clear"]
    assert log.read_text() == ""


def test_live_ptrace_attach_to_another_process(live):
    target = subprocess.Popen(["sleep", "30"])
    code = ("import ctypes, os, sys; libc = ctypes.CDLL(None, use_errno=True); "
            f"assert libc.ptrace(16, {target.pid}, 0, 0) == 0, ctypes.get_errno(); "
            f"libc.ptrace(17, {target.pid}, 0, 0)")
    try:
        events = live.python(code, until=lambda e: e.type == "ptrace"
                             and e.args.get("request") == 17)
    finally:
        target.kill()
        target.wait()
    dets = feed(PtraceDetector(), events)
    assert [(d.rule_id, d.data["target_pid"]) for d in dets] == [("ptrace.attach", target.pid)]
    assert dets[0].suppressed is None


def test_live_port_scan_of_local_ports_and_a_health_check_look_alike(live):
    from vigil.detectors.network_scan import NetworkScanDetector

    # a connect sweep over 300 closed local ports (refused), then, separately, a health
    # check that reaches its one listening port a few times
    scan = ("import socket\n"
            "for port in range(40000, 40300):\n"
            "    s = socket.socket(); s.settimeout(0.5)\n"
            "    try: s.connect(('127.0.0.1', port))\n"
            "    except OSError: pass\n"
            "    s.close()\n")
    events = live.python(scan, until=lambda e: e.type == "connect" and e.fd is not None
                         and e.fd.rport == 40299, timeout=15)
    dets = feed(NetworkScanDetector(), events)
    assert [d.rule_id for d in dets] == ["network_scan.vertical"]
    assert "ports of 127.0.0.1 probed" in dets[0].output
    check = ("import socket, time\n"
             "srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(8)\n"
             "port = srv.getsockname()[1]\n"
             "for _ in range(30):\n"
             "    c = socket.create_connection(('127.0.0.1', port)); c.close()\n"
             "    srv.accept()[0].close()\n"
             "print('done', flush=True)\n")
    seen = []

    def thirty_connects(e) -> bool:
        if e.type == "connect" and e.proc.pid == live.pid:
            seen.append(e)
        return len(seen) >= 30

    events = live.python(check, until=thirty_connects)
    assert len(seen) == 30 and all(e.res == 0 for e in seen)
    assert feed(NetworkScanDetector(), events) == []
