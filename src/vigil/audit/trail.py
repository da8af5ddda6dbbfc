"""`AuditTrail`: the append-only, hash-chained JSONL record of every detection with its
fate (its incident, or why it was suppressed), every incident's lifecycle (opened,
escalated, closed), and every alert the outbox gave up on.

Each `record_*` call writes one line (see `vigil.audit.record`) and hands it to the OS;
`flush()` also fsyncs, and the alert pipeline calls it before any alert leaves, so what
was alerted is always on disk first. The chain continues across rotation and restarts:
on open the last record of the newest file gives the next `seq` and `prev`.

Rotation renames `audit.jsonl` to `audit-<stamp>.jsonl` when the next line would make it
larger than `max_bytes`, or when `rotate_daily` is set and the UTC day changed since the
file's first record. Rotated files are kept (nothing is deleted here).

After each record the trail's head (`seq`, `hash`, and an HMAC with a key kept outside the
trail) is rewritten (`vigil.audit.seal`), so that records cut off the end and a chain
rewritten with recomputed hashes are detected by whoever lacks the key.

On open, the trail is reconciled with its head. A last line left unfinished (a crash in
the middle of a write, or a record cut short) cannot be part of the chain: it is moved to
`<file>.partial-<ns>` (kept). Whatever is found — an unfinished line, a trail that ends
before its sealed head, a head that names another hash, a missing key or head — is
written as the first new record, a `repair` record saying what was found, and logged;
the chain then continues from the last complete record. Damage is never passed over in
silence, and `vigil audit verify` reports it.

A trail that cannot be written (disk full, I/O error) never stops detection: records are
held in memory, in order, up to `max_held` (beyond that they are counted as lost), the
trail reports itself `degraded` (the pipeline raises an "audit trail unavailable"
detection), and every later write or `retry()` first tries to write what is held, so the
trail recovers by itself when space returns. Records keep the time they were recorded;
their place in the chain is given when they are written. What is still held when the
trail closes is written to standard error as a last resort (the service's journal keeps
it) and counted.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Callable

import msgspec

from vigil.audit.layout import current_file, rotated_name, trail_files
from vigil.audit.record import (DEAD_LETTER, DETECTION, GENESIS, INCIDENT, REPAIR, SUPPRESSED,
                                AuditRecord, seal, unseal)
from vigil.audit.seal import (HeadState, HeadWriter, SealError, create_key, default_key_path,
                              head_path, read_head, read_key)
from vigil.detections import Detection
from vigil.incidents.model import IncidentEvent
from vigil.incidents.render import incident_document
from vigil.statedir import FILE_MODE, private_dir

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
#: records held in memory while the trail cannot be written (each a few KiB at most)
DEFAULT_MAX_HELD = 10_000
#: how far from the end of a file the last record is searched for
_TAIL_CHUNK = 1 << 16


class AuditTrailError(RuntimeError):
    """The trail cannot be opened or continued (unreadable last record, I/O error)."""


class AuditTrail:
    """Append records to the trail at `path` (a directory, or a `.jsonl` file).

    `max_bytes`: size past which the current file is rotated. `rotate_daily`: rotate when
    the UTC day changes. `clock`: seconds since the epoch for `at`/rotation (tests inject it).
    `key_path`: the key that seals the head (default: beside the trail, `<path>.key`).
    Safe to use from several threads.
    """

    def __init__(self, path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES,
                 rotate_daily: bool = True, *, clock: Callable[[], float] = time.time,
                 max_held: int = DEFAULT_MAX_HELD,
                 key_path: str | Path | None = None,
                 keep_days: float | None = None,
                 max_total_bytes: int | None = None) -> None:
        self.path = current_file(path)
        self.max_bytes = max_bytes
        self.rotate_daily = rotate_daily
        self.key_path = Path(key_path) if key_path is not None else default_key_path(path)
        self._clock = clock
        self._lock = threading.Lock()
        private_dir(self.path.parent)
        partial = self._recover_partial_line()
        self._seq, self._prev, last_prev = self._last_link()
        try:
            key = read_key(self.key_path)
            key_created = key is None
            head_existed = head_path(self.path).exists()
            if key is None:
                key = create_key(self.key_path)
        except SealError as exc:
            raise AuditTrailError(str(exc)) from None
        state = (read_head(head_path(self.path), key) if not key_created
                 else HeadState(None, exists=head_existed))
        repairs = reconcile(self._seq, self._prev, last_prev, state, key_created, partial)
        self._day = self._first_day(self.path)
        self._fh: IO[bytes] = open(self.path, "ab", buffering=0, opener=_private_opener)
        self._size = self._fh.tell()
        self._head = HeadWriter(head_path(self.path), key)
        self._head.reset(self._seq, self._prev)
        self._head_error: str | None = None
        self.counts = {DETECTION: 0, SUPPRESSED: 0, INCIDENT: 0, DEAD_LETTER: 0, REPAIR: 0,
                       "rotations": 0, "held": 0, "written_late": 0, "lost": 0}
        self.max_held = max_held
        #: records waiting for the trail to be writable again, oldest first
        self._held: deque[AuditRecord] = deque()
        #: why the trail cannot be written (None while it can)
        self.degraded: str | None = None
        #: state changes for the pipeline to report: ("down", reason) / ("up", summary)
        self._changes: list[tuple[str, str]] = []
        #: what was found wrong on open (each also written as a `repair` record)
        self.repairs: list[Repair] = repairs
        for r in repairs:
            (log.error if r.tamper else log.warning)("audit trail %s: %s", self.path, r.detail)
            self._append(AuditRecord(seq=0, type=REPAIR, at_ns=0, at="",
                                     repair={"kind": r.kind, "tamper": r.tamper,
                                             "detail": r.detail}))
        if repairs:
            self.flush()
        self.keep_days = keep_days
        self.max_total_bytes = max_total_bytes
        self._key = key
        self._prune()

    def _prune(self) -> None:
        """Apply `[audit] keep_days` / `max_total_bytes` (audit.retention); a failure is
        logged and the files are kept."""
        if not self.keep_days and not self.max_total_bytes:
            return
        from vigil.audit.retention import prune
        try:
            result = prune(self.path, self._key, keep_days=self.keep_days,
                           max_total_bytes=self.max_total_bytes, now=self._clock())
        except (OSError, ValueError) as exc:
            log.error("audit: pruning %s failed, nothing deleted past that point: %s",
                      self.path.parent, exc)
            return
        self.counts["pruned_files"] = self.counts.get("pruned_files", 0) + result.files

    # -- writing -----------------------------------------------------------------------

    def record_detection(self, detection: Detection,
                         incident_id: str | None = None) -> AuditRecord:
        """Record an unsuppressed detection, with the incident it is part of."""
        rec = self._detection_record(DETECTION, detection)
        rec.incident_id = incident_id
        return self._append(rec)

    def record_suppressed(self, detection: Detection,
                          incident_id: str | None = None) -> AuditRecord:
        """Record a suppressed detection; `detection.suppressed` says layer, entry, reason;
        `incident_id` names the open story it was part of, if any."""
        rec = self._detection_record(SUPPRESSED, detection)
        rec.incident_id = incident_id
        sup = detection.suppressed
        rec.suppression = (msgspec.to_builtins(sup) if sup is not None
                           else {"layer": "unknown", "entry": "", "reason": "no suppression given"})
        return self._append(rec)

    def record_incident(self, event: IncidentEvent) -> AuditRecord:
        """Record an incident opening, escalating or closing, with the incident as it is
        then (its detections are in their own records)."""
        inc = event.incident
        rec = AuditRecord(seq=0, type=INCIDENT, at_ns=0, at="", key=inc.opened_by,
                          priority=inc.priority.label, ts=inc.last_ts or None,
                          ip=inc.entities.remote_ips[0] if inc.entities.remote_ips else None,
                          user=inc.entities.users[0] if inc.entities.users else None,
                          output=inc.title, incident_id=inc.id, event=event.kind.value,
                          incident=incident_document(inc))
        return self._append(rec)

    def record_dead_letter(self, alert: Any, sink: str, error: str) -> AuditRecord:
        """Record an alert that the outbox gave up delivering to `sink` after `error`."""
        body = msgspec.to_builtins(alert) if not isinstance(alert, dict) else alert
        rec = AuditRecord(seq=0, type=DEAD_LETTER, at_ns=0, at="", sink=sink, error=error,
                          alert=body, key=body.get("key") if isinstance(body, dict) else None)
        return self._append(rec)

    def flush(self) -> None:
        """Write everything to disk (fsync, the trail then its head): call before an alert
        leaves. A trail that cannot be synced becomes degraded instead of raising."""
        with self._lock:
            if self._fh.closed:
                return
            try:
                os.fsync(self._fh.fileno())
            except OSError as exc:
                self._degrade(exc)
                return
            self._sync_head()

    def retry(self) -> bool:
        """Try to write what is held (the pipeline calls this now and then); True when
        nothing is held any more."""
        with self._lock:
            if self._fh.closed:
                return not self._held
            return self._drain_held()

    def take_changes(self) -> list[tuple[str, str]]:
        """State changes since the last call: ("down", why) when the trail stopped being
        writable, ("up", what happened meanwhile) when it recovered."""
        with self._lock:
            out, self._changes = self._changes, []
            return out

    @property
    def held(self) -> int:
        """Records waiting in memory for the trail to be writable."""
        return len(self._held)

    def close(self) -> None:
        """Flush and close; safe to call twice. Records that still cannot be written go
        to standard error (the journal keeps them) and are counted as lost here."""
        with self._lock:
            if self._fh.closed:
                return
            self._drain_held()
            try:
                os.fsync(self._fh.fileno())
            except OSError as exc:
                log.error("audit: cannot sync %s on close: %s", self.path, exc)
            self._fh.close()
            try:
                self._head.close()
            except OSError as exc:
                log.error("audit: cannot sync the head of %s on close: %s", self.path, exc)
            if self._held:
                n = len(self._held)
                log.error("audit: %d record(s) could not be written to %s (%s); they follow "
                          "on standard error", n, self.path, self.degraded)
                for rec in self._held:
                    sys.stderr.write("vigil-audit-unwritten " + msgspec.json.encode(rec)
                                     .decode() + "\n")
                sys.stderr.flush()
                self.counts["lost"] += n
                self._held.clear()

    def __enter__(self) -> "AuditTrail":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def last_hash(self) -> str:
        """The hash of the last record written (GENESIS for an empty trail)."""
        return self._prev

    # -- internals ---------------------------------------------------------------------

    @staticmethod
    def _detection_record(kind: str, det: Detection) -> AuditRecord:
        data = msgspec.to_builtins(det)
        data["priority"] = det.priority.label
        return AuditRecord(seq=0, type=kind, at_ns=0, at="", key=det.key, rule_id=det.rule_id,
                           priority=det.priority.label, ts=det.ts or None, ip=det.entity.ip,
                           user=det.entity.user, output=det.output, detection=data)

    def _append(self, rec: AuditRecord) -> AuditRecord:
        with self._lock:
            if self._fh.closed:
                raise AuditTrailError(f"audit trail {self.path} is closed")
            now_ns = int(self._clock() * 1e9)
            rec.at_ns = now_ns
            rec.at = _iso(now_ns)
            if self._held and not self._drain_held():
                self._hold(rec)
                return rec
            try:
                return self._write_record(rec)
            except OSError as exc:
                self._degrade(exc)
                self._hold(rec)
                return rec

    def _hold(self, rec: AuditRecord) -> None:
        if len(self._held) >= self.max_held:
            self.counts["lost"] += 1
            return
        self._held.append(rec)
        self.counts["held"] += 1

    def _degrade(self, exc: BaseException) -> None:
        why = f"{type(exc).__name__}: {exc}"
        if self.degraded is None:
            log.error("audit: cannot write %s (%s); records are held in memory (up to %d) "
                      "and written when it can be", self.path, why, self.max_held)
            self._changes.append(("down", why))
        self.degraded = why

    def _drain_held(self) -> bool:
        """Write held records in order; stops at the first failure. True when none left."""
        written = 0
        while self._held:
            try:
                self._write_record(self._held[0])
            except OSError as exc:
                self._degrade(exc)
                break
            self._held.popleft()
            written += 1
        self.counts["written_late"] += written
        if not self._held and self.degraded is not None:
            try:
                os.fsync(self._fh.fileno())
            except OSError as exc:
                self._degrade(exc)
                return False
            lost = self.counts["lost"]
            log.warning("audit: %s is writable again; %d held record(s) written%s", self.path,
                        self.counts["written_late"], f", {lost} lost" if lost else "")
            self._changes.append(("up", f"{self.counts['written_late']} held record(s) "
                                        f"written late, {lost} lost"))
            self.degraded = None
        return not self._held

    def _write_record(self, rec: AuditRecord) -> AuditRecord:
        """Give `rec` its place in the chain and write it (or raise OSError, leaving the
        chain as it was)."""
        now_ns = rec.at_ns
        rec.seq = self._seq + 1
        prev = self._prev
        line, digest = seal(rec, prev)
        self._maybe_rotate(now_ns, len(line))
        self._write(line)
        self._size += len(line)
        self._seq, self._prev = rec.seq, digest
        # sealed after the record is written: a crash in between leaves one record after
        # the head, which the next open accepts (the head never runs ahead of the trail)
        self._seal(rec.seq, digest)
        if self._day is None:
            self._day = _day(now_ns)
        self.counts[rec.type] = self.counts.get(rec.type, 0) + 1
        return msgspec.structs.replace(rec, prev=prev, hash=digest)

    def _seal(self, seq: int, digest: str) -> None:
        """Rewrite the head for the record just written. The record is in the trail
        whatever happens here: a head that cannot be written is logged (once until it can
        be again), and `vigil audit verify` will say the records after it are not sealed."""
        try:
            self._head.write(seq, digest)
        except OSError as exc:
            if self._head_error is None:
                log.error("audit: cannot write the sealed head of %s: %s", self.path, exc)
            self._head_error = str(exc)
            return
        if self._head_error is not None:
            log.warning("audit: the sealed head of %s is written again", self.path)
            self._head_error = None

    def _sync_head(self) -> None:
        try:
            self._head.sync()
        except OSError as exc:
            if self._head_error is None:
                log.error("audit: cannot sync the sealed head of %s: %s", self.path, exc)
            self._head_error = str(exc)

    def _write(self, line: bytes) -> None:
        """Write one whole line to the OS, or nothing: a failed write (disk full) is cut
        back so that the next record does not follow half a line."""
        fd = self._fh.fileno()
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
        except OSError:
            try:
                os.ftruncate(fd, self._size)
            except OSError:
                pass
            raise

    def _maybe_rotate(self, now_ns: int, incoming: int) -> None:
        if self._size == 0:
            return
        too_big = self._size + incoming > self.max_bytes
        new_day = self.rotate_daily and self._day is not None and _day(now_ns) != self._day
        if not (too_big or new_day):
            return
        # the old file stays open until the new one is: a failure leaves a usable trail
        os.fsync(self._fh.fileno())
        rotated = rotated_name(self.path, now_ns)
        os.replace(self.path, rotated)
        try:
            new = open(self.path, "ab", buffering=0, opener=_private_opener)
        except OSError:
            os.replace(rotated, self.path)
            raise
        self._fh.close()
        self._fh = new
        self._size = 0
        self._day = None
        self.counts["rotations"] += 1
        if getattr(self, "keep_days", None) or getattr(self, "max_total_bytes", None):
            self._prune()

    def _recover_partial_line(self) -> tuple[Path, int] | None:
        """Move an unfinished last line aside; returns (where, its size) or None."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return None
        with open(self.path, "rb+") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) == b"\n":
                return None
            size = fh.seek(0, os.SEEK_END)
            start = max(0, size - _TAIL_CHUNK)
            while True:
                fh.seek(start)
                chunk = fh.read(size - start)
                cut = chunk.rfind(b"\n")
                if cut >= 0 or start == 0:
                    break
                start = max(0, start - _TAIL_CHUNK)
            keep = start + cut + 1 if cut >= 0 else 0
            fh.seek(keep)
            partial = fh.read()
            aside = self.path.with_name(f"{self.path.name}.partial-{time.time_ns()}")
            with open(aside, "wb", opener=_private_opener) as out:
                out.write(partial)
            fh.truncate(keep)
        return aside, len(partial)

    def _last_link(self) -> tuple[int, str, str]:
        """(seq, hash, prev) of the trail's last record; (0, GENESIS, GENESIS) for a new
        trail."""
        for f in reversed(trail_files(self.path)):
            line = _last_line(f)
            if line is None:
                continue
            try:
                rec, digest = unseal(line)
            except ValueError as exc:
                raise AuditTrailError(f"{f}: last record unreadable ({exc}); run "
                                      "`vigil audit verify` and move the damaged file aside") from None
            return rec.seq, digest, rec.prev
        return 0, GENESIS, GENESIS

    @staticmethod
    def _first_day(f: Path) -> str | None:
        try:
            with open(f, "rb") as fh:
                first = fh.readline().rstrip(b"\n")
        except FileNotFoundError:
            return None
        if not first:
            return None
        try:
            rec, _ = unseal(first)
        except ValueError:
            return None
        return _day(rec.at_ns)


