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
from collections import Counter
from pathlib import Path

import pytest

from vigil.detectors.ssh_bruteforce import SshBruteforceDetector, SshBruteforceParams
from vigil.sensors.authlog import AuthLogSensor
from vigil.sensors.authparse import parse_message

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


def _ssh(tmp_path: Path, port: int, user: str, *options: str,
         tries: int = 1) -> subprocess.CompletedProcess:
    askpass = tmp_path / "askpass"
    askpass.write_text("#!/bin/sh\necho wrong-password\n")
    askpass.chmod(0o755)
    env = dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    return subprocess.run(["ssh", "-F", "/dev/null", "-T", "-o", "StrictHostKeyChecking=no",
                           "-o", "UserKnownHostsFile=/dev/null", "-o",
                           f"NumberOfPasswordPrompts={tries}", "-o", "ConnectTimeout=5",
                           *options, "-p", str(port), f"{user}@127.0.0.1", "true"],
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)


def _bad_login(tmp_path: Path, port: int, user: str) -> None:
    r = _ssh(tmp_path, port, user, "-o", "PreferredAuthentications=password")
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


#: lines of this OpenSSH that are no event (noise, or said again by a line that is)
_NOT_EVENTS = ("Server listening on ", "Could not get shadow information for ", "Accepted key ",
               "Postponed publickey for ", "Starting session: ", "Protocol major versions differ: ",
               "Bad packet length ", "padding error: ", "Received signal 15")


def _raw(port: int, data: bytes, wait: float) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(data)
        time.sleep(wait)


def test_this_openssh_wording_parses_line_by_line(tmp_path: Path) -> None:
    """Every kind of failure this machine's sshd can be made to log (bad users and
    passwords, MaxAuthTries, AllowUsers, a user name carrying a fake address, refused
    keys, key-exchange mismatches, HTTP and SSH-1 banners, garbage after the banner) and a
    key login: each line parses to the kind we expect, or is a known non-event."""
    host_key, client_key = tmp_path / "hostkey", tmp_path / "clientkey"
    for key in (host_key, client_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    keys = tmp_path / "authorized_keys"
    keys.write_text(Path(f"{client_key}.pub").read_text())
    config = tmp_path / "sshd_config"
    config.write_text("UsePAM no\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n"
                      "PermitRootLogin prohibit-password\nLogLevel VERBOSE\nMaxAuthTries 3\n"
                      f"AllowUsers root\nAuthorizedKeysFile {keys}\nStrictModes no\n"
                      f"PidFile {tmp_path}/sshd.pid\n")
    os.makedirs("/run/sshd", exist_ok=True)
    log = tmp_path / "sshd.log"
    log.touch()
    port = _free_port()
    proc = subprocess.Popen([SSHD, "-D", "-E", str(log), "-p", str(port), "-o",
                             "ListenAddress=127.0.0.1", "-f", str(config), "-h", str(host_key)])
    try:
        _wait_listening(port, time.monotonic() + 10)
        pw = ("-o", "PreferredAuthentications=password")
        _ssh(tmp_path, port, "nosuchuser", *pw, tries=3)
        _ssh(tmp_path, port, "nobody", *pw)
        _ssh(tmp_path, port, "root", *pw)
        ok = _ssh(tmp_path, port, "root", "-o", "PreferredAuthentications=publickey", "-i",
                  str(client_key))
        assert ok.returncode == 0, ok.stderr
        _ssh(tmp_path, port, "root", "-o", "KexAlgorithms=diffie-hellman-group1-sha1")
        _ssh(tmp_path, port, "root", "-o", "Ciphers=aes128-cbc")
        _ssh(tmp_path, port, "root", "-o", "HostKeyAlgorithms=ssh-rsa")
        _raw(port, b"GET / HTTP/1.1\r\n\r\n", 0.3)
        _raw(port, b"SSH-1.5-Old\r\n", 0.3)
        _raw(port, b"SSH-2.0-Bad\r\n" + bytes(range(256)) * 2, 0.5)
        _ssh(tmp_path, port, "a b from 6.6.6.6 port 1", *pw)
        _ssh(tmp_path, port, "root", "-o", "PreferredAuthentications=publickey", "-i",
             str(host_key))
        time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    lines = [l for l in log.read_text().splitlines() if l]
    kinds: Counter[str] = Counter()
    events = []
    for line in lines:
        ev = parse_message("sshd", None, line, ts=time.time_ns())
        if ev is None:
            assert line.startswith(_NOT_EVENTS), f"unparsed: {line!r}"
            continue
        assert not line.startswith(_NOT_EVENTS), f"parsed a non-event: {line!r}"
        kinds[ev.type.removeprefix("auth.")] += 1
        events.append(ev)
        assert ev.args.get("src_ip") in (None, "127.0.0.1"), line
    text = log.read_text()
    assert kinds == Counter({
        "ssh_connection": 13, "ssh_protocol_error": 5, "ssh_connection_closed": 1,
        "ssh_invalid_user": 2, "ssh_failed": 7, "ssh_too_many_failures": 2,
        "ssh_user_not_allowed": 1, "ssh_preauth_disconnect": 4, "ssh_accepted": 1,
        "ssh_received_disconnect": 1, "ssh_disconnect": 1, "ssh_bad_kex": 3}), text
    fake = [e for e in events if "6.6.6.6" in (e.args.get("user") or "")]
    assert len(fake) == 3 and all(e.args["src_ip"] == "127.0.0.1" for e in fake)
    assert {e.args["user"] for e in fake} == {"a b from 6.6.6.6 port 1"}
    # counted as guesses: 3 for nosuchuser, 1 each for nobody, root, the fake-address user
    # and the refused key (its preauth close); probes only in aggressive mode
    # (the key login after them, from the same address, is the login after a burst)
    for det, attempts in ((SshBruteforceDetector(), 7),
                          (SshBruteforceDetector(SshBruteforceParams(mode="aggressive")), 7 + 6)):
        rules = Counter(d.rule_id.split(".")[1] for e in events for d in det.on_event(e))
        assert rules["success_after_burst"] == 1
        assert sum(rules.values()) - 1 == attempts, rules
