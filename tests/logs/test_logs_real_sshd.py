"""A real OpenSSH server on 127.0.0.1: bad logins, then the sensor reads its log file.

sshd runs with `-E <file>` (no syslog daemon here), which writes bare messages, so the
sensor is told `bare_program="sshd"`. The client is the real `ssh`, fed a wrong password
through SSH_ASKPASS.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from vigil.sensors.authlog import AuthLogSensor

SSHD = "/usr/sbin/sshd"
pytestmark = pytest.mark.skipif(
    not (os.path.exists(SSHD) and shutil.which("ssh") and shutil.which("ssh-keygen")
         and os.geteuid() == 0),
    reason="needs openssh-server and openssh-client installed and root (sshd privilege separation)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("sshd did not start listening")


def _bad_login(tmp_path: Path, port: int, user: str) -> None:
    askpass = tmp_path / "askpass"
    askpass.write_text("#!/bin/sh\necho wrong-password\n")
    askpass.chmod(0o755)
    env = dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    r = subprocess.run(["ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
                        "-o", "UserKnownHostsFile=/dev/null", "-o", "PreferredAuthentications=password",
                        "-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=5",
                        "-p", str(port), f"{user}@127.0.0.1", "true"],
                       env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    assert r.returncode == 255, r.stderr


def test_sensor_parses_failures_of_a_real_sshd(tmp_path: Path) -> None:
    key = tmp_path / "hostkey"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    config = tmp_path / "sshd_config"
    config.write_text("UsePAM no\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n"
                      f"PermitRootLogin no\nLogLevel INFO\nPidFile {tmp_path}/sshd.pid\n")
    os.makedirs("/run/sshd", exist_ok=True)
    log = tmp_path / "sshd.log"
    log.touch()
    port = _free_port()
    sensor = AuthLogSensor([str(log)], tmp_path / "state.json", start_at_end=False,
                           bare_program="sshd")
    sensor.start()
    proc = subprocess.Popen([SSHD, "-D", "-E", str(log), "-p", str(port), "-o",
                             "ListenAddress=127.0.0.1", "-f", str(config), "-h", str(key)])
    try:
        _wait_listening(port, time.monotonic() + 10)
        _bad_login(tmp_path, port, "nosuchuser")
        _bad_login(tmp_path, port, "nobody")
        events = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            events += sensor.read(0)
            if sum(e.type == "auth.ssh_preauth_disconnect" for e in events) >= 2:
                break
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        sensor.stop()
    failed = [e for e in events if e.type == "auth.ssh_failed"]
    assert [(e.args["user"], e.args.get("invalid_user", False)) for e in failed] == \
        [("nosuchuser", True), ("nobody", False)], log.read_text()
    assert all(e.args["src_ip"] == "127.0.0.1" and e.args["method"] == "password" for e in failed)
    assert any(e.type == "auth.ssh_invalid_user" and e.args["user"] == "nosuchuser" for e in events)
    assert all(not e.raw.endswith("\r") for e in events)
