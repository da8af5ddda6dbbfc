"""Baseline learning: what this host triggers during its first hours is its normal.

While learning (the first `learn_hours` after the baseline file was created), every
detection that reaches this layer is recorded as a tuple (detection key, process
executable, parent executable, user) in SQLite, and still becomes an incident. After
learning, a detection whose tuple was recorded is suppressed with layer "baseline".

Two limits keep this from hiding attacks:
- a detection of priority Critical or more severe is never learned nor suppressed;
- a detection without a process executable (e.g. a log-based SSH detection) is never
  learned: its tuple would match every later occurrence, whoever caused it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from vigil.detections import Detection, Suppression
from vigil.priority import Priority
from vigil.statedir import create_private, private_dir

BASELINE_LAYER = "baseline"
#: detections at least this severe are never baselined
NEVER_BASELINE = Priority.CRITICAL

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen (
    detection TEXT NOT NULL, exepath TEXT NOT NULL, parent TEXT NOT NULL, user TEXT NOT NULL,
    count INTEGER NOT NULL, first_ts REAL NOT NULL, last_ts REAL NOT NULL,
    PRIMARY KEY (detection, exepath, parent, user)
);
"""


@dataclass(frozen=True)
class BaselineKey:
    """What makes two detections "the same normal thing"."""

    detection: str
    exepath: str
    parent: str
    user: str

    @classmethod
    def of(cls, det: Detection) -> "BaselineKey | None":
        """The key of `det`, or None when it has no process executable to judge."""
        proc = det.evidence[0].proc if det.evidence else None
        exepath = (proc.exepath or proc.exe or "") if proc is not None else ""
        if not exepath:
            return None
        parent = proc.parent if proc is not None else None
        parent_exe = (parent.exepath or parent.exe or parent.name or "") if parent else ""
        user = (proc.user if proc is not None else None) or det.entity.user or (
            str(proc.uid) if proc is not None and proc.uid is not None else "")
        detection = det.key if det.rule_id is None else f"{det.key}/{det.rule_id}"
        return cls(detection, exepath, parent_exe, user)

    @property
    def label(self) -> str:
        """How the key is named in a `Suppression` entry."""
        return (f"baseline:{self.detection} exe={self.exepath} parent={self.parent or '-'} "
                f"user={self.user or '-'}")


class Baseline:
    """The learned baseline in a SQLite file (`[baseline] path`).

    The learning period starts when the file is first created and is remembered in it, so
    a restart continues the same period. `clock` returns seconds since the epoch.
    """

    def __init__(self, path: str | Path, learn_hours: float, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        create_private(private_dir(self.path.parent) / self.path.name)
        self._clock = clock
        self._lock = threading.Lock()
        # created on the caller's thread, used on the engine thread: the lock serialises
        self._db = sqlite3.connect(str(self.path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        with self._db:
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('learn_started', ?)",
                             (repr(clock()),))
        started = self._db.execute(
            "SELECT value FROM meta WHERE name = 'learn_started'").fetchone()[0]
        self.learn_started = float(started)
        self.learn_until = self.learn_started + learn_hours * 3600.0
        self._seen: dict[BaselineKey, int] = {
            BaselineKey(d, e, p, u): c for d, e, p, u, c in self._db.execute(
                "SELECT detection, exepath, parent, user, count FROM seen")}

    @property
    def learning(self) -> bool:
        """True during the learning period."""
        return self._clock() < self.learn_until

    def __len__(self) -> int:
        return len(self._seen)

    def check(self, det: Detection) -> Suppression | None:
        """While learning, record `det` and return None; afterwards, return a baseline
        `Suppression` when its tuple was learned, else None."""
        if det.priority.at_least(NEVER_BASELINE):
            return None
        key = BaselineKey.of(det)
        if key is None:
            return None
        now = self._clock()
        if now < self.learn_until:
            self._record(key, now)
            return None
        count = self._seen.get(key)
        if count is None:
            return None
        return Suppression(layer=BASELINE_LAYER, entry=key.label,
                           reason=f"seen {count} time(s) while learning this host's baseline")

    def _record(self, key: BaselineKey, now: float) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO seen VALUES (?, ?, ?, ?, 1, ?, ?) "
                "ON CONFLICT (detection, exepath, parent, user) "
                "DO UPDATE SET count = count + 1, last_ts = excluded.last_ts",
                (key.detection, key.exepath, key.parent, key.user, now, now))
            self._seen[key] = self._seen.get(key, 0) + 1

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
