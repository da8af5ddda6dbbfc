"""Falco JSON sink: POSTs alerts in Falco's own JSON output format, so Falcosidekick (and
every output behind it) accepts them unchanged.

Falco's document has `time` (RFC 3339, nanoseconds), `rule`, `priority` (Falco's label),
`source`, `tags`, `output` (`HH:MM:SS.nnnnnnnnn: Priority text`), `output_fields` and
`hostname`. In its default `mode = "detection"` the sink gets one document per detection,
as Falco itself would send. In `mode = "incident"` it gets one document per incident
message: the rule is the incident's most severe detection, the output the incident's
story, and `output_fields` carries `vigil.incident.*`. A batch summary becomes one
document whose rule is the batched group's title, with the counts under `vigil.*` keys.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from vigil.alerts.message import Alert, alert_ns
from vigil.alerts.sinks.webhook import JsonWebhookSink


def _falco_times(ns: int) -> tuple[str, str]:
    secs, frac = divmod(ns, 1_000_000_000)
    dt = datetime.fromtimestamp(secs, tz=timezone.utc)
    return (dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z",
            dt.strftime("%H:%M:%S") + f".{frac:09d}")


def _summary_rule(alert: Alert) -> str:
    """The rule a batch summary is about: its group key names it (`group:detector:x|ip`)."""
    key = alert.key.removeprefix("group:").split("|", 1)[0]
    kind, _, name = key.partition(":")
    return name if kind in ("detector", "falco", "sigma") and name else alert.title


def falco_document(alert: Alert) -> dict[str, Any]:
    """`alert` as Falco would have printed it with `json_output: true`."""
    det = alert.detection
    inc = alert.incident
    # the detection's (or incident's) own ns timestamp keeps Falco's nanosecond precision
    ns = alert_ns(alert)
    time_rfc, time_short = _falco_times(ns)
    fields: dict[str, Any] = dict(det.output_fields) if det is not None else {}
    rule = det.name if det is not None else (alert.key.partition(":")[2] or alert.title)
    source, tags = (det.source, list(det.tags)) if det is not None else ("vigil", [])
    if inc is not None:
        lead = min(inc.detections, key=lambda g: g.priority, default=None)
        if lead is not None:
            rule, source = lead.name, lead.source
        tags = sorted({t for g in inc.detections for t in g.tags})
        fields.update({"vigil.incident.id": inc.id, "vigil.incident.title": inc.title,
                       "vigil.incident.event": alert.kind,
                       "vigil.incident.detections": inc.detection_count,
                       "vigil.incident.remote_ips": list(inc.entities.remote_ips)})
    if alert.summary is not None:
        s = alert.summary
        fields.update({"vigil.count": s.count, "vigil.unique_ips": s.unique_ips,
                       "vigil.top_ip": s.top_ip, "vigil.top_ip_count": s.top_ip_count,
                       "vigil.window_secs": s.window_secs})
    if alert.summary is not None and inc is None and det is None:
        rule = _summary_rule(alert)
    doc: dict[str, Any] = {
        "time": time_rfc,
        "rule": rule,
        "priority": alert.priority.label,
        "source": source,
        "tags": tags,
        "output": f"{time_short}: {alert.priority.label} {alert.text}",
        "output_fields": fields,
    }
    if alert.hostname:
        doc["hostname"] = alert.hostname
    return doc


class FalcoJsonSink(JsonWebhookSink):
    """POSTs Falco-format JSON (point `url` at Falcosidekick, e.g. http://localhost:2801/)."""

    document = staticmethod(falco_document)
    kind = "falco_json"
