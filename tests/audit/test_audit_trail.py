"""`AuditTrail`, `verify_trail` and `iter_records` on real files."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from vigil.audit.layout import trail_files
from vigil.audit.query import RecordFilter, iter_records
from vigil.audit.record import GENESIS
from vigil.audit.trail import AuditTrail
from vigil.audit.verify import verify_trail
from vigil.detections import Detection, Entity, Suppression
from vigil.events.model import Event, Process
from vigil.priority import Priority

DAY = 86400.0
T0 = 1_795_000_000.0  # 2026-11-18T07:06:40Z


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def det(i: int = 0, name: str = "ssh_bruteforce", suppressed: Suppression | None = None) -> Detection:
    ev = Event(type="auth.ssh_failed", ts=int((T0 + i) * 1e9), source="auth",
               args={"src_ip": f"192.0.2.{i % 250}", "user": "root"},
               proc=Process(name="sshd", pid=100 + i), raw=f"line {i}")
    return Detection(kind="detector", name=name, priority=Priority.WARNING,
                     output=f"attempt {i}", ts=ev.ts, rule_id=f"{name}.attempt",
                     entity=Entity(ip=ev.args["src_ip"], user="root"), evidence=[ev],
                     suppressed=suppressed)


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_records_are_chained_and_verify(tmp_path: Path) -> None:
    clock = Clock()
    with AuditTrail(tmp_path, clock=clock) as trail:
        a = trail.record_detection(det(1))
        sup = Suppression(layer="dynamic", entry="allowlist.ips=192.0.2.2", reason="office")
        b = trail.record_suppressed(det(2, suppressed=sup))
        c = trail.record_dead_letter({"key": "detector:x", "text": "hi"}, "telegram", "HTTP 403")
        trail.flush()
    assert a.prev == GENESIS and b.prev == a.hash and c.prev == b.hash
    assert (a.seq, b.seq, c.seq) == (1, 2, 3)
    recs = [json.loads(l) for l in lines(tmp_path / "audit.jsonl")]
    assert [r["type"] for r in recs] == ["detection", "suppressed", "dead_letter"]
    assert recs[1]["suppression"] == {"layer": "dynamic", "entry": "allowlist.ips=192.0.2.2",
                                      "reason": "office"}
    assert recs[0]["detection"]["evidence"][0]["raw"] == "line 1"
    assert recs[0]["priority"] == "Warning" and recs[0]["key"] == "detector:ssh_bruteforce"
    assert list(recs[0])[-2:] == ["prev", "hash"]
    r = verify_trail(tmp_path)
    assert r.ok and r.records == 3 and r.last_hash == c.hash, r.message()


def test_chain_continues_after_restart(tmp_path: Path) -> None:
    with AuditTrail(tmp_path, clock=Clock()) as trail:
        first = trail.record_detection(det(1))
    with AuditTrail(tmp_path, clock=Clock()) as trail:
        assert trail.last_hash == first.hash
        second = trail.record_detection(det(2))
    assert second.prev == first.hash and second.seq == 2
    assert verify_trail(tmp_path).ok


def _trail_of(tmp_path: Path, n: int) -> Path:
    with AuditTrail(tmp_path, clock=Clock()) as trail:
        for i in range(n):
            trail.record_detection(det(i))
    return tmp_path / "audit.jsonl"


def test_tampered_line_is_reported_at_that_line(tmp_path: Path) -> None:
    f = _trail_of(tmp_path, 5)
    data = lines(f)
    data[2] = data[2].replace(b"attempt 2", b"attempt X")
    f.write_bytes(b"".join(data))
    r = verify_trail(tmp_path)
    assert not r.ok and r.location == f"{f}:3" and "edited" in r.problem
    assert r.records == 2


def test_tampered_line_with_recomputed_hash_breaks_the_next_line(tmp_path: Path) -> None:
    from vigil.audit.record import seal, unseal
    f = _trail_of(tmp_path, 5)
    data = lines(f)
    rec, _ = unseal(data[2].rstrip(b"\n"))
    rec.output = "nothing to see"
    data[2], _ = seal(rec, rec.prev)
    f.write_bytes(b"".join(data))
    r = verify_trail(tmp_path)
    assert not r.ok and r.location == f"{f}:4" and "prev" in r.problem


def test_deleted_line_is_reported(tmp_path: Path) -> None:
    f = _trail_of(tmp_path, 5)
    data = lines(f)
    del data[1]
    f.write_bytes(b"".join(data))
    r = verify_trail(tmp_path)
    assert not r.ok and r.location == f"{f}:2" and "removed" in r.problem


def test_garbage_line_is_reported(tmp_path: Path) -> None:
    f = _trail_of(tmp_path, 3)
    with open(f, "ab") as fh:
        fh.write(b"{not json}\n")
    r = verify_trail(tmp_path)
    assert not r.ok and r.location == f"{f}:4" and "not a valid record" in r.problem


def test_rotation_by_size_keeps_the_chain(tmp_path: Path) -> None:
    with AuditTrail(tmp_path, max_bytes=4096, clock=Clock()) as trail:
        for i in range(30):
            trail.record_detection(det(i))
        assert trail.counts["rotations"] >= 3
    files = trail_files(tmp_path)
    assert len(files) >= 4 and files[-1].name == "audit.jsonl"
    assert all(f.stat().st_size <= 4096 for f in files)
    r = verify_trail(tmp_path)
    assert r.ok and r.records == 30 and r.files == len(files), r.message()
    # a whole rotated file removed from the middle is detected
    files[1].unlink()
    r = verify_trail(tmp_path)
    assert not r.ok and r.location.startswith(str(files[2]) + ":1")


def test_rotation_by_day(tmp_path: Path) -> None:
    clock = Clock()
    with AuditTrail(tmp_path, clock=clock) as trail:
        trail.record_detection(det(1))
        clock.t += DAY
        trail.record_detection(det(2))
    with AuditTrail(tmp_path, clock=clock) as trail:  # same day after restart: no rotation
        trail.record_detection(det(3))
    clock.t += DAY
    with AuditTrail(tmp_path, clock=clock) as trail:  # next day after restart: rotation
        trail.record_detection(det(4))
    assert len(trail_files(tmp_path)) == 3
    assert verify_trail(tmp_path).records == 4
    with AuditTrail(tmp_path, rotate_daily=False, clock=Clock(T0 + 9 * DAY)) as trail:
        trail.record_detection(det(5))
    assert len(trail_files(tmp_path)) == 3


def test_unfinished_last_line_is_kept_aside_and_chain_continues(tmp_path: Path) -> None:
    f = _trail_of(tmp_path, 3)
    with open(f, "ab") as fh:
        fh.write(b'{"v":1,"seq":4,"ty')  # the agent died mid-write
    assert not verify_trail(tmp_path).ok
    with AuditTrail(tmp_path, clock=Clock()) as trail:
        trail.record_detection(det(4))
    assert verify_trail(tmp_path).ok
    aside = list(tmp_path.glob("audit.jsonl.partial-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == b'{"v":1,"seq":4,"ty'


def test_concurrent_writers_keep_one_chain(tmp_path: Path) -> None:
    with AuditTrail(tmp_path, max_bytes=64 * 1024, clock=Clock()) as trail:
        def write(k: int) -> None:
            for i in range(50):
                trail.record_detection(det(k * 100 + i))
        threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    r = verify_trail(tmp_path)
    assert r.ok and r.records == 200


def test_query_filters(tmp_path: Path) -> None:
    clock = Clock()
    sup = Suppression(layer="static", entry="webshell.npm_scripts=vite", reason="npm build")
    with AuditTrail(tmp_path, clock=clock) as trail:
        trail.record_detection(det(0))
        trail.record_suppressed(det(10, name="webshell", suppressed=sup))
        trail.record_detection(det(3600, name="reverse_shell"))
        trail.record_dead_letter({"key": "k"}, "slack", "timeout")
    assert [r.output for r in iter_records(tmp_path)] == ["attempt 0", "attempt 3600"]
    since = int((T0 + 1800) * 1e9)
    assert [r.output for r in iter_records(tmp_path, RecordFilter(since_ns=since))] == ["attempt 3600"]
    only = RecordFilter(detector="reverse_shell")
    assert [r.key for r in iter_records(tmp_path, only)] == ["detector:reverse_shell"]
    supp = list(iter_records(tmp_path, RecordFilter(types=frozenset({"suppressed"}))))
    assert len(supp) == 1 and supp[0].suppression["reason"] == "npm build"


def test_unreadable_last_record_refuses_to_continue(tmp_path: Path) -> None:
    from vigil.audit.trail import AuditTrailError
    f = _trail_of(tmp_path, 2)
    with open(f, "ab") as fh:
        fh.write(b"garbage\n")
    with pytest.raises(AuditTrailError, match="audit verify"):
        AuditTrail(tmp_path)


def test_failed_write_leaves_no_half_line(tmp_path: Path) -> None:
    """A real short write: the file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored) makes
    write() stop mid-record and then fail with EFBIG, as a full disk would."""
    import resource
    import signal
    trail = AuditTrail(tmp_path, clock=Clock())
    trail.record_detection(det(1))
    size = (tmp_path / "audit.jsonl").stat().st_size
    big = det(2)
    big.output = "x" * 5000
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 1000, hard))
    try:
        trail.record_detection(big)  # held in memory, never raised to the pipeline
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert (tmp_path / "audit.jsonl").stat().st_size == size
    assert trail.degraded is not None and trail.held == 1
    trail.record_detection(det(3))  # space is back: the held record goes first
    assert trail.degraded is None and trail.held == 0
    trail.close()
    r = verify_trail(tmp_path)
    assert r.ok and r.records == 3, r.message()
    outs = [json.loads(x)["output"] for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert outs[1] == "x" * 5000
