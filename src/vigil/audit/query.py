"""List audit records with filters (`vigil incidents`), and fold incident lifecycle records
into the latest state of each incident.

Reading for a listing does not check the chain (that is `vigil audit verify`); a line
that is not a record is skipped and counted in `QueryStats.bad_lines`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from vigil.audit.layout import trail_files
from vigil.audit.record import DETECTION, INCIDENT, SUPPRESSED, AuditRecord, decode_record


@dataclass
class RecordFilter:
    """Which records to list. `detector` matches the detection's name or its key
    (`ssh_bruteforce`, `detector:ssh_bruteforce`, a Falco rule name); `since_ns` compares
    with the detection's time (or the record's when it has none)."""

    since_ns: int | None = None
    detector: str | None = None
    #: the record types to list
    types: frozenset[str] = field(default_factory=lambda: frozenset({DETECTION}))

    def matches(self, rec: AuditRecord) -> bool:
        """True when `rec` passes every filter."""
        if rec.type not in self.types:
            return False
        if self.since_ns is not None and (rec.ts or rec.at_ns) < self.since_ns:
            return False
        if self.detector is not None:
            if rec.type == INCIDENT:
                names = {g.get("name") for g in (rec.incident or {}).get("detections", [])}
                names |= {g.get("rule_id") for g in (rec.incident or {}).get("detections", [])}
                if self.detector not in names and self.detector != rec.key:
                    return False
                return True
            name = (rec.detection or {}).get("name")
            if self.detector not in (name, rec.key, rec.rule_id):
                return False
        return True


@dataclass
class QueryStats:
    """What a listing read."""

    records: int = 0
    bad_lines: int = 0


def iter_records(path: str | Path, flt: RecordFilter | None = None,
                 stats: QueryStats | None = None) -> Iterator[AuditRecord]:
    """The records of the trail at `path` that pass `flt`, oldest first."""
    flt = flt or RecordFilter()
    stats = stats if stats is not None else QueryStats()
    for f in trail_files(path):
        with open(f, "rb") as fh:
            for raw in fh:
                line = raw.strip()
                if not line:
                    continue
                try:
                    rec = decode_record(line)
                except ValueError:
                    stats.bad_lines += 1
                    continue
                stats.records += 1
                if flt.matches(rec):
                    yield rec


def detection_types(suppressed: bool = False, everything: bool = False) -> frozenset[str]:
    """Record types for `vigil incidents --detections/--suppressed/--all`."""
    if everything:
        return frozenset({DETECTION, SUPPRESSED})
    return frozenset({SUPPRESSED}) if suppressed else frozenset({DETECTION})


def latest_incidents(path: str | Path, flt: RecordFilter | None = None,
                     stats: QueryStats | None = None) -> list[dict]:
    """Every incident in the trail as its latest recorded document (opened, escalated or
    closed), in the order they opened. `flt.since_ns` keeps incidents active since then."""
    flt = flt or RecordFilter()
    by_id: dict[str, dict] = {}
    keep = RecordFilter(detector=flt.detector, types=frozenset({INCIDENT}))
    for rec in iter_records(path, keep, stats):
        doc = rec.incident
        if not isinstance(doc, dict) or not rec.incident_id:
            continue
        old = by_id.get(rec.incident_id)
        if old is None or doc.get("version", 0) >= old.get("version", 0):
            by_id[rec.incident_id] = doc
    out = list(by_id.values())
    if flt.since_ns is not None:
        out = [d for d in out if (d.get("last_ts") or 0) >= flt.since_ns]
    return out


def incidents_since(path: str | Path, since_ns: int) -> list[tuple[dict, bool]]:
    """Each incident with a lifecycle record written since `since_ns`: its latest
    document, and whether it closed (what a restarted agent hands to its alerts). Only
    trail files changed since then are read."""
    latest: dict[str, dict] = {}
    closed: dict[str, bool] = {}
    since_s = since_ns / 1e9
    for f in trail_files(path):
        try:
            if f.stat().st_mtime < since_s:
                continue
        except OSError:
            continue
        with open(f, "rb") as fh:
            for raw in fh:
                if b'"type":"incident"' not in raw:
                    continue
                try:
                    rec = decode_record(raw.strip())
                except ValueError:
                    continue
                if rec.type != INCIDENT or rec.at_ns < since_ns or not rec.incident_id \
                        or not isinstance(rec.incident, dict):
                    continue
                old = latest.get(rec.incident_id)
                if old is None or rec.incident.get("version", 0) >= old.get("version", 0):
                    latest[rec.incident_id] = rec.incident
                if rec.event == "closed":
                    closed[rec.incident_id] = True
    return [(doc, closed.get(iid, False)) for iid, doc in latest.items()]