"""List audit records with filters (`vigil incidents`).

Reading for a listing does not check the chain (that is `vigil audit verify`); a line
that is not a record is skipped and counted in `QueryStats.bad_lines`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from vigil.audit.layout import trail_files
from vigil.audit.record import INCIDENT, SUPPRESSED, AuditRecord, decode_record


@dataclass
class RecordFilter:
    """Which records to list. `detector` matches the detection's name or its key
    (`ssh_bruteforce`, `detector:ssh_bruteforce`, a Falco rule name); `since_ns` compares
    with the detection's time (or the record's when it has none)."""

    since_ns: int | None = None
    detector: str | None = None
    #: the record types to list
    types: frozenset[str] = field(default_factory=lambda: frozenset({INCIDENT}))

    def matches(self, rec: AuditRecord) -> bool:
        """True when `rec` passes every filter."""
        if rec.type not in self.types:
            return False
        if self.since_ns is not None and (rec.ts or rec.at_ns) < self.since_ns:
            return False
        if self.detector is not None:
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


def incident_types(suppressed: bool = False, everything: bool = False) -> frozenset[str]:
    """Record types for `vigil incidents`: incidents, only suppressed ones, or both."""
    if everything:
        return frozenset({INCIDENT, SUPPRESSED})
    return frozenset({SUPPRESSED}) if suppressed else frozenset({INCIDENT})
