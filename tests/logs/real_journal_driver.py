"""Run inside a private mount namespace (`unshare -m --propagation private`) by
test_logs_real_journald.py: a host with no auth log but a working journal.

In the namespace: tmpfs over /run and /var/log (no auth.log, no journal but the one we
start), /dev overlaid so that /dev/log can point at journald's syslog socket. Then, all
real: systemd-journald, `vigil run` with an empty (default) configuration, an OpenSSH
server logging through syslog, and the OpenSSH client failing to log in. Nothing outside
the namespace sees these mounts; they vanish with it.

Usage: real_journal_driver.py WORKDIR; prints one JSON object on stdout (what vigil saw).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

JOURNALD = next((p for p in ("/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald")
                 if os.path.exists(p)), None)
ATTEMPTS = 6


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def private_host(work: Path) -> None:
    sh("mount", "-t", "tmpfs", "tmpfs", "/run")
    sh("mount", "-t", "tmpfs", "tmpfs", "/var/log")
    for d in ("/run/systemd/journal", "/run/sshd"):
        os.makedirs(d, exist_ok=True)
    old, upper, wd = work / "olddev", work / "devup", work / "devwork"
    for d in (old, upper, wd):
        d.mkdir()
    sh("mount", "--rbind", "/dev", str(old))
    sh("mount", "-t", "overlay", "overlay", "-o",
       f"lowerdir={old},upperdir={upper},workdir={wd}", "/dev")
    for sub in ("pts", "shm"):
        if (old / sub).is_dir():
            sh("mount", "--rbind", str(old / sub), f"/dev/{sub}")
    os.symlink("/run/systemd/journal/dev-log", "/dev/log")


def wait_for(what: str, check, deadline: float) -> None:
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bad_login(work: Path, port: int, user: str) -> None:
    askpass = work / "askpass"
    askpass.write_text("#!/bin/sh\necho wrong-password\n")
    askpass.chmod(0o755)
    env = dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    subprocess.run(["ssh", "-F", "/dev/null", "-T", "-o", "StrictHostKeyChecking=no",
                    "-o", "UserKnownHostsFile=/dev/null", "-o", "PreferredAuthentications=password",
                    "-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=5",
                    "-p", str(port), f"{user}@127.0.0.1", "true"],
                   env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)


def main() -> None:
    work = Path(sys.argv[1])
    private_host(work)
    procs: list[subprocess.Popen] = []
    vigil = None
    result: dict = {}
    try:
        journald = subprocess.Popen([JOURNALD], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(journald)
        wait_for("journald's sockets", lambda: os.path.exists("/run/systemd/journal/dev-log")
                 and any(Path("/run/log/journal").rglob("*.journal")), time.monotonic() + 20)
        config = work / "vigil.toml"
        config.write_text("")  # the default configuration
        err, out = work / "vigil.err", work / "vigil.out"
        vigil = subprocess.Popen([sys.executable, "-m", "vigil", "run", "--json", "--detections",
                                  "-c", str(config),
                                  "--state-dir", str(work / "state"), "--stats-interval", "3600"],
                                 stdout=open(out, "wb"), stderr=open(err, "wb"))
        procs.append(vigil)
        wait_for("vigil to watch", lambda: "vigil: watching" in err.read_text(errors="replace")
                 or vigil.poll() is not None, time.monotonic() + 90)
        key = work / "hostkey"
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
        sshd_config = work / "sshd_config"
        sshd_config.write_text("PasswordAuthentication yes\nKbdInteractiveAuthentication no\n"
                               "UsePAM yes\nPermitRootLogin no\nLogLevel INFO\n"
                               f"PidFile {work}/sshd.pid\n")
        port = free_port()
        sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-p", str(port), "-o",
                                 "ListenAddress=127.0.0.1", "-f", str(sshd_config), "-h", str(key)])
        procs.append(sshd)

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return False
        wait_for("sshd", listening, time.monotonic() + 20)
        for i in range(ATTEMPTS):
            bad_login(work, port, "nosuchuser" if i % 2 else "root")

        def brute_force_seen() -> bool:
            return '"ssh_bruteforce.per_ip"' in out.read_text(errors="replace")
        try:
            wait_for("the brute-force detection", brute_force_seen, time.monotonic() + 30)
        except SystemExit:
            pass
        journal = subprocess.run(["journalctl", "-q", "--no-pager", "-o", "cat",
                                  "SYSLOG_IDENTIFIER=sshd"], capture_output=True, text=True)
        result["journal_sshd_lines"] = journal.stdout.splitlines()
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGINT if p is vigil else signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
    result["vigil_stderr"] = (work / "vigil.err").read_text(errors="replace")
    result["detections"] = [json.loads(line) for line in
                            (work / "vigil.out").read_text(errors="replace").splitlines()
                            if line.startswith("{")]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
