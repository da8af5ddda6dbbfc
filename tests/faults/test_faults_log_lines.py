"""Hostile auth-log lines (escape codes, invalid UTF-8, NULs, 1 MiB lines, garbage) read
by a real `vigil run`, and the events they become replayed by `vigil replay`: neither
crashes, and no well-formed attempt between them is lost."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from agent_process import AgentProcess, agent_config, crashed, ssh_failure
from hostile import hostile_auth_lines

from vigil.audit.query import RecordFilter, iter_records
from vigil.events.jsonl import encode_event
from vigil.sensors.authparse import parse_syslog_line

ROUNDS = 5
#: a real attempt after each hostile line: it shows reading went on
SENTINEL_IP = "203.0.113.9"


def _stamp() -> str:
    return f"{datetime.now(timezone.utc):%b %d %H:%M:%S}"


def _wait(cond, timeout: float = 60.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_hostile_log_lines_through_the_agent_and_replay(tmp_path: Path, fault_report) -> None:  # noqa: ANN001
    cfg = agent_config(tmp_path, extra="[detectors.ssh_bruteforce]\nmax_failures = 1000\n")
    log = tmp_path / "auth.log"
    lines: list[bytes] = []
    attempts = sentinels = 0
    for n in range(ROUNDS):
        for line, counts in hostile_auth_lines(_stamp(), n):
            lines.append(line)
            attempts += counts
            lines.append(ssh_failure(n * 100 + len(lines), ip=SENTINEL_IP).rstrip("\n").encode())
            sentinels += 1
    trail = tmp_path / "state" / "audit"

    def audited(ip: str) -> int:
        return sum(1 for r in iter_records(trail, RecordFilter()) if r.ip == ip)

    with AgentProcess(cfg, "--stats-interval", "0.5").start() as agent:
        with open(log, "ab") as fh:
            for line in lines:
                fh.write(line + b"\n")
        _wait(lambda: audited(SENTINEL_IP) >= sentinels)
        rc = agent.stop()
    crashes = int(crashed(agent.stderr)) + int(rc != 0)
    assert rc == 0 and not crashed(agent.stderr), agent.stderr[-3000:]
    live_lost = sentinels - audited(SENTINEL_IP)
    assert live_lost == 0, agent.stderr[-3000:]
    assert audited("198.51.100.7") == attempts, agent.stdout[-3000:]

    # the same lines as a recording: what the auth sensor makes of them, replayed
    events = [parse_syslog_line(line.decode("utf-8", "replace"), now=time.time())
              for line in lines]
    rec = tmp_path / "auth.jsonl"
    rec.write_bytes(b"".join(encode_event(e) for e in events if e is not None))
    r = subprocess.run([sys.executable, "-m", "vigil", "replay", str(rec), "--config",
                        str(cfg), "--detections"], capture_output=True, text=True, timeout=300)
    crashes += int(crashed(r.stderr)) + int(r.returncode != 0)
    assert r.returncode == 0 and not crashed(r.stderr), r.stderr[-3000:]
    replayed = r.stdout.count(f"from {SENTINEL_IP}") + r.stdout.count("from 198.51.100.7")
    replay_lost = sentinels + attempts - replayed
    assert replay_lost == 0, r.stdout[-3000:]
    assert "malformed lines skipped" in r.stdout and "0 malformed lines skipped" in r.stdout
    fault_report.record("hostile auth-log lines (vigil run, then vigil replay)",
                        runs=2 * ROUNDS * len(hostile_auth_lines("x", 0)), crashes=crashes,
                        lost=live_lost + replay_lost,
                        note="escape codes, invalid UTF-8, NUL, 1 MiB, garbage")
