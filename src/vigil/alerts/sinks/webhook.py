"""Generic JSON webhook sink: POSTs one JSON document per alert (format in docs/alerts.md).

`JsonWebhookSink` is also the base of the Falco JSON sink, which only changes the document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx
import msgspec

from vigil.alerts.config import SinkConfig
from vigil.alerts.message import Alert, iso_utc
from vigil.alerts.sinks.http import JsonPoster


def webhook_document(alert: Alert) -> dict[str, Any]:
    """Vigil's own alert JSON: the alert's fields, priorities by name, time in ISO form."""
    doc = msgspec.to_builtins(alert)
    doc["priority"] = alert.priority.label
    doc["time"] = iso_utc(alert.ts)
    if alert.detection is not None:
        doc["detection"]["priority"] = alert.detection.priority.label
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
