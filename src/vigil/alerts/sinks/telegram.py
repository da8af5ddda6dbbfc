"""Telegram Bot API sink (`sendMessage`).

Untrusted text (command lines, file names, rule output) is escaped for the chosen parse
mode (HTML by default, or MarkdownV2); long alerts are split at Telegram's 4096-character
limit into parts delivered one per `min_interval` (about one message per second per chat,
as Telegram asks); a 429's `parameters.retry_after` is honoured. The bot token is part of
the request URL, so it is redacted from every error and from the HTTP libraries' logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from vigil.alerts.config import SinkConfig
from vigil.alerts.message import Alert
from vigil.alerts.sinks.base import SinkError
from vigil.alerts.sinks.http import JsonPoster, retry_after_header
from vigil.alerts.sinks.text import (escape_html, escape_markdown_v2, escaped_atoms,
                                     footer_text, pack)

MAX_MESSAGE = 4096
DEFAULT_API_URL = "https://api.telegram.org"


class TelegramSink:
    """Sends alerts to one Telegram chat through a bot."""

    def __init__(self, name: str, *, token: str, chat_id: str, api_url: str = DEFAULT_API_URL,
                 parse_mode: str = "HTML", disable_notification: bool = False,
                 timeout: float = 10.0, min_interval: float = 1.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        if parse_mode not in ("HTML", "MarkdownV2"):
            raise ValueError(f"parse_mode must be HTML or MarkdownV2, not {parse_mode!r}")
        self.name = name
        self.min_interval = min_interval
        self.chat_id = chat_id
        self.parse_mode = parse_mode
        self.disable_notification = disable_notification
        self._url = f"{api_url.rstrip('/')}/bot{token}/sendMessage"
        self._http = JsonPoster(what=f"telegram sink {name!r}", timeout=timeout,
                                secrets=(token,), transport=transport)

    @classmethod
    def from_config(cls, cfg: SinkConfig, *, environ: Mapping[str, str] | None = None,
                    transport: httpx.BaseTransport | None = None) -> "TelegramSink":
        """Build from `[alerts.sinks.<name>]` (token/chat id inline or from the environment)."""
        return cls(cfg.name, token=cfg.secret("token", environ),
                   chat_id=cfg.secret("chat_id", environ),
                   api_url=cfg.options.get("api_url", DEFAULT_API_URL),
                   parse_mode=cfg.options.get("parse_mode", "HTML"),
                   disable_notification=cfg.options.get("disable_notification", False),
                   timeout=cfg.timeout_secs, min_interval=cfg.min_interval_secs,
                   transport=transport)

    def render(self, alert: Alert) -> list[str]:
        """The message texts: a bold header, the escaped body, an italic footer."""
        if self.parse_mode == "HTML":
            esc = escape_html
            header = f"<b>[{alert.priority.label}] {esc(alert.title)}</b>\n"
            footer = f"\n<i>{esc(footer_text(alert))}</i>"
        else:
            esc = escape_markdown_v2
            header = f"*\\[{alert.priority.label}\\] {esc(alert.title)}*\n"
            footer = f"\n_{esc(footer_text(alert))}_"
        atoms = [header, *escaped_atoms(alert.text, esc, MAX_MESSAGE - len(header)), footer]
        return pack(atoms, MAX_MESSAGE)

    def deliver(self, part: str) -> None:
        """Send one message; raises `SinkError` (retryable for 429/5xx/network)."""
        payload: dict[str, Any] = {"chat_id": self.chat_id, "text": part,
                                   "parse_mode": self.parse_mode,
                                   "disable_web_page_preview": True}
        if self.disable_notification:
            payload["disable_notification"] = True
        resp = self._http.post(self._url, payload, check=False)
        if resp.is_success:
            return
        retry_after = retry_after_header(resp)
        try:
            body = resp.json()
            params = body.get("parameters") or {}
            if isinstance(params.get("retry_after"), (int, float)):
                retry_after = float(params["retry_after"])
        except (ValueError, AttributeError):
            pass
        raise self._http.status_error(resp, retry_after)

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()
