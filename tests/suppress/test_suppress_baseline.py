"""Baseline learning in a real SQLite file, with an injected clock."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from suppress_fixtures import detection, proc

from vigil.detections import Entity
from vigil.priority import Priority
from vigil.suppress.baseline import Baseline

HOUR = 3600.0


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def cc_build(parent: str = "/usr/bin/make", user: str = "builder", **kw):
    return detection(name="data_exfil", process=proc("/usr/bin/cc", parent=parent, user=user), **kw)


def test_learned_tuples_are_suppressed_after_learning(tmp_path: Path) -> None:
    clock = Clock()
    base = Baseline(tmp_path / "state" / "baseline.sqlite", learn_hours=2, clock=clock)
    assert base.learning
    assert base.check(cc_build()) is None  # recorded, still an incident
    assert base.check(cc_build()) is None
    clock.now += 2 * HOUR
    assert not base.learning
    sup = base.check(cc_build())
    assert sup is not None and sup.layer == "baseline"
    assert sup.entry == ("baseline:detector:data_exfil exe=/usr/bin/cc parent=/usr/bin/make "
                         "user=builder")
    assert "seen 2 time(s)" in sup.reason
    base.close()


def test_a_different_parent_user_or_detection_is_not_suppressed(tmp_path: Path) -> None:
    clock = Clock()
    base = Baseline(tmp_path / "b.sqlite", learn_hours=1, clock=clock)
    base.check(cc_build())
    clock.now += HOUR
    assert base.check(cc_build(parent="/usr/sbin/nginx")) is None
    assert base.check(cc_build(user="www-data")) is None
    assert base.check(detection(name="webshell", process=proc("/usr/bin/cc", parent="/usr/bin/make",
                                                              user="builder"))) is None
    # nothing new is learned after the learning period
    assert len(base) == 1
    base.close()


def test_critical_detections_are_never_learned_nor_suppressed(tmp_path: Path) -> None:
    clock = Clock()
    base = Baseline(tmp_path / "b.sqlite", learn_hours=1, clock=clock)
    base.check(cc_build(priority=Priority.CRITICAL))
    base.check(cc_build(priority=Priority.WARNING))
    clock.now += HOUR
    assert base.check(cc_build(priority=Priority.CRITICAL)) is None
    assert base.check(cc_build(priority=Priority.EMERGENCY)) is None
    assert base.check(cc_build(priority=Priority.ERROR)) is not None
    base.close()


def test_detections_without_an_executable_are_never_learned(tmp_path: Path) -> None:
    clock = Clock()
    base = Baseline(tmp_path / "b.sqlite", learn_hours=1, clock=clock)
    ssh = detection(name="ssh_bruteforce", entity=Entity(ip="203.0.113.5"))
    ssh.evidence.clear()
    base.check(ssh)
    clock.now += HOUR
    assert base.check(ssh) is None and len(base) == 0
    base.close()


def test_learning_period_and_tuples_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite"
    clock = Clock()
    first = Baseline(path, learn_hours=1, clock=clock)
    first.check(cc_build())
    first.close()
    clock.now += 0.5 * HOUR
    second = Baseline(path, learn_hours=1, clock=clock)
    assert second.learn_started == first.learn_started
    assert second.learning
    clock.now += 0.5 * HOUR
    assert not second.learning
    assert second.check(cc_build()) is not None
    second.close()
    rows = sqlite3.connect(path).execute("SELECT detection, exepath, count FROM seen").fetchall()
    assert rows == [("detector:data_exfil", "/usr/bin/cc", 1)]
