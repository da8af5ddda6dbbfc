"""The durable outbox: SQLite under the state directory.

Three tables:

- `messages`: one row per alert per sink, `pending` → `sent` | `dead`, with the attempt
  count, the next attempt time and, for alerts a sink sends in several parts (Telegram's
  4096-character limit), how many parts already went out.
- `windows` and `members`: the open batch windows and the incidents counted in them, so
  a restart resumes batching where it stopped and a held incident is never lost.

Crash trade-off (documented in docs/alerts.md): a message is marked sent in its own commit
right after the sink accepted it. A crash between the sink's "OK" and that commit re-sends
that one message (or that one part) after restart — at-least-once. Marking it sent before
sending would instead risk losing it, which is the worse failure for a security alert.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import msgspec

from vigil.alerts.batching import Member, Window
from vigil.alerts.message import Alert, decode_alert, encode_alert
from vigil.priority import Priority
from vigil.statedir import create_private, private_dir

log = logging.getLogger(__name__)

OUTBOX_FILE = "alerts_outbox.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    sink TEXT NOT NULL,
    route TEXT NOT NULL,
    dedupe TEXT NOT NULL,
    alert BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    progress INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    next_attempt REAL NOT NULL,
    last_error TEXT,
    done_at REAL,
    UNIQUE (sink, dedupe)
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (state, next_attempt);
CREATE TABLE IF NOT EXISTS windows (
    route TEXT NOT NULL,
    key TEXT NOT NULL,
    start REAL NOT NULL,
    end_ts REAL NOT NULL,
    title TEXT NOT NULL,
    unit TEXT NOT NULL,
    hostname TEXT,
    PRIMARY KEY (route, key)
);
CREATE TABLE IF NOT EXISTS members (
    route TEXT NOT NULL,
    key TEXT NOT NULL,
    incident TEXT NOT NULL,
    ip TEXT,
    priority INTEGER NOT NULL,
    count INTEGER NOT NULL,
    held INTEGER NOT NULL,
    first_ts REAL NOT NULL,
    last_ts REAL NOT NULL,
    PRIMARY KEY (route, key, incident)
);
"""
_HANDOFF = """
CREATE TABLE IF NOT EXISTS handoff (
    incident TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    at REAL NOT NULL
);
"""
#: bumped when the windows/members tables change shape; they hold only open batch
#: windows, so an older layout is dropped (and logged) rather than migrated
_SCHEMA_VERSION = 2


@dataclass(frozen=True)
class OutboxMessage:
    """A message due for delivery."""

    id: int
    sink: str
    alert: Alert
    attempts: int
    progress: int
    created: float


@dataclass(frozen=True)
class OutboxCounts:
    """What `vigil alerts status` shows."""

    pending: int = 0
    retrying: int = 0
    dead: int = 0
    sent: int = 0
    held: int = 0


