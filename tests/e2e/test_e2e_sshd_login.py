"""End to end on the real kernel: a key login to a local OpenSSH server (a command, then
`scp` over SFTP and over the legacy protocol) under `vigil run` with the default rules and
detectors produces no detection that is not suppressed.

sshd listens on `::` and `0.0.0.0` port 2222 (the case where a Sigma rule once took the
server for an outbound connection; that rule is loaded too). It runs with `-E <file>` as in
tests/logs/test_logs_real_sshd.py (no syslog daemon here), as a daemon (not a child of
this test, whose process tree the agent would not count as foreign), with its own host
key, a generated client key and `AuthorizedKeysFile` in a temporary directory.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from needs import requires_bpf, requires_shared, shared_path

SSHD = "/usr/sbin/sshd"
CALLBACK = "rules/sigma/linux/network_connection/net_connection_lnx_susp_malware_callback_port.yml"
CALLBACK_RULE = shared_path(CALLBACK)
TOOLS = os.path.exists(SSHD) and all(shutil.which(t) for t in ("ssh", "scp", "ssh-keygen"))

pytestmark = [
    *requires_bpf, *requires_shared(CALLBACK),
    pytest.mark.skipif(not TOOLS, reason="needs openssh-server and openssh-client (make test "
                                         "installs them)"),
]


def _port() -> int:
    for port in (2222, 0):
        with socket.socket(socket.AF_INET6) as s6, socket.socket() as s4:
            try:
                s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s6.bind(("::", port))
                s4.bind(("0.0.0.0", s6.getsockname()[1]))
                return s6.getsockname()[1]
            except OSError:
                continue
    raise AssertionError("no free port")


def _wait_listening(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("::1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("sshd did not start listening")


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[tuple[int, Path, int]]:
    """A daemonized sshd on :: and 0.0.0.0: (port, client key, daemon pid)."""
    host_key, user_key = tmp_path / "host_key", tmp_path / "user_key"
    for key in (host_key, user_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True)
    auth = tmp_path / "authorized_keys"
    auth.write_text((tmp_path / "user_key.pub").read_text())
    auth.chmod(0o600)
    port = _port()
    pidfile = tmp_path / "sshd.pid"
    config = tmp_path / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress ::\nListenAddress 0.0.0.0\nUsePAM no\n"
        f"PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        f"PubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
        f"AuthorizedKeysFile {auth}\nStrictModes no\nLogLevel INFO\nPidFile {pidfile}\n"
        f"Subsystem sftp internal-sftp\n")
    os.makedirs("/run/sshd", exist_ok=True)
    log = tmp_path / "sshd.log"
    # without -D sshd daemonizes: its parent is gone, it is nobody's child here
    subprocess.run([SSHD, "-E", str(log), "-f", str(config), "-h", str(host_key)], check=True)
    try:
        _wait_listening(port, time.monotonic() + 10)
        pid = int(pidfile.read_text())
        yield port, user_key, pid
    finally:
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGTERM)
            except ProcessLookupError:
                pass


def _start_agent(tmp: Path, config: Path) -> subprocess.Popen:
    err = tmp / "run.err"
    proc = subprocess.Popen([sys.executable, "-m", "vigil", "run", "--json", "--detections",
                             "-c", str(config), "--stats-interval", "3600"],
                            stdout=open(tmp / "run.out", "wb"), stderr=open(err, "wb"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "vigil: watching" in err.read_text(errors="replace"):
            return proc
        if proc.poll() is not None:
            pytest.fail(f"vigil run exited early: {err.read_text()}")
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"vigil run did not start: {err.read_text()}")


def _chain(proc: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
    while proc:
        yield proc
        proc = proc.get("parent")


def _ours(det: dict[str, Any], sshd_pid: int, clients: set[int]) -> bool:
    """The detection is about the sshd daemon's process tree or one of our ssh clients."""
    for ev in det.get("evidence", []):
        for p in _chain(ev.get("proc")):
            if p.get("pid") == sshd_pid or p.get("pid") in clients:
                return True
    return False


def test_a_key_login_command_and_scp_raise_nothing(sshd, tmp_path: Path) -> None:
    port, key, sshd_pid = sshd
    state = tmp_path / "state"
    config = tmp_path / "vigil.toml"
    config.write_text(f'state_dir = "{state}"\n[rules]\nfalco = ["builtin"]\n'
                      f'sigma = ["{CALLBACK_RULE}"]\n[sensors.authlog]\nenabled = false\n')
    agent = _start_agent(tmp_path, config)
    opts = ["-i", str(key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]
    payload = tmp_path / "payload.txt"
    payload.write_text("vigil scp payload\n")
    clients: set[int] = set()

    def client(argv: list[str]) -> str:
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL)
        clients.add(p.pid)
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        return out

    try:
        out = client(["ssh", *opts, "-p", str(port), "root@::1",
                      "echo vigil-ssh-ok; ls / | head -3; cat /etc/hostname | wc -c"])
        assert "vigil-ssh-ok" in out
        client(["scp", *opts, "-P", str(port), str(payload), f"root@127.0.0.1:{tmp_path}/sftp"])
        client(["scp", "-O", *opts, "-P", str(port), str(payload),
                f"root@[::1]:{tmp_path}/legacy"])
        assert (tmp_path / "sftp").read_text() == (tmp_path / "legacy").read_text() == \
            payload.read_text()
        time.sleep(2.0)  # the agent polls every 100 ms; let the last batch through
    finally:
        agent.send_signal(signal.SIGINT)
        try:
            agent.wait(30)
        except subprocess.TimeoutExpired:
            agent.kill()
    err = (tmp_path / "run.err").read_text(errors="replace")
    assert "final stats:" in err, err
    trail = [json.loads(line) for f in sorted((state / "audit").glob("*.jsonl"))
             for line in f.read_text().splitlines() if line.strip()]
    dets = [r for r in trail if r.get("type") in ("detection", "suppressed")]
    ours = [r for r in dets if _ours(r.get("detection") or {}, sshd_pid, clients)]
    loud = [r for r in ours if r["type"] == "detection"]
    assert not loud, "\n".join(f"{r.get('key')}: {r.get('output')}" for r in loud)
    # the agent did see the session: the sshd tree's suppressed detections (if any) are in
    # the trail, and the kernel reported the login's processes
    printed = [json.loads(line) for line in (tmp_path / "run.out").read_text().splitlines()
               if line.startswith("{")]
    assert not [d for d in printed if "vigil-ssh-ok" in d.get("output", "")
                or str(tmp_path) in d.get("output", "")], printed
