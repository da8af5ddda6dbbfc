"""The detection pipeline: event → detections → suppression → audit trail → alerts.

One object, driven one event at a time by the agent (live) or by replay (recorded). Data
flows one way: the engines and detectors produce `Detection`s, the suppressor marks the
ones that are normal here, the audit trail records every detection with its fate, and only
unsuppressed ones (incidents) are handed to the alert pipeline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from vigil.detections import Detection
from vigil.events.model import Event

log = logging.getLogger(__name__)


class EventConsumer(Protocol):
    """Anything with `on_event(event) -> list[Detection]` (engines and detectors)."""

    def on_event(self, event: Event) -> list[Detection]:
        """Detections for one event."""


@dataclass
class PipelineStats:
    """Counters of what went through the pipeline."""

    events: int = 0
    detections: int = 0
    incidents: int = 0
    suppressed: int = 0
    errors: int = 0
    per_name: dict[str, int] = field(default_factory=dict)
    suppressed_per_name: dict[str, int] = field(default_factory=dict)


class DetectionPipeline:
    """Runs the engines and detectors on each event, then suppression, audit and alerting.

    Engines (Falco, Sigma) see every event and index their rules by type themselves;
    a detector sees only the event types it declares in `event_types`.

    `suppress(det) -> det` returns the detection with `suppressed` set when it is normal;
    `audit` has `record_incident(det)` / `record_suppressed(det)` / `flush()`;
    `alert(det)` hands an incident to the alert pipeline (must not block).
    """

    def __init__(self, engines: Sequence[EventConsumer], *,
                 detectors: Sequence[Any] = (),
                 suppress: Callable[[Detection], Detection] | None = None,
                 audit: Any | None = None,
                 alert: Callable[[Detection], Any] | None = None,
                 on_detection: Callable[[Detection], None] | None = None) -> None:
        self.engines = list(engines)
        self.detectors = list(detectors)
        #: event type -> the `on_event` methods to call for it
        self._by_type: dict[str, tuple[Callable[[Event], list[Detection]], ...]] = {}
        self.suppress = suppress
        self.audit = audit
        self.alert = alert
        self.on_detection = on_detection
        self.stats = PipelineStats()

    def process(self, event: Event) -> list[Detection]:
        """Handle one event; returns its detections (suppressed ones included)."""
        st = self.stats
        st.events += 1
        handlers = self._by_type.get(event.type)
        if handlers is None:
            handlers = self._handlers(event.type)
        found: list[Detection] = []
        for h in handlers:
            try:
                got = h(event)
            except Exception:  # one consumer failing on one event must not stop the others
                st.errors += 1
                log.exception("%s failed on a %s event", h, event.type)
                continue
            if got:
                found.extend(got)
        if not found:
            return found
        out = []
        for det in found:
            if self.suppress is not None and det.suppressed is None:
                try:
                    det = self.suppress(det)
                except Exception:
                    st.errors += 1
                    log.exception("suppression failed; the detection is kept as an incident")
            out.append(det)
            self._account(det)
        if self.audit is not None:
            incident = False
            for det in out:
                if det.suppressed is None:
                    self.audit.record_incident(det)
                    incident = True
                else:
                    self.audit.record_suppressed(det)
            # the trail is on disk (fsync) before any alert about these detections leaves;
            # suppressed-only batches are written now and synced with the next incident
            # or at close, so a noisy suppressed rule does not fsync per event
            if incident and self.alert is not None:
                self.audit.flush()
        for det in out:
            if self.on_detection is not None:
                self.on_detection(det)
            if det.suppressed is None and self.alert is not None:
                self.alert(det)
        return out

    def replace_engines(self, engines: Sequence[EventConsumer]) -> None:
        """Run these engines from the next event on (hot reload; on the engine thread)."""
        self.engines = list(engines)
        self._by_type = {}

    def _handlers(self, evtype: str) -> tuple[Callable[[Event], list[Detection]], ...]:
        out = [e.on_event for e in self.engines]
        out += [d.on_event for d in self.detectors if evtype in d.event_types]
        handlers = tuple(out)
        self._by_type[evtype] = handlers
        return handlers

    def _account(self, det: Detection) -> None:
        st = self.stats
        st.detections += 1
        key = det.name if det.kind != "sigma" else f"sigma:{det.rule_id}"
        st.per_name[key] = st.per_name.get(key, 0) + 1
        if det.suppressed is None:
            st.incidents += 1
        else:
            st.suppressed += 1
            st.suppressed_per_name[key] = st.suppressed_per_name.get(key, 0) + 1
