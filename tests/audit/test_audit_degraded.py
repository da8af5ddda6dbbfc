"""A full disk under the audit trail (issue 14, item 1): detection goes on, records are
held in memory and written when space returns, an "audit trail unavailable" incident is
raised — on a real, small tmpfs filled up for real.

Needs root to mount a tmpfs (CI runs as root); skips only when mounting is refused.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from vigil.audit.query import RecordFilter, iter_records
from vigil.audit.trail import AuditTrail
from vigil.audit.verify import verify_trail
from vigil.detections import Detection, Entity
from vigil.incidents.model import IncidentEvent
from vigil.pipeline import DetectionPipeline
from vigil.priority import Priority

T0 = 1_796_000_000


@pytest.fixture
def small_disk(tmp_path: Path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(mnt: Path, leave: int) -> Path:
    """Take all but about `leave` bytes of the file system."""
    filler = mnt / "filler"
    st = os.statvfs(mnt)
    free = st.f_bavail * st.f_frsize
    filler.write_bytes(b"\0" * max(0, free - leave))
    return filler


def detection(i: int) -> Detection:
    return Detection(kind="detector", name="sensitive_write", priority=Priority.WARNING,
                     output=f"write /etc/cron.d/job{i} " + "x" * 600, ts=(T0 + i) * 10**9,
                     entity=Entity(path=f"/etc/cron.d/job{i}"), hostname="web-1")


def test_full_disk_degrades_then_recovers_without_losing_a_record(small_disk: Path) -> None:
    trail = AuditTrail(small_disk / "audit", clock=lambda: T0)
    alerts: list[IncidentEvent] = []
    pipe = DetectionPipeline([], audit=trail, alert=alerts.append)
    filler = fill(small_disk, leave=6 * 1024)
    for i in range(40):  # far more than fits
        pipe.handle([detection(i)])  # never raises
    assert trail.degraded is not None and "No space left" in trail.degraded
    assert trail.held > 0
    health = [e for e in alerts if e.incident.opened_by == "detector:vigil_health"]
    assert len(health) == 1 and health[0].incident.title == "Audit trail unavailable"
    assert health[0].incident.priority is Priority.ERROR
    # detection went on the whole time
    assert pipe.stats.detections == 41 and pipe.stats.incidents_opened == 41
    filler.unlink()  # space returns
    pipe.tick(float(T0 + 100))
    assert trail.degraded is None and trail.held == 0
    titles = [e.incident.title for e in alerts if e.incident.opened_by ==
              "detector:vigil_health"]
    assert titles == ["Audit trail unavailable", "Audit trail recovered"]
    pipe.finish()
    trail.close()
    result = verify_trail(small_disk / "audit")
    assert result.ok, result.message()
    dets = list(iter_records(small_disk / "audit", RecordFilter(types=frozenset({"detection"}))))
    # every detection, the two health ones included, is in the chain: nothing lost
    assert len(dets) == 42 and trail.counts["lost"] == 0
    outputs = [r.output for r in dets]
    assert [o for o in outputs if o.startswith("write")] == \
        [detection(i).output for i in range(40)]  # in their order


def test_records_beyond_the_memory_cap_are_counted_and_the_rest_kept(small_disk: Path,
                                                                      capfd) -> None:
    trail = AuditTrail(small_disk / "audit", clock=lambda: T0, max_held=5)
    fill(small_disk, leave=0)
    for i in range(8):
        trail.record_detection(detection(i), "abc")
    assert trail.held == 5 and trail.counts["lost"] == 3
    trail.close()  # still no space: the held records go to standard error
    err = capfd.readouterr().err
    assert err.count("vigil-audit-unwritten ") == 5
    assert "job0 " in err and "job4 " in err and trail.counts["lost"] == 8
