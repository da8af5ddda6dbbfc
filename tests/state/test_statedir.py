"""`vigil.statedir`: one writer per state_dir, private directories and files (issue 14
items 6 and 9). Real files, real flock, a real second process."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from vigil.agent import build_pipeline
from vigil.config import parse_config


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def config(tmp_path: Path, extra: str = ""):
    return parse_config(f'state_dir = "{tmp_path / "state"}"\n'
                        '[sensors]\nebpf = false\n' + extra)


def test_second_writer_of_a_state_dir_is_refused_with_one_line(tmp_path: Path) -> None:
    first = build_pipeline(config=config(tmp_path), detectors=True, alerts=False)
    assert not first.fatal, first.problems
    second = build_pipeline(config=config(tmp_path), detectors=True, alerts=False)
    assert second.fatal
    [problem] = second.problems
    assert "\n" not in problem
    assert f"state_dir {tmp_path / 'state'} is in use by another Vigil (pid {os.getpid()}" \
        in problem
    first.close()
    third = build_pipeline(config=config(tmp_path), detectors=True, alerts=False)
    assert not third.fatal, third.problems
    third.close()


def test_a_pipeline_that_writes_nothing_takes_no_lock(tmp_path: Path) -> None:
    first = build_pipeline(config=config(tmp_path), detectors=True, alerts=False)
    reader = build_pipeline(config=config(tmp_path), detectors=True, alerts=False,
                            audit=False)
    assert not reader.fatal, reader.problems
    reader.close()
    first.close()


def test_the_lock_goes_with_a_killed_holder(tmp_path: Path) -> None:
    """kill -9 leaves no stale lock: the kernel drops a flock with its last descriptor."""
    state = tmp_path / "state"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom vigil.statedir import StateDirLock\n"
         f"StateDirLock.acquire({str(state)!r}, 'test holder')\nprint('locked', flush=True)\n"
         "time.sleep(60)\n"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        refused = build_pipeline(config=config(tmp_path), alerts=False)
        assert refused.fatal and f"pid {holder.pid}: test holder" in refused.problems[0]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    built = build_pipeline(config=config(tmp_path), alerts=False)
    assert not built.fatal, built.problems
    built.close()


def test_state_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    """Audit trail, key and head, alert outbox and baseline are created 0600 in 0700
    directories, even under umask 022, and a 0755 state_dir left by an older version is
    narrowed."""
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    old = os.umask(0o022)
    try:
        cfg = config(tmp_path, f"""
[baseline]
enabled = true
[alerts.sinks.f]
type = "file"
path = "{tmp_path / 'alerts.jsonl'}"
[[alerts.routes]]
sink = "f"
""")
        built = build_pipeline(config=cfg, detectors=True, alerts="replay")
        assert not built.fatal, built.problems
        built.close()
    finally:
        os.umask(old)
    assert mode(state) == 0o700 and mode(state / "audit") == 0o700
    files = sorted(p for p in state.rglob("*") if p.is_file())
    names = {p.relative_to(state).as_posix() for p in files}
    assert {"audit/audit.jsonl", "audit/audit.head", "audit.key", "alerts_outbox.sqlite",
            "baseline.sqlite", "vigil.lock"} <= names, names
    assert {p.relative_to(state).as_posix(): mode(p) for p in files} == \
        {n: 0o600 for n in names}


def test_private_dir_leaves_other_owners_alone(tmp_path: Path) -> None:
    from vigil.statedir import private_dir
    if os.geteuid() != 0:
        pytest.skip("giving a directory to another user (chown) needs root")
    d = tmp_path / "theirs"
    d.mkdir()
    os.chmod(d, 0o755)
    os.chown(d, 65534, 65534)
    private_dir(d)
    assert mode(d) == 0o755  # not ours: reported by whoever fails to use it, not changed
