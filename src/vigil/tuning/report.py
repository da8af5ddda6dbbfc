"""The noise report of `vigil tune`: which rules and detectors made the incidents and the
suppressed detections of a time range, and which processes, parents, users, paths and
remote addresses account for them.

Only what the audit trail proves is counted: the chain is verified first and, when it
breaks, the report covers the records before the break and says so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from vigil.audit.layout import trail_files
from vigil.audit.record import DETECTION, INCIDENT, SUPPRESSED, AuditRecord, decode_record
from vigil.audit.verify import verify_trail
import msgspec

from vigil.detectors.process_identity import SHELLS, script_path
from vigil.events.model import Process

#: context dimensions, from the narrowest to the broadest
DIMENSIONS = ("processes", "parents", "users", "paths", "ips")


@dataclass
class SourceStats:
    """One rule or detector in the report."""

    #: "falco", "sigma" or "detector"
    kind: str
    #: rule name, Sigma title, or detector name
    name: str
    #: Sigma id, or the detector sub-kinds seen
    rule_id: str | None = None
    incidents: set[str] = field(default_factory=set)
    detections: int = 0
    suppressed: int = 0
    #: detections in shadow mode, and the incidents they made
    shadow: int = 0
    shadow_incidents: set[str] = field(default_factory=set)
    #: unsuppressed detections' context: dimension -> value -> count
    context: dict[str, Counter[str]] = field(
        default_factory=lambda: {d: Counter() for d in DIMENSIONS})
    suppressed_by: Counter[str] = field(default_factory=Counter)
    rule_file: str | None = None

    @property
    def key(self) -> str:
        """`falco:<rule>`, `sigma:<id>`, `detector:<name>`."""
        return f"sigma:{self.rule_id}" if self.kind == "sigma" else f"{self.kind}:{self.name}"

    @property
    def value(self) -> str:
        """What an allowlist entry names this source by (a Sigma rule by its id)."""
        return self.rule_id if self.kind == "sigma" and self.rule_id else self.name


@dataclass
class NoiseReport:
    """What the trail says about a time range."""

    since_ns: int | None
    until_ns: int | None
    records: int = 0
    detections: int = 0
    suppressed: int = 0
    incidents: set[str] = field(default_factory=set)
    sources: dict[str, SourceStats] = field(default_factory=dict)
    #: the chain's verdict: None when intact, else where it breaks (only what precedes
    #: the break is in the report)
    chain_problem: str | None = None
    #: the latest document of every incident with detections in shadow mode
    shadow_docs: dict[str, dict] = field(default_factory=dict)
    first_ts: int | None = None
    last_ts: int | None = None

    def ranked(self) -> list[SourceStats]:
        """Sources by the noise they made: unsuppressed detections, then shadow ones,
        then suppressed ones."""
        return sorted(self.sources.values(),
                      key=lambda s: (-(s.detections + s.shadow), -s.suppressed, s.key))


def _verified_records(path: Path) -> tuple[Iterator[AuditRecord], str | None]:
    result = verify_trail(path)
    limit = None if result.ok else result.records
    problem = None if result.ok else result.message()

    def records() -> Iterator[AuditRecord]:
        n = 0
        for f in trail_files(path):
            with open(f, "rb") as fh:
                for raw in fh:
                    if limit is not None and n >= limit:
                        return
                    n += 1
                    try:
                        yield decode_record(raw.strip())
                    except ValueError:
                        continue
    return records(), problem


def _identity(p: dict[str, Any]) -> str | None:
    """How a recorded process is named in a scope: the script an interpreter runs, else
    its executable path, else its name."""
    try:
        proc = msgspec.convert({k: v for k, v in p.items() if k != "parent"}, Process)
    except (msgspec.ValidationError, TypeError):
        return p.get("name")
    script = script_path(proc)
    if script:
        return script
    exe = proc.exepath or proc.exe
    return exe if exe and exe.startswith("/") else proc.name


def _context(det: dict[str, Any]) -> dict[str, list[str]]:
    """The context values of one recorded detection, per dimension."""
    out: dict[str, list[str]] = {d: [] for d in DIMENSIONS}
    ent = det.get("entity") or {}
    evidence = [e for e in det.get("evidence") or [] if isinstance(e, dict)]
    proc = (evidence[-1].get("proc") or {}) if evidence else {}
    if evidence and evidence[-1].get("source", "syscall") == "syscall":
        out["processes"].append(_identity(proc) or ent.get("process") or "?")
        # the parent that says something: past the shells a program runs its commands with
        parent, depth = proc.get("parent"), 0
        while isinstance(parent, dict) and depth < 4:
            pexe = parent.get("exepath")
            name = parent.get("name") or (pexe.rsplit("/", 1)[-1] if pexe else None)
            if name and name not in SHELLS:
                ident = _identity(parent)
                if ident:
                    out["parents"].append(ident)
                break
            parent, depth = parent.get("parent"), depth + 1
    user = ent.get("user") or proc.get("user")
    if user:
        out["users"].append(str(user))
    if ent.get("path"):
        out["paths"].append(str(ent["path"]))
    if ent.get("ip"):
        out["ips"].append(str(ent["ip"]))
    return out


def build_report(path: str | Path, since_ns: int | None = None,
                 until_ns: int | None = None) -> NoiseReport:
    """The noise report of the trail at `path` for detections in [since, until)."""
    report = NoiseReport(since_ns, until_ns)
    records, report.chain_problem = _verified_records(Path(path))
    for rec in records:
        report.records += 1
        if rec.type not in (DETECTION, SUPPRESSED, INCIDENT):
            continue
        ts = rec.ts or rec.at_ns
        if (since_ns is not None and ts < since_ns) or (until_ns is not None and ts >= until_ns):
            continue
        if rec.type == INCIDENT:
            doc = rec.incident or {}
            if rec.incident_id and not doc.get("shadow"):
                report.incidents.add(rec.incident_id)
            if rec.incident_id and any(g.get("shadow") for g in doc.get("detections") or []):
                old = report.shadow_docs.get(rec.incident_id)
                if old is None or doc.get("version", 0) >= old.get("version", 0):
                    report.shadow_docs[rec.incident_id] = doc
            continue
        det = rec.detection or {}
        kind, name = det.get("kind", "?"), det.get("name", rec.key or "?")
        rule_id = det.get("rule_id")
        key = f"sigma:{rule_id}" if kind == "sigma" else f"{kind}:{name}"
        src = report.sources.get(key)
        if src is None:
            src = report.sources[key] = SourceStats(
                kind=kind, name=name, rule_id=rule_id if kind == "sigma" else None)
        if src.rule_file is None:
            src.rule_file = (det.get("data") or {}).get("rule_file") or \
                (det.get("data") or {}).get("path")
        report.first_ts = ts if report.first_ts is None else min(report.first_ts, ts)
        report.last_ts = ts if report.last_ts is None else max(report.last_ts, ts)
        if rec.type == SUPPRESSED:
            report.suppressed += 1
            src.suppressed += 1
            sup = rec.suppression or {}
            src.suppressed_by[f"{sup.get('layer')}: {sup.get('entry')}"] += 1
            continue
        report.detections += 1
        if det.get("shadow"):
            src.shadow += 1
            if rec.incident_id:
                src.shadow_incidents.add(rec.incident_id)
        else:
            src.detections += 1
            if rec.incident_id:
                src.incidents.add(rec.incident_id)
        # a shadowed rule's context too: its fix can be made before it goes live
        for dim, values in _context(det).items():
            for v in values:
                src.context[dim][v] += 1
    return report