class Outbox:
    """The SQLite outbox. Safe to share between the pipeline thread and its owner (one
    connection behind a lock); other processes may read it concurrently (WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # alert texts hold command lines: 0600 (SQLite gives its -wal/-shm files the
        # database file's mode)
        create_private(private_dir(self.path.parent) / self.path.name)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False,
                                   isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash (not a power cut) and keeps commits cheap
        self._db.execute("PRAGMA synchronous=NORMAL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version < _SCHEMA_VERSION:
            had = self._db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'windows'"
                                   ).fetchone()[0]
            if had:
                log.warning("alert outbox %s: open batch windows of an older Vigil dropped "
                            "(their incidents are in the audit trail)", self.path)
            self._db.executescript("DROP TABLE IF EXISTS members; DROP TABLE IF EXISTS windows;")
            self._db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        self._db.executescript(_SCHEMA)
        self._db.executescript(_HANDOFF)
        self._depth = 0

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one commit (nested use joins the outer transaction)."""
        with self._lock:
            if self._depth == 0:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                self._db.execute("COMMIT")

    # --- accepting --------------------------------------------------------------------

    def enqueue(self, sink: str, dedupe: str, alert: Alert, now: float,
                due: float | None = None) -> bool:
        """Queue `alert` for `sink`, to be sent from `due` (default: now); False when the
        same (sink, dedupe) is already queued (one incident matched two routes to the same
        sink)."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO messages (sink, route, dedupe, alert, created, next_attempt)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (sink, alert.route, dedupe, encode_alert(alert), now,
                 now if due is None else due))
            return cur.rowcount == 1

    def revise(self, sink: str, dedupe: str, alert: Alert) -> bool:
        """Replace the content of a message nothing of which has been sent yet (an incident
        that grew while its message waited); False when it is already (partly) out."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE messages SET alert = ? WHERE sink = ? AND dedupe = ? AND"
                " state = 'pending' AND attempts = 0 AND progress = 0",
                (encode_alert(alert), sink, dedupe))
            return cur.rowcount == 1

    def mark_handed(self, incident: str, version: int, now: float) -> None:
        """Record that the alert pipeline accepted this version of an incident (what a
        restart compares the audit trail with)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO handoff (incident, version, at) VALUES (?, ?, ?) ON CONFLICT"
                "(incident) DO UPDATE SET version = MAX(version, excluded.version),"
                " at = excluded.at", (incident, version, now))

    def handed_version(self, incident: str) -> int | None:
        """The latest version of an incident the pipeline accepted, or None."""
        with self._lock:
            row = self._db.execute("SELECT version FROM handoff WHERE incident = ?",
                                   (incident,)).fetchone()
        return row[0] if row else None

    def last_handoff(self) -> float | None:
        """When the pipeline last accepted an incident event."""
        with self._lock:
            return self._db.execute("SELECT MAX(at) FROM handoff").fetchone()[0]

    def hasten(self, now: float) -> int:
        """Make every message still waiting for its story (never tried) due now: the agent
        stops, or a replay ends."""
        with self._lock:
            return self._db.execute(
                "UPDATE messages SET next_attempt = ? WHERE state = 'pending' AND attempts = 0"
                " AND next_attempt > ?", (now, now)).rowcount

    def queued(self, sink: str, dedupe: str) -> bool:
        """True when a message with this dedupe key exists for `sink` (in any state)."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM messages WHERE sink = ? AND dedupe = ?",
                                    (sink, dedupe)).fetchone() is not None

    def save_window(self, w: Window) -> None:
        """Record an opened window."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO windows (route, key, start, end_ts, title, unit, hostname)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (w.route, w.key, w.start, w.end, w.title, w.unit, w.hostname))

    def save_member(self, w: Window, m: Member) -> None:
        """Record (or update) one incident counted in window `w`."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO members (route, key, incident, ip, priority, count, held,"
                " first_ts, last_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (w.route, w.key, m.incident_id, m.ip, int(m.priority), m.count, int(m.held),
                 m.first_ts, m.last_ts))

    def drop_window(self, route: str, key: str) -> None:
        """Forget a closed window and its members."""
        with self._lock:
            self._db.execute("DELETE FROM windows WHERE route = ? AND key = ?", (route, key))
            self._db.execute("DELETE FROM members WHERE route = ? AND key = ?", (route, key))

    def load_windows(self) -> list[Window]:
        """Every open window with its members, to restore the batcher after a restart."""
        with self._lock:
            out = []
            for route, key, start, end, title, unit, host in self._db.execute(
                    "SELECT route, key, start, end_ts, title, unit, hostname FROM windows"
                    ).fetchall():
                w = Window(route=route, key=key, start=start, end=end, title=title, unit=unit,
                           hostname=host)
                for inc, ip, p, n, h, t0, t1 in self._db.execute(
                        "SELECT incident, ip, priority, count, held, first_ts, last_ts"
                        " FROM members WHERE route = ? AND key = ? ORDER BY rowid", (route, key)):
                    w.members[inc] = Member(incident_id=inc, ip=ip, priority=Priority(p),
                                            count=n, held=bool(h), first_ts=t0, last_ts=t1)
                out.append(w)
            return out

    # --- delivering -------------------------------------------------------------------

    def due(self, now: float, limit: int = 500, *, sink: str | None = None
            ) -> list[OutboxMessage]:
        """Pending messages whose next attempt is due (for one sink, or all), oldest first."""
        where = "state = 'pending' AND next_attempt <= ?" + (" AND sink = ?" if sink else "")
        args = (now, sink, limit) if sink else (now, limit)
        with self._lock:
            rows = self._db.execute(
                "SELECT id, sink, alert, attempts, progress, created FROM messages"
                f" WHERE {where} ORDER BY id LIMIT ?", args).fetchall()
        out = []
        for r in rows:
            try:
                alert = decode_alert(r[2])
            except msgspec.DecodeError as e:
                # written by an incompatible version, or damaged: never block the queue
                self.mark_dead(r[0], now, f"undecodable outbox row: {e}")
                log.error("outbox message #%d for sink %s is undecodable (%s): dead-lettered",
                          r[0], r[1], e)
                continue
            out.append(OutboxMessage(id=r[0], sink=r[1], alert=alert, attempts=r[3],
                                     progress=r[4], created=r[5]))
        return out

    def next_attempt(self) -> float | None:
        """The earliest time a pending message becomes due."""
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(next_attempt) FROM messages WHERE state = 'pending'").fetchone()
        return row[0]

    def mark_progress(self, msg_id: int, parts_done: int) -> None:
        """Record that the first `parts_done` parts of a message were delivered."""
        with self._lock:
            self._db.execute("UPDATE messages SET progress = ? WHERE id = ?", (parts_done, msg_id))

    def mark_sent(self, msg_id: int, now: float) -> None:
        """The sink accepted the whole message."""
        with self._lock:
            self._db.execute("UPDATE messages SET state = 'sent', done_at = ?, last_error = NULL"
                             " WHERE id = ?", (now, msg_id))

    def mark_retry(self, msg_id: int, next_attempt: float, error: str) -> None:
        """A delivery attempt failed; try again at `next_attempt`."""
        with self._lock:
            self._db.execute("UPDATE messages SET attempts = attempts + 1, next_attempt = ?,"
                             " last_error = ? WHERE id = ?", (next_attempt, error, msg_id))

    def mark_dead(self, msg_id: int, now: float, error: str) -> None:
        """Give up on a message (dead letter)."""
        with self._lock:
            self._db.execute("UPDATE messages SET state = 'dead', attempts = attempts + 1,"
                             " done_at = ?, last_error = ? WHERE id = ?", (now, error, msg_id))

    # --- reporting --------------------------------------------------------------------

    def counts(self) -> OutboxCounts:
        """Pending (never tried), retrying (failed at least once), dead, sent, held."""
        with self._lock:
            c = dict.fromkeys(("pending", "retrying", "dead", "sent"), 0)
            for state, retried, n in self._db.execute(
                    "SELECT state, attempts > 0, COUNT(*) FROM messages GROUP BY state, attempts > 0"):
                c["retrying" if state == "pending" and retried else state] += n
            held = self._db.execute("SELECT COUNT(*) FROM members WHERE held = 1").fetchone()[0]
        return OutboxCounts(held=held, **c)

    def counts_by_sink(self) -> dict[str, OutboxCounts]:
        """Pending, retrying, dead and sent messages per sink (`held` is per route, 0)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT sink, state, attempts > 0, COUNT(*) FROM messages"
                " GROUP BY sink, state, attempts > 0").fetchall()
        per: dict[str, dict[str, int]] = {}
        for sink, state, retried, n in rows:
            c = per.setdefault(sink, dict.fromkeys(("pending", "retrying", "dead", "sent"), 0))
            c["retrying" if state == "pending" and retried else state] += n
        return {sink: OutboxCounts(**c) for sink, c in per.items()}

    def dead_letters(self, limit: int = 20) -> list[tuple[int, str, str, str]]:
        """The latest dead messages: (id, sink, title, last error)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, sink, alert, last_error FROM messages WHERE state = 'dead'"
                " ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [(r[0], r[1], decode_alert(r[2]).title, r[3] or "") for r in rows]

    def prune_sent(self, before: float) -> int:
        """Delete sent messages finished before `before`, and hand-off marks as old
        (keeps the file small)."""
        with self._lock:
            self._db.execute("DELETE FROM handoff WHERE at < ?", (before,))
            return self._db.execute("DELETE FROM messages WHERE state = 'sent' AND done_at < ?",
                                    (before,)).rowcount
