"""Audit retention (issue 15, item 6): the oldest rotated files are pruned by age or total
size, a signed checkpoint keeps `vigil audit verify` green for the rest, and tampering is
still caught: the oldest file deleted by hand, a forged checkpoint, a rewritten record."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from vigil.audit.layout import trail_files
from vigil.audit.retention import checkpoint_path, read_checkpoint
from vigil.audit.seal import default_key_path, read_key
from vigil.audit.trail import AuditTrail
from vigil.audit.verify import verify_trail
from vigil.detections import Detection, Entity
from vigil.priority import Priority

DAY = 86400.0
T0 = 1_796_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def det(i: int) -> Detection:
    return Detection(kind="detector", name="sensitive_write", priority=Priority.WARNING,
                     output=f"write {i} " + "x" * 200, ts=int(T0 * 1e9) + i,
                     entity=Entity(path=f"/etc/cron.d/{i}"))


def fill(tmp: Path, days: int, per_day: int = 20, **kw) -> tuple[AuditTrail, Clock]:
    """A trail rotated daily over `days` days."""
    clock = Clock()
    trail = AuditTrail(tmp / "audit", clock=clock, rotate_daily=True, **kw)
    n = 0
    for d in range(days):
        clock.now = T0 + d * DAY
        for _ in range(per_day):
            trail.record_detection(det(n), "inc")
            n += 1
    return trail, clock


def test_pruning_by_age_keeps_the_rest_provable(tmp_path: Path) -> None:
    trail, clock = fill(tmp_path, days=10)
    trail.close()
    assert len(trail_files(tmp_path / "audit")) == 10
    trail = AuditTrail(tmp_path / "audit", clock=clock, keep_days=3)
    trail.record_detection(det(999), "inc")
    trail.close()
    files = trail_files(tmp_path / "audit")
    # rotated files whose last record is more than 3 days old are gone; the chain is
    # proven from the checkpoint on
    assert 3 <= len(files) <= 5
    cp = read_checkpoint(tmp_path / "audit", read_key(default_key_path(tmp_path / "audit")))
    assert cp is not None and cp.files == 10 - len(files)
    r = verify_trail(tmp_path / "audit")
    assert r.ok, r.message()
    # file order is chain order: seq grows from file to file
    firsts = [json.loads(f.read_text().splitlines()[0])["seq"] for f in files]
    assert firsts == sorted(firsts) and firsts[0] == cp.seq + 1


def test_pruning_by_total_size(tmp_path: Path) -> None:
    trail, clock = fill(tmp_path, days=8)
    trail.close()
    total = sum(f.stat().st_size for f in trail_files(tmp_path / "audit"))
    trail = AuditTrail(tmp_path / "audit", clock=clock, keep_days=0,
                       max_total_bytes=total // 2)
    trail.close()
    left = sum(f.stat().st_size for f in trail_files(tmp_path / "audit"))
    assert left <= total // 2 and verify_trail(tmp_path / "audit").ok


def test_tampering_is_still_caught_after_pruning(tmp_path: Path) -> None:
    trail, clock = fill(tmp_path, days=6)
    trail.close()
    AuditTrail(tmp_path / "audit", clock=clock, keep_days=2).close()
    assert verify_trail(tmp_path / "audit").ok
    files = trail_files(tmp_path / "audit")
    # 1. the oldest kept file deleted by hand: no checkpoint covers it
    saved = files[0].read_bytes()
    files[0].unlink()
    r = verify_trail(tmp_path / "audit")
    assert not r.ok and "records in between were removed" in r.problem
    files[0].write_bytes(saved)
    assert verify_trail(tmp_path / "audit").ok
    # 2. a forged checkpoint (moved forward, MAC recomputed without the key)
    cp_file = checkpoint_path(tmp_path / "audit")
    doc = json.loads(cp_file.read_text())
    doc["seq"] += 20
    cp_file.write_text(json.dumps(doc))
    r = verify_trail(tmp_path / "audit")
    assert not r.ok and "MAC does not verify" in r.problem
    # 3. and with the checkpoint intact, an edited record is caught as before
    doc["seq"] -= 20
    cp_file.write_text(json.dumps(doc))
    assert verify_trail(tmp_path / "audit").ok
    lines = files[1].read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b"write", b"wrote", 1)
    files[1].write_bytes(b"".join(lines))
    r = verify_trail(tmp_path / "audit")
    assert not r.ok and f"{files[1]}:4" in r.location


def test_a_pruning_cut_short_still_verifies(tmp_path: Path) -> None:
    """A crash after the checkpoint was written and before the file was deleted."""
    trail, clock = fill(tmp_path, days=5)
    trail.close()
    files = trail_files(tmp_path / "audit")
    saved = {f: f.read_bytes() for f in files}
    AuditTrail(tmp_path / "audit", clock=clock, keep_days=1).close()
    pruned = [f for f in files if not f.exists()]
    assert len(pruned) >= 2
    # pruning goes oldest first and checkpoints each file before deleting it: a crash
    # at the last deletion leaves that file, which the checkpoint already covers
    pruned[-1].write_bytes(saved[pruned[-1]])
    assert verify_trail(tmp_path / "audit").ok
    # but a file from the middle of what was pruned is a gap, not a crash
    pruned[-1].unlink()
    pruned[0].write_bytes(saved[pruned[0]])
    assert not verify_trail(tmp_path / "audit").ok


def test_config_keys_and_cli_verify(tmp_path: Path) -> None:
    from vigil.config import parse_config
    cfg = parse_config('[audit]\nkeep_days = 30\nmax_total_bytes = "100MiB"\n')
    assert (cfg.audit.keep_days, cfg.audit.max_total_bytes) == (30.0, 100 * 1024 ** 2)
    off = parse_config('[audit]\nkeep_days = 0\nmax_total_bytes = 0\n')
    assert (off.audit.keep_days, off.audit.max_total_bytes) == (0.0, 0)
    trail, clock = fill(tmp_path, days=4)
    trail.close()
    AuditTrail(tmp_path / "audit", clock=clock, keep_days=1).close()
    r = subprocess.run([sys.executable, "-m", "vigil", "audit", "verify",
                        str(tmp_path / "audit")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "OK:" in r.stdout + r.stderr
