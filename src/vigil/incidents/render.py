"""Incidents as people and programs read them: JSON documents, terminal lines, alert text.

`incident_document` is the one JSON form of an incident (`vigil run --json`, the audit
trail's lifecycle records, webhook bodies); docs/incidents.md describes it. Times are
RFC 3339 with nanoseconds, next to the same instant in ns since the epoch.

Terminal lines pass every text that came from an event through `safe_text`; alert text
is plain and each sink escapes it for its own format.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from vigil.incidents.model import (DetectionGroup, Incident, IncidentEvent, IncidentEventKind,
                                   ProcessRef)
from vigil.terminal import safe_text

_MAX_DATETIME_NS = 253402300799 * 10**9  # 9999-12-31T23:59:59Z


def rfc3339(ns: int | None) -> str | None:
    """`2026-12-07T17:03:54.123456789Z` (None for an unknown time; clamped to year 9999)."""
    if not ns:
        return None
    ns = max(0, min(int(ns), _MAX_DATETIME_NS))
    secs, frac = divmod(ns, 1_000_000_000)
    dt = datetime.fromtimestamp(secs, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{frac:09d}Z"


def _short_time(ns: int | None) -> str:
    full = rfc3339(ns)
    return full[:19] + "Z" if full else "-"


def group_document(g: DetectionGroup) -> dict[str, Any]:
    """One detection group as JSON."""
    return {"kind": g.kind, "name": g.name, "rule_id": g.rule_id, "title": g.title or g.name,
            "priority": g.priority.label, "count": g.count, "first_ts": g.first_ts,
            "last_ts": g.last_ts, "pid": g.pid, "process": g.process, "target": g.target,
            "output": g.output, "tags": list(g.tags), "source": g.source, "shadow": g.shadow}


def process_document(p: ProcessRef) -> dict[str, Any]:
    """One process of an incident as JSON."""
    return {"pid": p.pid, "start_ts": p.start_ts, "ppid": p.ppid, "name": p.name,
            "cmdline": p.cmdline, "user": p.user}


def incident_document(inc: Incident) -> dict[str, Any]:
    """The incident as one JSON object (docs/incidents.md)."""
    e = inc.entities
    ents = {"root": process_document(e.root) if e.root is not None else None,
            "processes": [process_document(p) for p in e.processes],
            "users": list(e.users), "sessions": list(e.sessions),
            "remote_ips": list(e.remote_ips), "files": list(e.files)}
    doc: dict[str, Any] = {
        "id": inc.id, "host": inc.host, "status": inc.status.value,
        "priority": inc.priority.label, "title": inc.title,
        "first_ts": inc.first_ts, "last_ts": inc.last_ts,
        "first_time": rfc3339(inc.first_ts), "last_time": rfc3339(inc.last_ts),
        "detection_count": inc.detection_count, "unit": inc.unit,
        "detections": [group_document(g) for g in inc.detections],
        "entities": ents, "tactics": list(inc.tactics), "techniques": list(inc.techniques),
        "activity": [{"ts": a.ts, "time": rfc3339(a.ts), "pid": a.pid, "start_ts": a.start_ts,
                      "ppid": a.ppid, "parent_start_ts": a.parent_start_ts, "name": a.name,
                      "cmdline": a.cmdline, "user": a.user} for a in inc.activity],
        "opened_by": inc.opened_by, "log_only": inc.log_only, "shadow": inc.shadow,
        "version": inc.version,
    }
    if inc.detections_not_listed:
        doc["detections_not_listed"] = inc.detections_not_listed
    if inc.activity_not_listed:
        doc["activity_not_listed"] = inc.activity_not_listed
    if inc.closed_reason is not None:
        doc["closed_reason"] = inc.closed_reason
        doc["closed_ts"] = inc.closed_ts
        doc["closed_time"] = rfc3339(inc.closed_ts)
    return doc


def event_document(ev: IncidentEvent) -> dict[str, Any]:
    """`{"event": "opened", "incident": {...}}`: one line of `vigil run --json`."""
    doc: dict[str, Any] = {"event": ev.kind.value, "incident": incident_document(ev.incident)}
    if ev.previous_priority is not None:
        doc["previous_priority"] = ev.previous_priority.label
    return doc


def subject_of(inc: Incident) -> str:
    """Who or what the incident is about, in a few words: `bash (pid 42, root)`, an IP."""
    root = inc.entities.root
    if root is not None:
        who = ", ".join(x for x in (f"pid {root.pid}" if root.pid is not None else "",
                                   root.user or "") if x)
        return f"{root.name or '?'} ({who})" if who else (root.name or "?")
    if inc.entities.remote_ips:
        ips = inc.entities.remote_ips
        more = f" +{len(ips) - 1}" if len(ips) > 1 else ""
        return f"from {ips[0]}{more}"
    if inc.entities.users:
        return f"user {inc.entities.users[0]}"
    return inc.host or "?"


def counts_text(inc: Incident) -> str:
    """`7 detections (3 kinds), 4 processes`; a brute force counts its attempts."""
    n = inc.detection_count
    unit = inc.unit if n != 1 else inc.unit.rstrip("s")
    kinds = len(inc.detections) + (1 if inc.detections_not_listed else 0)
    text = f"{n} {unit}"
    if kinds > 1:
        text += f" ({kinds} kinds)"
    procs = len(inc.entities.processes)
    if procs > 1:
        text += f", {procs} processes"
    ips = len(inc.entities.remote_ips)
    if ips > 1:
        text += f", {ips} IPs"
    return text


def _lead_output(inc: Incident) -> str:
    """The output of the most severe detection (the first among equals)."""
    best = None
    for g in inc.detections:
        if best is None or g.priority < best.priority:
            best = g
    return best.output if best is not None else ""


def incident_line(ev: IncidentEvent) -> str:
    """One terminal line for an incident event (`vigil run`, `vigil replay`)."""
    inc = ev.incident
    tag = {IncidentEventKind.OPENED: "OPEN", IncidentEventKind.ESCALATED: "ESCALATE",
           IncidentEventKind.CLOSED: "CLOSE", IncidentEventKind.JOINED: "JOIN"}[ev.kind]
    when = {IncidentEventKind.OPENED: inc.first_ts,
            IncidentEventKind.CLOSED: inc.closed_ts or inc.last_ts}.get(ev.kind, inc.last_ts)
    head = f"{_short_time(when)} {tag:<8} {inc.priority.label:<8} [{inc.short_id()}] " \
           f"{'(shadow) ' if inc.shadow else ''}{inc.title}"
    if ev.kind is IncidentEventKind.CLOSED:
        secs = max(0, (inc.last_ts - inc.first_ts)) / 1e9
        body = (f": {counts_text(inc)} over {secs:.0f} s, {subject_of(inc)}; "
                f"{inc.closed_reason or 'closed'}")
    elif ev.kind is IncidentEventKind.ESCALATED:
        was = ev.previous_priority.label if ev.previous_priority is not None else "?"
        body = f" (was {was}; {counts_text(inc)}): {_lead_output(inc)}"
    else:
        body = f": {_lead_output(inc)}"
    return safe_text(head + body)


def incident_text(inc: Incident, *, max_groups: int = 12) -> str:
    """The body of an alert about an incident (plain text, several lines; each sink
    escapes it): the most severe detection's output, the other detections of the story,
    who and what it is about, and how to see the whole story."""
    groups = sorted(inc.detections, key=lambda g: (g.priority, g.first_ts))
    lines = [groups[0].output if groups else inc.title]
    if len(groups) > 1 or inc.detections_not_listed:
        for g in groups[:max_groups]:
            times = f" ×{g.count}" if g.count > 1 else ""
            lines.append(f"• {g.priority.label} {g.title or g.name}{times}: {g.output}")
        hidden = len(groups) - max_groups + inc.detections_not_listed
        if hidden > 0:
            lines.append(f"• … {hidden} more kinds of detection")
    ents = inc.entities
    facts = []
    if ents.root is not None:
        facts.append("process " + subject_of(inc))
    if ents.remote_ips:
        facts.append("remote " + ", ".join(ents.remote_ips[:5])
                     + (f" (+{len(ents.remote_ips) - 5})" if len(ents.remote_ips) > 5 else ""))
    if ents.users:
        facts.append("users " + ", ".join(ents.users[:5]))
    if ents.files:
        facts.append("files " + ", ".join(ents.files[:5]))
    if facts:
        lines.append(" · ".join(facts))
    if inc.techniques:
        lines.append("ATT&CK " + ", ".join(inc.techniques[:8]))
    tail = f"incident {inc.short_id()}"
    if inc.detection_count > 1:
        tail += f" · {counts_text(inc)}"
    lines.append(f"{tail} · vigil incidents show {inc.short_id()}")
    return "\n".join(lines)


def _ref(d: dict[str, Any] | None) -> ProcessRef | None:
    if not isinstance(d, dict):
        return None
    return ProcessRef(pid=d.get("pid"), start_ts=d.get("start_ts"), ppid=d.get("ppid"),
                      name=d.get("name"), cmdline=d.get("cmdline"), user=d.get("user"))


def incident_from_document(doc: dict[str, Any]) -> Incident:
    """The `Incident` an `incident_document` was made of (from the audit trail, after a
    restart). Raises KeyError/TypeError/ValueError for a document that is not one."""
    from vigil.incidents.model import Activity, Entities, IncidentStatus
    from vigil.priority import Priority

    e = doc.get("entities") or {}
    groups = tuple(DetectionGroup(
        kind=g["kind"], name=g["name"], rule_id=g.get("rule_id"), title=g.get("title") or "",
        priority=Priority.parse(g["priority"]), count=int(g.get("count", 1)),
        first_ts=int(g.get("first_ts") or 0), last_ts=int(g.get("last_ts") or 0),
        pid=g.get("pid"), process=g.get("process"), target=g.get("target"),
        output=g.get("output") or "", tags=tuple(g.get("tags") or ()),
        source=g.get("source") or "syscall", shadow=bool(g.get("shadow")))
        for g in doc.get("detections") or [])
    ents = Entities(root=_ref(e.get("root")),
                    processes=tuple(r for r in map(_ref, e.get("processes") or []) if r),
                    users=tuple(e.get("users") or ()), sessions=tuple(e.get("sessions") or ()),
                    remote_ips=tuple(e.get("remote_ips") or ()),
                    files=tuple(e.get("files") or ()))
    acts = tuple(Activity(ts=int(a.get("ts") or 0), pid=a.get("pid"),
                          start_ts=a.get("start_ts"), ppid=a.get("ppid"),
                          parent_start_ts=a.get("parent_start_ts"), name=a.get("name"),
                          cmdline=a.get("cmdline"), user=a.get("user"))
                 for a in doc.get("activity") or [])
    return Incident(
        id=str(doc["id"]), host=doc.get("host"), status=IncidentStatus(doc.get("status", "open")),
        priority=Priority.parse(doc["priority"]), title=doc.get("title") or "",
        first_ts=int(doc.get("first_ts") or 0), last_ts=int(doc.get("last_ts") or 0),
        detection_count=int(doc.get("detection_count") or 0), detections=groups,
        detections_not_listed=int(doc.get("detections_not_listed") or 0), entities=ents,
        activity=acts, activity_not_listed=int(doc.get("activity_not_listed") or 0),
        tactics=tuple(doc.get("tactics") or ()), techniques=tuple(doc.get("techniques") or ()),
        opened_by=doc.get("opened_by") or "", unit=doc.get("unit") or "detections",
        log_only=bool(doc.get("log_only")), shadow=bool(doc.get("shadow")),
        closed_reason=doc.get("closed_reason"),
        closed_ts=doc.get("closed_ts"), version=int(doc.get("version") or 0))
