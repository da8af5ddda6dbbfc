"""The incident stream of `vigil run --json`, folded into one view per incident.

Each line is one incident lifecycle event:
`{"event": "opened"|"escalated"|"closed", "incident": {"id", "title", "priority",
"first_ts", "last_ts", "detections": [...], "entities": {...}, ...}}`. The view of an
incident keeps every title it had (a title may change when it escalates), its highest
priority, and its detections (latest record per detection, with their first_ts), so
attribution can place the incident and each detection in time.

Lines in the older one-detection Falco JSON format are converted by
`emulate.legacy_falco` (see there); anything else is counted as unparsed, never fatal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from emulate.legacy_falco import is_legacy_line, legacy_incident_event

#: Falco's priorities, lowest first (the scorecard reports the highest)
PRIORITIES = ("Debug", "Informational", "Notice", "Warning", "Error", "Critical", "Alert",
              "Emergency")


def priority_rank(label: str | None) -> int:
    """Position of a Falco priority label (case-insensitive; unknown → -1)."""
    if not label:
        return -1
    low = label.strip().lower()
    if low == "info":
        low = "informational"
    for n, p in enumerate(PRIORITIES):
        if p.lower() == low:
            return n
    return -1


@dataclass
class DetectionView:
    """One detection of an incident, as last reported."""

    name: str
    rule_id: str | None
    kind: str
    priority: str
    first_ts: int
    last_ts: int
    pid: int | None
    process: str | None
    output: str = ""

    @property
    def key(self) -> tuple[str, str | None, int | None, int]:
        """Identity across lifecycle events (counts and last_ts change, these do not)."""
        return (self.name, self.rule_id, self.pid, self.first_ts)


@dataclass
class IncidentView:
    """Everything the stream said about one incident."""

    id: str
    titles: list[str] = field(default_factory=list)
    priority: str = ""
    first_ts: int = 0
    last_ts: int = 0
    events: list[str] = field(default_factory=list)
    detections: dict[tuple[str, str | None, int | None, int], DetectionView] = \
        field(default_factory=dict)
    pids: set[int] = field(default_factory=set)
    #: (title, ts, pid) per lifecycle record: the title then, and the newest detection's
    #: time and pid (what changed it), so a scenario is judged on the titles its own
    #: detections gave the incident
    title_events: list[tuple[str, int, int | None]] = field(default_factory=list)
    closed_reason: str | None = None
    #: True when converted from a one-detection Falco JSON line
    legacy: bool = False

    @property
    def title(self) -> str:
        """The latest title."""
        return self.titles[-1] if self.titles else ""

    def absorb(self, event: str, doc: dict[str, Any]) -> None:
        """Fold one lifecycle record of this incident into the view."""
        self.events.append(event)
        title = str(doc.get("title") or "")
        if title and title not in self.titles:
            self.titles.append(title)
        prio = str(doc.get("priority") or "")
        if priority_rank(prio) > priority_rank(self.priority):
            self.priority = prio
        first = _int(doc.get("first_ts"))
        if first and (not self.first_ts or first < self.first_ts):
            self.first_ts = first
        self.last_ts = max(self.last_ts, _int(doc.get("last_ts")) or 0)
        if doc.get("closed_reason"):
            self.closed_reason = str(doc["closed_reason"])
        newest: DetectionView | None = None
        for d in doc.get("detections") or []:
            if isinstance(d, dict):
                det = _detection(d, default_ts=first or 0)
                self.detections[det.key] = det
                if det.pid:
                    self.pids.add(det.pid)
                if newest is None or det.last_ts > newest.last_ts:
                    newest = det
        self.pids |= _entity_pids(doc.get("entities"))
        if title:
            ts = newest.last_ts if newest is not None else (_int(doc.get("last_ts")) or 0)
            self.title_events.append((title, ts, newest.pid if newest is not None else None))


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _detection(d: dict[str, Any], default_ts: int) -> DetectionView:
    first = _int(d.get("first_ts")) or default_ts
    return DetectionView(name=str(d.get("name") or ""), rule_id=d.get("rule_id"),
                         kind=str(d.get("kind") or ""), priority=str(d.get("priority") or ""),
                         first_ts=first, last_ts=_int(d.get("last_ts")) or first,
                         pid=_int(d.get("pid")), process=d.get("process"),
                         output=str(d.get("output") or ""))


def _entity_pids(entities: Any) -> set[int]:
    out: set[int] = set()
    if not isinstance(entities, dict):
        return out
    root = entities.get("root")
    procs = list(entities.get("processes") or [])
    if isinstance(root, dict):
        procs.append(root)
    for p in procs:
        if isinstance(p, dict):
            pid = _int(p.get("pid"))
            if pid:
                out.add(pid)
    return out


class IncidentStream:
    """Accumulates `vigil run --json` lines into incident views."""

    def __init__(self) -> None:
        self.incidents: dict[str, IncidentView] = {}
        self.unparsed: list[str] = []
        self._legacy_seq = 0

    def feed(self, line: str) -> IncidentView | None:
        """Parse one stdout line; returns the incident it touched (None if unparsed)."""
        line = line.strip()
        if not line:
            return None
        try:
            doc = json.loads(line)
        except ValueError:
            self.unparsed.append(line)
            return None
        if not isinstance(doc, dict):
            self.unparsed.append(line)
            return None
        legacy = False
        if is_legacy_line(doc):
            self._legacy_seq += 1
            doc = legacy_incident_event(doc, self._legacy_seq)
            legacy = True
        event, inc = doc.get("event"), doc.get("incident")
        if event not in ("opened", "escalated", "closed") or not isinstance(inc, dict) \
                or not inc.get("id"):
            self.unparsed.append(line)
            return None
        view = self.incidents.get(str(inc["id"]))
        if view is None:
            view = self.incidents[str(inc["id"])] = IncidentView(id=str(inc["id"]),
                                                                 legacy=legacy)
        view.absorb(str(event), inc)
        return view

    def views(self) -> list[IncidentView]:
        """Every incident seen, by first timestamp."""
        return sorted(self.incidents.values(), key=lambda v: (v.first_ts, v.id))
