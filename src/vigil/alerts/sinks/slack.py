"""Slack incoming-webhook sink: a header block, the escaped text and a context line.

429 answers carry `Retry-After`, which is honoured. The webhook URL is the secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from vigil.alerts.config import SinkConfig
from vigil.alerts.message import Alert
from vigil.alerts.sinks.http import JsonPoster
from vigil.alerts.sinks.text import escape_slack, footer_text

#: Slack's limits: header text 150 characters, section text 3000
_HEADER_MAX = 150
_SECTION_MAX = 3000


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SlackSink:
    """Posts alerts to a Slack incoming webhook."""

    def __init__(self, name: str, *, url: str, timeout: float = 10.0, min_interval: float = 0.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.name = name
        self.min_interval = min_interval
        self._url = url
        self._http = JsonPoster(what=f"slack sink {name!r}", timeout=timeout, secrets=(url,),
                                transport=transport)

    @classmethod
    def from_config(cls, cfg: SinkConfig, *, environ: Mapping[str, str] | None = None,
                    transport: httpx.BaseTransport | None = None) -> "SlackSink":
        """Build from `[alerts.sinks.<name>]`."""
        return cls(cfg.name, url=cfg.secret("url", environ), timeout=cfg.timeout_secs,
                   min_interval=cfg.min_interval_secs, transport=transport)

    def render(self, alert: Alert) -> list[dict[str, Any]]:
        """One webhook payload with blocks, and a plain `text` fallback for notifications."""
        header = _cut(f"[{alert.priority.label}] {alert.title}", _HEADER_MAX)
        return [{
            "text": _cut(escape_slack(f"{header}: {alert.text}"), _SECTION_MAX),
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": header}},
                {"type": "section",
                 "text": {"type": "mrkdwn", "text": _cut(escape_slack(alert.text), _SECTION_MAX)}},
                {"type": "context",
                 "elements": [{"type": "mrkdwn", "text": escape_slack(footer_text(alert))}]},
            ],
        }]

    def deliver(self, part: dict[str, Any]) -> None:
        """POST one payload; raises `SinkError` (429 honours Retry-After)."""
        self._http.post(self._url, part)

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()
