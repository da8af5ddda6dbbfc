"""JSON-lines sinks: append alerts to a file, or print them on stdout.

Each line is the webhook document (`webhook_document`), so a file sink, a stdout sink and
a webhook receiver all see the same JSON.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

import msgspec

from vigil.alerts.config import SinkConfig
from vigil.alerts.message import Alert
from vigil.alerts.sinks.base import SinkError
from vigil.alerts.sinks.webhook import webhook_document

_encoder = msgspec.json.Encoder()


class FileSink:
    """Appends one JSON line per alert to `path` (flushed per alert)."""

    def __init__(self, name: str, *, path: Path, min_interval: float = 0.0) -> None:
        self.name = name
        self.min_interval = min_interval
        self.path = Path(path)

    @classmethod
    def from_config(cls, cfg: SinkConfig) -> "FileSink":
        """Build from `[alerts.sinks.<name>]`."""
        return cls(cfg.name, path=Path(cfg.options["path"]), min_interval=cfg.min_interval_secs)

    def render(self, alert: Alert) -> list[bytes]:
        """One JSON line."""
        return [_encoder.encode(webhook_document(alert)) + b"\n"]

    def deliver(self, part: bytes) -> None:
        """Append the line; a full disk or a missing directory is retryable."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as f:
                f.write(part)
        except OSError as e:
            raise SinkError(f"file sink {self.name!r}: {self.path}: {e.strerror or e}",
                            retryable=True) from None

    def close(self) -> None:
        """Nothing to release: the file is opened per alert so rotation just works."""


class StdoutSink:
    """Prints one JSON line per alert on a stream (stdout by default)."""

    def __init__(self, name: str, *, stream: IO[str] | None = None,
                 min_interval: float = 0.0) -> None:
        self.name = name
        self.min_interval = min_interval
        self._stream = stream

    def render(self, alert: Alert) -> list[str]:
        """One JSON line."""
        return [_encoder.encode(webhook_document(alert)).decode() + "\n"]

    def deliver(self, part: str) -> None:
        """Write and flush the line."""
        stream = self._stream or sys.stdout
        try:
            stream.write(part)
            stream.flush()
        except (OSError, ValueError) as e:
            raise SinkError(f"stdout sink {self.name!r}: {e}", retryable=False) from None

    def close(self) -> None:
        """Nothing to release."""
