"""Logging of the `vigil` command: one format, and libraries kept quiet.

httpx logs every request at INFO ("HTTP Request: POST https://... 200 OK"): one line per
alert sent, with the URL (which, for Telegram, Slack and most webhooks, is the secret).
Those libraries are set to WARNING, so their chatter does not reach the agent's output;
their warnings and errors still do, through the sinks' redacting filters
(`vigil.alerts.sinks.redact`).
"""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: libraries whose INFO/DEBUG lines are chatter for a Vigil user
QUIET_LIBRARIES = ("httpx", "httpcore", "hpack")


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr at `level`, with the libraries in `QUIET_LIBRARIES` at WARNING."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
