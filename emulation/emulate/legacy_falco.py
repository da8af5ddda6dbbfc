"""ADAPTER for the older `vigil run --json` output: one Falco JSON alert per detection.

Until incidents are printed (`{"event": ..., "incident": {...}}`), `vigil run --json`
prints each detection as Falco's alert JSON (`rule`, `priority`, `output`, `time`,
`output_fields`, optional `vigil: {kind, rule_id}`). This module turns one such line into
an "opened" event of a one-detection incident, so the runner works with either output.
Delete it once no agent prints the old format.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

#: output fields that name a process of the detection
_PID_FIELDS = ("proc.pid", "proc.vpid", "proc.ppid")


def is_legacy_line(doc: dict[str, Any]) -> bool:
    """True for a Falco-JSON detection line (it has `rule` and no `event`)."""
    return "event" not in doc and "rule" in doc and "output_fields" in doc


def rfc3339_ns(text: str) -> int:
    """`2026-12-07T17:13:12.124511219Z` → ns since the epoch (0 if unreadable)."""
    try:
        head, _, frac = text.rstrip("Z").partition(".")
        secs = datetime.fromisoformat(head + "+00:00").timestamp()
        digits = (frac + "000000000")[:9] if frac else "0"
        return int(secs) * 1_000_000_000 + int(digits)
    except ValueError:
        return 0


def legacy_incident_event(doc: dict[str, Any], seq: int) -> dict[str, Any]:
    """The incident-schema "opened" event equivalent to one Falco JSON detection."""
    fields = doc.get("output_fields") if isinstance(doc.get("output_fields"), dict) else {}
    extra = doc.get("vigil") if isinstance(doc.get("vigil"), dict) else {}
    ts = fields.get("evt.time")
    if not isinstance(ts, int):
        ts = rfc3339_ns(str(doc.get("time") or ""))
    pids = []
    for key in _PID_FIELDS:
        value = fields.get(key)
        if isinstance(value, int) and value > 0:
            pids.append(value)
    name = str(doc.get("rule") or "")
    detection = {"kind": extra.get("kind", "falco"), "name": name,
                 "rule_id": extra.get("rule_id"), "priority": doc.get("priority"),
                 "count": 1, "first_ts": ts, "last_ts": ts,
                 "pid": pids[0] if pids else None, "process": fields.get("proc.name"),
                 "output": doc.get("output"), "tags": doc.get("tags") or []}
    return {"event": "opened", "incident": {
        "id": f"legacy-{seq}", "host": doc.get("hostname"), "status": "open",
        "priority": doc.get("priority"), "title": name, "first_ts": ts, "last_ts": ts,
        "detection_count": 1, "detections": [detection],
        "entities": {"root": None, "processes": [{"pid": p} for p in pids]},
    }}
