"""The contract every sensor meets, so the agent can run them all the same way."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from vigil.events.model import Event


class SensorUnavailable(RuntimeError):
    """The sensor cannot run here; the message is one line saying why (no root, no BTF...)."""


@runtime_checkable
class Sensor(Protocol):
    """A source of events.

    The agent calls `start()` once, then `read()` in a loop on the sensor's own thread and
    puts what it returns on the engine's queue, then `stop()`. `read()` returns quickly
    (within `timeout` seconds) even when nothing happened, so stopping is prompt.
    """

    name: str

    def start(self) -> None:
        """Open files, load programs; raise `SensorUnavailable` with a one-line reason."""

    def read(self, timeout: float) -> list[Event]:
        """The events seen since the last call (possibly none)."""

    def stop(self) -> None:
        """Release everything; safe to call twice."""

    def stats(self) -> dict[str, int]:
        """Counters for the stats line and metrics (events, drops, errors, ...)."""
