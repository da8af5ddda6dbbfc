"""The detection pipeline: event → detections → suppression → incidents → audit trail → alerts.

One object, driven one event at a time by the agent (live) or by replay (recorded). Data
flows one way: the engines and detectors produce `Detection`s, the suppressor marks the
ones that are normal here, the correlator groups the others into incidents, the audit
trail records every detection with its fate (its incident, or why it was suppressed) and
every incident's lifecycle, and only then are incident events handed to the alert
pipeline.

Incidents open at once (never after a window); they close when idle or too old, checked
at each detection and at each `tick()` (the agent calls it between batches), and all
close when the pipeline finishes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from vigil.detections import Detection
from vigil.events.model import Event
from vigil.incidents.correlator import Correlator
from vigil.incidents.model import Incident, IncidentEvent, IncidentEventKind
from vigil.priority import Priority

log = logging.getLogger(__name__)

#: event times past this (year 9999) are not a clock (a hostile recording)
_MAX_SECONDS = 253402300799.0
#: the events that start a program
_EXECS = frozenset({"execve", "execveat"})


class EventConsumer(Protocol):
    """Anything with `on_event(event) -> list[Detection]` (engines and detectors)."""

    def on_event(self, event: Event) -> list[Detection]:
        """Detections for one event."""


@dataclass
class PipelineStats:
    """Counters of what went through the pipeline."""

    events: int = 0
    detections: int = 0
    #: unsuppressed detections (each part of an incident)
    unsuppressed: int = 0
    suppressed: int = 0
    incidents_opened: int = 0
    incidents_escalated: int = 0
    incidents_closed: int = 0
    errors: int = 0
    #: audit records that could not be written (the trail is down; detection goes on)
    audit_errors: int = 0
    per_name: dict[str, int] = field(default_factory=dict)
    suppressed_per_name: dict[str, int] = field(default_factory=dict)
    per_priority: dict[str, int] = field(default_factory=dict)

    @property
    def incidents(self) -> int:
        """Incidents opened (kept for the stats line and older callers)."""
        return self.incidents_opened


#: the pseudo event type a detector lists to see every event carrying a DNS question
#: (`sendto`, `sendmsg`, `sendmmsg`, `write` ... to a DNS port); no sensor captures more
#: for it: the eBPF sensor delivers DNS questions whatever types were asked for
DNS_EVENTS = "dns"


class DetectionPipeline:
    """Runs the engines and detectors on each event, then suppression, correlation, audit
    and alerting.

    Engines (Falco, Sigma) see every event and index their rules by type themselves;
    a detector sees only the event types it declares in `event_types`, plus every event
    carrying a DNS question (`Event.dns`, whatever its syscall) when it declares the
    pseudo type `DNS_EVENTS` ("dns").

    `suppress(det) -> det` returns the detection with `suppressed` set when it is normal;
    `shadow` (a `ShadowPolicy`) marks detections of rules and detectors in shadow mode;
    `correlator` groups unsuppressed detections into incidents (default: a new
    `Correlator`); `clock()` is the time incidents live by (default: the events' own
    time, for replays); `audit` has `record_detection(det, incident_id)`,
    `record_suppressed(det, incident_id)`, `record_incident(event)` and `flush()`;
    `alert(incident_event)` hands an event to the alert pipeline (must not block);
    `on_detection(det)` and `on_incident(incident_event)` see what passes (printing).
    """

    def __init__(self, engines: Sequence[EventConsumer], *,
                 detectors: Sequence[Any] = (),
                 suppress: Callable[[Detection], Detection] | None = None,
                 correlator: Correlator | None = None,
                 shadow: Any | None = None,
                 clock: Callable[[], float] | None = None,
                 audit: Any | None = None,
                 alert: Callable[[IncidentEvent], Any] | None = None,
                 on_detection: Callable[[Detection], None] | None = None,
                 on_incident: Callable[[IncidentEvent], None] | None = None) -> None:
        self.engines = list(engines)
        self.detectors = list(detectors)
        #: event type -> the `on_event` methods to call for it
        self._by_type: dict[str, tuple[Callable[[Event], list[Detection]], ...]] = {}
        self.suppress = suppress
        self.correlator = correlator if correlator is not None else Correlator()
        #: `ShadowPolicy`: rules and detectors whose detections never alert (or None)
        self.shadow = shadow
        self.clock = clock
        self.audit = audit
        self.alert = alert
        self.on_detection = on_detection
        self.on_incident = on_incident
        self.stats = PipelineStats()
        self._event_now = 0.0
        self._next_tick = 0.0

    # --- time -----------------------------------------------------------------------------

    def now(self, ts_ns: int = 0) -> float:
        """The incidents' clock: the agent's clock, or the latest event time seen."""
        if self.clock is not None:
            return self.clock()
        if ts_ns:
            t = ts_ns / 1e9
            if self._event_now < t <= _MAX_SECONDS:
                self._event_now = t
        return self._event_now

    # --- the flow ---------------------------------------------------------------------------

    def process(self, event: Event) -> list[Detection]:
        """Handle one event; returns its detections (suppressed ones included)."""
        st = self.stats
        st.events += 1
        key = event.type if event.dns is None else DNS_EVENTS + ":" + event.type
        handlers = self._by_type.get(key)
        if handlers is None:
            handlers = self._handlers(event.type, event.dns is not None)
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
        if event.type in _EXECS and self.correlator.tracks_processes and \
                (event.res is None or event.res >= 0):
            self.correlator.observe(event)
        if not found:
            if self.clock is None and event.ts:
                # a replay: time passes with the events, so quiet incidents close on time
                now = self.now(event.ts)
                if now >= self._next_tick:
                    self.tick(now)
            return found
        out = []
        shadow = self.shadow
        for det in found:
            if self.suppress is not None and det.suppressed is None:
                try:
                    det = self.suppress(det)
                except Exception:
                    st.errors += 1
                    log.exception("suppression failed; the detection is kept unsuppressed")
            if shadow and det.suppressed is None:
                det = shadow.mark(det)
            out.append(det)
        self.handle(out)
        return out

    def handle(self, dets: list[Detection]) -> None:
        """Take detections whose suppression is decided (`process` calls this; a source of
        ready-made detections may too): correlate, audit, print, alert."""
        for det in dets:
            self._account(det)
        self._correlate_and_record(dets)

    def tick(self, now: float | None = None) -> list[Incident]:
        """Close the incidents that are idle or too old by `now` (default: the clock), and
        give an audit trail that could not be written its chance to recover."""
        now = self.now() if now is None else now
        self._next_tick = now + 1.0
        closed = self.correlator.expire(now)
        if closed:
            self._closed(closed)
        trail = self.audit
        if trail is not None and getattr(trail, "degraded", None) is not None:
            trail.retry()
            self._report_trail_health()
        return closed

    def finish(self, reason: str = "shutdown") -> list[Incident]:
        """Close every open incident (the agent stops, a replay ends)."""
        closed = self.correlator.close_all(reason)
        if closed:
            self._closed(closed)
        return closed

    def replace_engines(self, engines: Sequence[EventConsumer]) -> None:
        """Run these engines from the next event on (hot reload; on the engine thread).
        Open incidents are kept."""
        self.engines = list(engines)
        self._by_type = {}

    # --- internals -------------------------------------------------------------------------

    def _correlate_and_record(self, dets: list[Detection]) -> None:
        corr = self.correlator
        events: list[IncidentEvent] = []
        closed_first: list[Incident] = []
        ids: list[str | None] = []
        for det in dets:
            if det.suppressed is not None:
                ids.append(corr.attach(det))
                continue
            c, closed = corr.add(det, self.now(det.ts))
            closed_first.extend(closed)
            ids.append(c.incident_id)
            if c.kind is IncidentEventKind.JOINED and self.alert is None:
                continue  # nobody reads a growing incident's snapshot: do not build it
            snap = corr.snapshot(c.incident_id)
            if snap is None:  # cannot happen: the incident was just touched
                continue
            if c.kind is IncidentEventKind.OPENED:
                self.stats.incidents_opened += 1
            elif c.kind is IncidentEventKind.ESCALATED:
                self.stats.incidents_escalated += 1
            events.append(IncidentEvent(kind=c.kind, incident=snap,
                                        detection=_slim(det),
                                        previous_priority=c.previous_priority))
        if closed_first:
            self._closed(closed_first)
        self._audit(dets, ids, events)
        for det in dets:
            if self.on_detection is not None:
                self.on_detection(det)
        for ev in events:
            if self.on_incident is not None and ev.kind is not IncidentEventKind.JOINED:
                self.on_incident(ev)
            if self.alert is not None:
                self.alert(ev)

    def _audit(self, dets: list[Detection], ids: list[str | None],
               events: list[IncidentEvent]) -> None:
        trail = self.audit
        if trail is None:
            return
        try:
            for det, inc_id in zip(dets, ids):
                if det.suppressed is None:
                    trail.record_detection(det, inc_id)
                else:
                    trail.record_suppressed(det, inc_id)
            for ev in events:
                if ev.kind is not IncidentEventKind.JOINED:
                    trail.record_incident(ev)
            # the trail is on disk (fsync) before any alert about these detections leaves;
            # suppressed-only batches are written now and synced with the next incident
            # or at close, so a noisy suppressed rule does not fsync per event
            if events and self.alert is not None:
                trail.flush()
        except Exception:
            self.stats.audit_errors += 1
            log.exception("audit trail write failed; detection goes on")
        self._report_trail_health()

    def _report_trail_health(self) -> None:
        """An audit trail that stopped (or started again) being writable is news: a
        detection about Vigil itself, through incidents and alerts like any other."""
        take = getattr(self.audit, "take_changes", None)
        if take is None:
            return
        for state, text in take():
            down = state == "down"
            det = Detection(
                kind="detector", name="vigil_health",
                rule_id="vigil_health.audit_unavailable" if down
                else "vigil_health.audit_recovered",
                priority=Priority.ERROR if down else Priority.NOTICE,
                output=(f"Audit trail unavailable ({text}): detections go on and their "
                        f"records are held in memory until it can be written" if down
                        else f"Audit trail writable again: {text}"),
                ts=int(self.now() * 1e9), tags=["vigil.health"],
                data={"title": "Audit trail unavailable" if down
                      else "Audit trail recovered"})
            self.handle([det])

    def _closed(self, closed: list[Incident]) -> None:
        self.stats.incidents_closed += len(closed)
        events = [IncidentEvent(kind=IncidentEventKind.CLOSED, incident=inc) for inc in closed]
        if self.audit is not None:
            try:
                for ev in events:
                    self.audit.record_incident(ev)
            except Exception:
                self.stats.audit_errors += 1
                log.exception("audit trail write failed; detection goes on")
        for ev in events:
            if self.on_incident is not None:
                self.on_incident(ev)
            if self.alert is not None:
                self.alert(ev)

    def replace_detectors(self, detectors: Sequence[Any]) -> None:
        """Run these detectors from the next event on (configuration reload; on the engine
        thread)."""
        self.detectors = list(detectors)
        self._by_type = {}

    def _handlers(self, evtype: str, dns: bool = False
                  ) -> tuple[Callable[[Event], list[Detection]], ...]:
        out = [e.on_event for e in self.engines]
        out += [d.on_event for d in self.detectors if evtype in d.event_types
                or (dns and DNS_EVENTS in d.event_types)]
        handlers = tuple(out)
        self._by_type[DNS_EVENTS + ":" + evtype if dns else evtype] = handlers
        return handlers

    def _account(self, det: Detection) -> None:
        st = self.stats
        st.detections += 1
        key = det.name if det.kind != "sigma" else f"sigma:{det.rule_id}"
        st.per_name[key] = st.per_name.get(key, 0) + 1
        if det.suppressed is None:
            st.unsuppressed += 1
            label = det.priority.label
            st.per_priority[label] = st.per_priority.get(label, 0) + 1
        else:
            st.suppressed += 1
            st.suppressed_per_name[key] = st.suppressed_per_name.get(key, 0) + 1


def _slim(det: Detection) -> Detection:
    """The detection without its evidence events (those stay in the audit trail)."""
    if not det.evidence:
        return det
    import msgspec
    return msgspec.structs.replace(det, evidence=[])
