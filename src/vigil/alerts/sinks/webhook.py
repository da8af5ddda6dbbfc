"""Generic JSON webhook sink: POSTs one JSON document per alert (format in docs/alerts.md).

`JsonWebhookSink` is also the base of the Falco JSON sink, which only changes the document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx
import msgspec

from vigil.alerts.config import SinkConfig
from vigil.alerts.message import Alert, alert_ns
from vigil.alerts.sinks.http import JsonPoster
from vigil.incidents.render import incident_document, rfc3339


def webhook_document(alert: Alert) -> dict[str, Any]:
    """Vigil's own alert JSON (docs/alerts.md): priorities by name, every time once as RFC
    3339 with nanoseconds (`time`, `first_time`, ...) and once as ns since the epoch
    (`ts_ns`, `first_ts`, ...); an incident as `incident_document` gives it."""
    ns = alert_ns(alert)
    doc: dict[str, Any] = {"kind": alert.kind, "route": alert.route, "title": alert.title,
                           "text": alert.text, "priority": alert.priority.label,
                           "time": rfc3339(ns), "ts_ns": ns, "key": alert.key}
    if alert.hostname:
        doc["hostname"] = alert.hostname
    if alert.incident is not None:
        doc["incident"] = incident_document(alert.incident)
    if alert.detection is not None:
        det = msgspec.to_builtins(alert.detection)
        det["priority"] = alert.detection.priority.label
        det["time"] = rfc3339(alert.detection.ts)
        det.pop("evidence", None)
        doc["detection"] = det
    if alert.summary is not None:
        s = msgspec.to_builtins(alert.summary)
        for k in ("first_ts", "last_ts"):
            t = round(getattr(alert.summary, k) * 1e9)
            s[k] = t
            s[k.replace("_ts", "_time")] = rfc3339(t)
        doc["summary"] = s
    return doc


class JsonWebhookSink:
    """POSTs `document(alert)` as JSON to a URL, with optional extra headers."""

    document: Callable[[Alert], dict[str, Any]] = staticmethod(webhook_document)
    kind = "webhook"

    def __init__(self, name: str, *, url: str, headers: Mapping[str, str] | None = None,
                 timeout: float = 10.0, min_interval: float = 0.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.name = name
        self.min_interval = min_interval
        self._url = url
        secrets = (url, *(headers or {}).values())
        self._http = JsonPoster(what=f"{self.kind} sink {name!r}", timeout=timeout,
                                secrets=secrets, headers=headers, transport=transport)

    @classmethod
    def from_config(cls, cfg: SinkConfig, *, environ: Mapping[str, str] | None = None,
                    transport: httpx.BaseTransport | None = None) -> "JsonWebhookSink":
        """Build from `[alerts.sinks.<name>]`."""
        return cls(cfg.name, url=cfg.secret("url", environ), headers=cfg.options.get("headers"),
                   timeout=cfg.timeout_secs, min_interval=cfg.min_interval_secs,
                   transport=transport)

    def render(self, alert: Alert) -> list[dict[str, Any]]:
        """One document per alert."""
        return [self.document(alert)]

    def deliver(self, part: dict[str, Any]) -> None:
        """POST one document; raises `SinkError`."""
        self._http.post(self._url, part)

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()
