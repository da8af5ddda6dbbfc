"""Hostile recordings through `vigil replay` (issue 14 item 8): deep nesting, numbers out
of range, wrong types, huge and broken lines. A real subprocess with the whole pipeline
(rules, detectors, suppression, audit trail): no line crashes it, every refused line is
reported once as `file:line: what`, the lines after it and the summary are never lost."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from agent_process import crashed
from hostile import BAD, CUT, SENTINEL, SENTINEL_RULE, hostile_lines

from vigil.audit.query import RecordFilter, iter_records
from vigil.audit.verify import verify_trail

ROUNDS = 3


def test_hostile_recording_replays_without_loss(tmp_path: Path, fault_report) -> None:  # noqa: ANN001
    lines = hostile_lines()
    body = []
    expected_bad: dict[int, str] = {}
    expected_cut: set[int] = set()
    for _round in range(ROUNDS):
        for h in lines:
            body.append(h.line)
            if h.expect == BAD:
                expected_bad[len(body)] = h.says
            elif h.expect == CUT:
                expected_cut.add(len(body))
            body.append(SENTINEL)  # a real detection after every hostile line
    rec = tmp_path / "hostile.jsonl"
    rec.write_bytes(b"\n".join(body) + b"\n")
    cfg = tmp_path / "vigil.toml"
    cfg.write_text(f'state_dir = "{tmp_path / "state"}"\n[sensors]\nebpf = false\n')
    r = subprocess.run([sys.executable, "-m", "vigil", "replay", str(rec), "--config",
                        str(cfg), "--audit", "--detections", "--show-suppressed"],
                       capture_output=True, text=True, timeout=600)
    crashes = int(crashed(r.stderr)) + int(r.returncode != 0)
    assert r.returncode == 0 and not crashed(r.stderr), r.stderr[-3000:]
    reported = {}
    for m in re.finditer(rf"^{re.escape(str(rec))}:(\d+): (.*)$", r.stderr, re.M):
        reported.setdefault(int(m[1]), []).append(m[2])
    skipped = {n: msgs for n, msgs in reported.items()
               if any(s.startswith("skipped malformed event") for s in msgs)}
    assert set(skipped) == set(expected_bad), (sorted(skipped), sorted(expected_bad))
    for n, says in expected_bad.items():
        assert len(skipped[n]) == 1 and says in skipped[n][0], (n, says, skipped[n])
    cut = {n for n, msgs in reported.items() if any("ancestry cut at 256 parents" in s
                                                     for s in msgs)}
    assert cut == expected_cut
    failed = [(n, s) for n, msgs in reported.items() for s in msgs
              if "could not be processed" in s]
    assert not failed, failed
    good = len(body) - len(expected_bad)
    summary = [ln for ln in r.stdout.splitlines() if ln.startswith("---")]
    assert summary and summary[0].startswith(
        f"--- {good} events ({len(expected_bad)} malformed lines skipped)"), r.stdout[-2000:]
    sentinels = len(body) // 2
    shown = r.stdout.count(f"[{SENTINEL_RULE}]")
    lost = sentinels - shown
    assert shown == sentinels, r.stdout[-3000:]
    trail = tmp_path / "state" / "audit"
    assert verify_trail(trail).ok
    assert sum(1 for rec_ in iter_records(trail, RecordFilter())
               if rec_.key == f"falco:{SENTINEL_RULE}") == sentinels
    fault_report.record("hostile recording lines through vigil replay",
                        runs=ROUNDS * len(lines), crashes=crashes, lost=lost,
                        note=f"{len(expected_bad)} refused with file:line, "
                             f"{len(expected_cut)} ancestries cut")
