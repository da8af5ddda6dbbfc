"""Keep secrets out of logs and error messages.

HTTP libraries log request URLs (httpx does at INFO), and a Telegram bot token is part of
the URL. Sinks register their secrets here; a logging filter on those loggers rewrites
records before any handler sees them, and `redact()` scrubs error texts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

REDACTED = "<redacted>"

#: loggers that may print request URLs or headers
_HTTP_LOGGERS = ("httpx", "httpcore", "httpcore.connection", "httpcore.http11",
                 "httpcore.http2", "httpcore.proxy")


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by `<redacted>`."""
    for s in secrets:
        if s:
            text = text.replace(s, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that removes the given secrets from a record's message."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = frozenset(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = redact(msg, self.secrets)
        if clean != msg:
            record.msg, record.args = clean, None
        return True


def protect_http_logs(secrets: Iterable[str]) -> RedactingFilter:
    """Install a `RedactingFilter` for `secrets` on the HTTP libraries' loggers; returns it
    so that the sink can remove it on close (`unprotect_http_logs`)."""
    flt = RedactingFilter(secrets)
    for name in _HTTP_LOGGERS:
        logging.getLogger(name).addFilter(flt)
    return flt


def unprotect_http_logs(flt: RedactingFilter) -> None:
    """Remove a filter installed by `protect_http_logs`."""
    for name in _HTTP_LOGGERS:
        logging.getLogger(name).removeFilter(flt)
