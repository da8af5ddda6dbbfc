"""Faults around the state directory (issue 14 items 6 and 9), with real `vigil run`
processes: a second agent on the same state_dir, and what a running agent leaves on disk.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from agent_process import AgentProcess, agent_config, crashed, ssh_failure

from vigil.audit.query import RecordFilter, iter_records
from vigil.audit.verify import verify_trail

SECOND_AGENTS = 5


def _incidents(state: Path) -> list:
    return list(iter_records(state / "audit", RecordFilter()))


def _wait(cond, timeout: float = 30.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_two_agents_on_one_state_dir(tmp_path: Path, fault_report) -> None:  # noqa: ANN001
    """The second agent (and a `replay --audit` on the same config) stops at once with one
    line naming the first; the first goes on alone: every log line is one audit record,
    the chain verifies."""
    cfg = agent_config(tmp_path)
    state = tmp_path / "state"
    log = tmp_path / "auth.log"
    crashes = lost = 0
    with AgentProcess(cfg).start() as first:
        assert first.alive(), first.stderr
        pid = first.proc.pid
        written = 0
        for run in range(SECOND_AGENTS):
            with open(log, "a") as fh:
                fh.write(ssh_failure(written))
            written += 1
            second = AgentProcess(cfg).start(wait=False)
            rc = second.wait(60)
            crashes += crashed(second.stderr)
            lines = [ln for ln in second.stderr.splitlines() if ln.strip()]
            assert rc == 2, second.stderr
            # one line, in the log's one format: time, level, component, message
            assert len(lines) == 1, lines
            assert lines[0].endswith(
                f" ERROR vigil.run: state_dir {state} is in use by another Vigil "
                f"(pid {pid}: vigil run --config {cfg} --stats-interval 3600); stop "
                "it first, or give this one its own state_dir"), lines
        rec = tmp_path / "rec.jsonl"
        rec.write_text('{"type":"execve"}\n')
        replay = subprocess.run([sys.executable, "-m", "vigil", "replay", str(rec),
                                 "--config", str(cfg), "--audit"],
                                capture_output=True, text=True, timeout=120)
        crashes += crashed(replay.stderr)
        assert replay.returncode == 1 and "is in use by another Vigil" in replay.stderr
        assert _wait(lambda: len(_incidents(state)) >= written), first.stderr
        assert first.alive()
        rc = first.stop()
    crashes += crashed(first.stderr) + (rc != 0)
    records = _incidents(state)
    lost = written - len(records)
    assert len(records) == written, [r.output for r in records]
    assert verify_trail(state / "audit").ok
    fault_report.record("two agents on one state_dir (second agent, replay --audit)",
                        runs=SECOND_AGENTS + 1, crashes=crashes, lost=lost, duplicates=0)
    assert crashes == 0


def test_a_running_agent_keeps_its_state_private(tmp_path: Path) -> None:
    """Under umask 022, `vigil run` creates state_dir 0700 and every file in it 0600: the
    audit trail (and its key and head), the outbox, the auth-log offsets, the baseline."""
    alerts = tmp_path / "alerts.jsonl"
    cfg = agent_config(tmp_path, extra=f"""
[baseline]
enabled = true
[alerts.sinks.file]
type = "file"
path = "{alerts}"
[[alerts.routes]]
sink = "file"
""")
    state = tmp_path / "state"
    with AgentProcess(cfg, umask=0o022).start() as agent:
        with open(tmp_path / "auth.log", "a") as fh:
            fh.write(ssh_failure(1))
        assert _wait(lambda: (state / "authlog.offsets").exists() and alerts.exists()), \
            agent.stderr
        assert agent.stop(signal.SIGTERM) == 0, agent.stderr
    files = {p.relative_to(state).as_posix(): stat.S_IMODE(p.stat().st_mode)
             for p in state.rglob("*") if p.is_file()}
    assert {"audit/audit.jsonl", "audit/audit.head", "audit.key", "alerts_outbox.sqlite",
            "authlog.offsets", "baseline.sqlite"} <= set(files), files
    assert files == {name: 0o600 for name in files}
    dirs = [state] + [p for p in state.rglob("*") if p.is_dir()]
    assert {stat.S_IMODE(d.stat().st_mode) for d in dirs} == {0o700}
    assert stat.S_IMODE(alerts.stat().st_mode) == 0o600  # alert texts hold command lines
    assert os.stat(tmp_path / "auth.log")  # the followed log itself is not ours to change
