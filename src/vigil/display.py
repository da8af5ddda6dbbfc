"""How detections are shown on a terminal or as JSON lines (replay, run)."""

from __future__ import annotations

import json
from typing import Any

from vigil.detections import Detection
from vigil.incidents.render import rfc3339
from vigil.rules.falco.engine import detection_to_falco_json
from vigil.terminal import safe_text


def detection_json(det: Detection) -> dict[str, Any]:
    """Falco's alert JSON, plus a `vigil` key for what Falco has no field for."""
    doc = detection_to_falco_json(det)
    extra: dict[str, Any] = {}
    if det.kind != "falco":
        extra = {"kind": det.kind, "rule_id": det.rule_id}
    if det.suppressed is not None:
        extra["suppressed"] = {"layer": det.suppressed.layer, "entry": det.suppressed.entry,
                               "reason": det.suppressed.reason}
    if extra:
        doc["vigil"] = extra
    return doc


def detection_text(det: Detection) -> str:
    """One line: time, priority, rule, output, and why it was suppressed if it was."""
    mark = ""
    if det.suppressed is not None:
        mark = f" [suppressed by {det.suppressed.layer}: {det.suppressed.entry}]"
    name = det.name if det.kind != "sigma" else f"{det.name} ({det.rule_id})"
    return safe_text(f"{rfc3339(det.ts) or '-'} {det.priority.label} [{name}] {det.output}"
                     f"{mark}")


def detection_line(det: Detection, as_json: bool) -> str:
    """The line to print for a detection."""
    return json.dumps(detection_json(det), default=str) if as_json else detection_text(det)
