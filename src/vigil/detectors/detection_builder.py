"""Building the `Detection` a built-in detector returns, in one consistent shape.

Every built-in detection names the detector, a `rule_id` of `<detector>.<subkind>`, the
entity (user, process, pid, plus the IP or path it concerns) and its evidence events. A
detection that a static allowlist covers is still built and returned, with a
`Suppression(layer="static")`, so it reaches the audit trail.
"""

from __future__ import annotations

from typing import Any, Sequence

from vigil.detections import Detection, Entity, Suppression
from vigil.events.model import Event
from vigil.priority import Priority
from vigil.detectors.process_identity import display_name


def static_suppression(detector: str, allowlist: str, value: object, reason: str) -> Suppression:
    """The record of a static (in-code) allowlist match: `<detector>.<list>=<value>`."""
    return Suppression(layer="static", entry=f"{detector}.{allowlist}={value}", reason=reason)


def describe_process(event: Event) -> str:
    """`curl (pid 42, user alice)` — how outputs name the acting process."""
    p = event.proc
    who = f"user {p.user}" if p.user else (f"uid {p.uid}" if p.uid is not None else "")
    inner = ", ".join(x for x in (f"pid {p.pid}" if p.pid is not None else "", who) if x)
    name = display_name(p)
    return f"{name} ({inner})" if inner else name


def build_detection(detector: str, subkind: str, priority: Priority, output: str,
                    tags: Sequence[str], event: Event, *,
                    evidence: Sequence[Event] | None = None, ip: str | None = None,
                    path: str | None = None, data: dict[str, Any] | None = None,
                    suppressed: Suppression | None = None) -> Detection:
    """A detection about `event` (the triggering one) and its process."""
    p = event.proc
    entity = Entity(ip=ip, user=p.user, process=display_name(p), pid=p.pid, path=path)
    fields: dict[str, Any] = {"proc.name": p.name, "proc.exepath": p.exepath,
                              "proc.cmdline": p.cmdline(), "proc.pid": p.pid,
                              "user.name": p.user, "user.uid": p.uid, "evt.type": event.type}
    return Detection(
        kind="detector", name=detector, rule_id=f"{detector}.{subkind}", priority=priority,
        output=output, ts=event.ts, tags=list(tags), entity=entity,
        output_fields={k: v for k, v in fields.items() if v is not None},
        evidence=list(evidence) if evidence is not None else [event],
        data=dict(data or {}), source=event.source, hostname=event.hostname,
        suppressed=suppressed)
