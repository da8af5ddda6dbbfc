"""Falco JSON sink: POSTs alerts in Falco's own JSON output format, so Falcosidekick (and
every output behind it) accepts them unchanged.

Falco's document has `time` (RFC 3339, nanoseconds), `rule`, `priority` (Falco's label),
`source`, `tags`, `output` (`HH:MM:SS.nnnnnnnnn: Priority text`), `output_fields` and
`hostname`. A batch summary becomes one document whose rule is the batched rule's name,
with the counts in `output_fields` under `vigil.*` keys.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from vigil.alerts.message import Alert
from vigil.alerts.sinks.webhook import JsonWebhookSink


def _falco_times(ns: int) -> tuple[str, str]:
    secs, frac = divmod(ns, 1_000_000_000)
    dt = datetime.fromtimestamp(secs, tz=timezone.utc)
    return (dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z",
            dt.strftime("%H:%M:%S") + f".{frac:09d}")


def falco_document(alert: Alert) -> dict[str, Any]:
    """`alert` as Falco would have printed it with `json_output: true`."""
    det = alert.detection
    # the detection's own ns timestamp keeps Falco's nanosecond precision
    ns = det.ts if det is not None and det.ts else round(alert.ts * 1e9)
    time_rfc, time_short = _falco_times(ns)
    fields: dict[str, Any] = dict(det.output_fields) if det is not None else {}
    if alert.summary is not None:
        s = alert.summary
        fields.update({"vigil.count": s.count, "vigil.unique_ips": s.unique_ips,
                       "vigil.top_ip": s.top_ip, "vigil.top_ip_count": s.top_ip_count,
                       "vigil.window_secs": s.window_secs})
    rule = det.name if det is not None else (alert.key.partition(":")[2] or alert.title)
    doc: dict[str, Any] = {
        "time": time_rfc,
        "rule": rule,
        "priority": alert.priority.label,
        "source": det.source if det is not None else "vigil",
        "tags": list(det.tags) if det is not None else [],
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
