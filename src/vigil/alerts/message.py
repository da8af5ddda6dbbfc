"""`Alert`: one message to one sink about an incident (opened, escalated, closed), a batch
summary of several incidents, one detection (a per-detection Falco JSON sink), or a test.

Alerts are what the outbox stores (msgspec JSON) and what every sink renders. The text
fields are plain, untrusted text; each sink escapes them for its own format.
"""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec

from vigil.detections import Detection
from vigil.incidents.model import Incident
from vigil.priority import Priority


class BatchSummary(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What a batch window saw for one kind of incident on one route."""

    count: int
    unique_ips: int
    top_ip: str | None = None
    top_ip_count: int = 0
    #: first and last incident time in the window (seconds since the epoch)
    first_ts: float
    last_ts: float
    window_secs: float
    #: what the counted things are called ("attempts", "detections", ...)
    unit: str = "detections"
    #: incidents in the window (announced and held)
    incidents: int = 0


class Alert(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A message for one sink."""

    #: "incident" (an incident opened), "update" (it escalated), "closed", "summary" (a
    #: batch of incidents), "detection" (one detection, for per-detection sinks) or "test"
    kind: str
    route: str
    #: the rule or detector name (or a human title the detector supplied)
    title: str
    #: the message body: the incident's story, the summary sentence, a detection's output
    text: str
    priority: Priority
    #: when it happened (seconds since the epoch)
    ts: float
    #: what the alert is about: `incident:<id>`, or the batched group's key
    key: str = ""
    #: the incident as it was when the alert was made (incident, update and closed alerts)
    incident: Incident | None = None
    #: the detection itself (per-detection alerts), without its evidence events
    detection: Detection | None = None
    summary: BatchSummary | None = None
    hostname: str | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Alert)


def encode_alert(alert: Alert) -> bytes:
    """The outbox form of an alert."""
    return _encoder.encode(alert)


def decode_alert(data: bytes) -> Alert:
    """Inverse of `encode_alert`."""
    return _decoder.decode(data)


def iso_utc(ts: float) -> str:
    """`2026-11-26T12:00:05Z`: the time format used in alert texts."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def detection_time(det: Detection, fallback: float) -> float:
    """A detection's time in seconds (its `ts` is ns since the epoch; 0 means unknown)."""
    return det.ts / 1e9 if det.ts else fallback


def alert_ns(alert: Alert) -> int:
    """When the alert's subject happened, in ns since the epoch, without the float
    rounding of `alert.ts`: the detection's or the incident's own timestamp."""
    det, inc = alert.detection, alert.incident
    if det is not None and det.ts:
        return det.ts
    if inc is not None:
        ns = inc.first_ts if alert.kind == "incident" else (inc.last_ts or inc.first_ts)
        if ns:
            return ns
    return round(alert.ts * 1e9)