@dataclass(frozen=True)
class Repair:
    """Damage found when the trail was opened. `tamper`: the trail no longer holds what
    was sealed (records removed or rewritten, key or head gone), as opposed to a crash's
    unfinished line."""

    kind: str
    tamper: bool
    detail: str


def reconcile(seq: int, digest: str, prev: str, state: HeadState, key_created: bool,
              partial: tuple[Path, int] | None) -> list[Repair]:
    """Compare the trail's last record (`seq`, its `digest` and `prev`) with its sealed
    head; what does not fit, as `Repair`s (none when the trail is as it was sealed)."""
    out: list[Repair] = []
    head = state.head
    cut_short = partial is not None and head is not None and head.seq == seq + 1
    if partial is not None and not cut_short:
        where, size = partial
        out.append(Repair("unfinished_line", False,
                          f"an unfinished last line ({size} bytes) was moved to {where}; it "
                          "was never sealed (the agent stopped in the middle of writing it)"))
    if key_created:
        if seq > 0 or state.exists:
            out.append(Repair("key_missing", True,
                              f"no audit key: a new one was created, and the {seq} records "
                              "before this one cannot be authenticated (the key "
                              f"{'and head were' if not state.exists else 'was'} deleted, or "
                              "the trail was written without one)"))
        return out
    if head is None:
        if seq > 0 or state.exists:
            what = "damaged or forged" if state.invalid_slots else "missing"
            out.append(Repair("head_missing", True,
                              f"the sealed head is {what}: the {seq} records before this one "
                              "cannot be authenticated"))
        return out
    if head.seq > seq:
        detail = (f"records were removed from the end: the trail ended at seq {seq} but its "
                  f"sealed head was seq {head.seq} ({head.seq - seq} record(s) missing)")
        if cut_short:
            where, size = partial  # type: ignore[misc]
            detail += (f"; the last one was cut short and its remaining {size} bytes were "
                       f"moved to {where}")
        out.append(Repair("truncated", True, detail))
    elif (head.seq == seq and head.hash != digest) or (head.seq == seq - 1
                                                        and head.hash != prev):
        out.append(Repair("rewritten", True,
                          f"record seq {head.seq} is not the one that was sealed: the trail "
                          "was rewritten up to there with recomputed hashes"))
    elif head.seq < seq - 1:
        out.append(Repair("unsealed", True,
                          f"records seq {head.seq + 1} to {seq} were never sealed: they were "
                          "appended by someone without the key"))
    elif head.seq == seq - 1:
        log.warning("audit: the last record (seq %d) was written but not sealed when the "
                    "agent stopped; sealing it now", seq)
    return out


def _private_opener(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_CLOEXEC, FILE_MODE)


def _last_line(f: Path) -> bytes | None:
    with open(f, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        start = size
        data = b""
        while start > 0:
            start = max(0, start - _TAIL_CHUNK)
            fh.seek(start)
            data = fh.read(size - start).rstrip(b"\n")
            cut = data.rfind(b"\n")
            if cut >= 0:
                return data[cut + 1:]
        return data or None


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _day(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, timezone.utc).strftime("%Y-%m-%d")
