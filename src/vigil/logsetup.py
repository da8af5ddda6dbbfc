"""Logging of the `vigil` command: one format, and libraries kept quiet.

httpx logs every request at INFO ("HTTP Request: POST https://... 200 OK"): one line per
alert sent, with the URL (which, for Telegram, Slack and most webhooks, is the secret).
Those libraries are set to WARNING, so their chatter does not reach the agent's output;
their warnings and errors still do, through the sinks' redacting filters
(`vigil.alerts.sinks.redact`).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: libraries whose INFO/DEBUG lines are chatter for a Vigil user
QUIET_LIBRARIES = ("httpx", "httpcore", "hpack")
LOG_FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """One JSON object per line for log collectors: `time` (RFC 3339, UTC), `level`,
    `component` (the logger: `vigil.run`, `vigil.sensors.ebpf` ...), `message`, and
    `exception` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": datetime.fromtimestamp(record.created, timezone.utc)
               .strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
               "level": record.levelname, "component": record.name,
               "message": record.getMessage()}
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=True)


def configure_logging(level: int = logging.INFO, fmt: str = "text") -> None:
    """Log to stderr at `level` in one format — `text` (time, level, component, message)
    or `json` — with the libraries in `QUIET_LIBRARIES` at WARNING. Calling it again
    switches the format (the `--log-format` option)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format=LOG_FORMAT)
    root.setLevel(level)
    formatter: logging.Formatter = JsonFormatter() if fmt == "json" \
        else logging.Formatter(LOG_FORMAT)
    for handler in root.handlers:
        handler.setFormatter(formatter)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
