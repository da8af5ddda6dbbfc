"""The shape of a sink, and the error that says whether a retry can help.

A sink turns an `Alert` into one or more *parts* (`render`) and delivers them one at a
time (`deliver`). Splitting lets the delivery loop record progress per part (so a crash
never re-sends a whole long message) and respect a sink's rate limit between parts
without sleeping.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from vigil.alerts.message import Alert


class SinkError(Exception):
    """Delivery failed. `retryable` says whether trying again can help (a 5xx, a timeout,
    a 429) or not (a 4xx: bad token, unknown chat); `retry_after` is the delay the remote
    asked for, in seconds. Messages never contain secrets (sinks redact them)."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


@runtime_checkable
class Sink(Protocol):
    """A destination for alerts."""

    name: str
    #: seconds to leave between two deliveries (Telegram: about one per second per chat)
    min_interval: float

    def render(self, alert: Alert) -> list[Any]:
        """The parts to deliver for `alert`, in order (usually one)."""

    def deliver(self, part: Any) -> None:
        """Deliver one part; raise `SinkError` on failure."""

    def close(self) -> None:
        """Release connections and files."""
