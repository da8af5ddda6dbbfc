"""The shape of a built-in detector."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from vigil.detections import Detection
from vigil.events.model import Event


@runtime_checkable
class Detector(Protocol):
    """A stateful detector: events in, detections out.

    `event_types` lists the event types it needs (the kernel filter is built from the union
    of what rules and detectors need). A detection whose static allowlist matched is still
    returned, with `suppressed` set, so that it reaches the audit trail.
    """

    name: str
    event_types: frozenset[str]

    def on_event(self, event: Event) -> list[Detection]:
        """Look at one event; return what it detects (usually nothing)."""
