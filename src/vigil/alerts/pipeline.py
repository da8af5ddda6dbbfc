"""`AlertPipeline`: incident events in, messages out — routing → batching → outbox → delivery.

The engine calls `submit(incident_event)`, which only appends to a bounded in-memory queue
and never blocks; when the queue is full the event is counted as dropped and `submit`
returns False (the incident is still in the audit trail, written before). Events that
only grow an incident (`joined`) give way first: they are refused once the queue is 90 %
full, so room stays for openings, escalations and closings.
Everything after the queue happens in two stages, run by `pump(now)` with an injected clock
(tests, replays) or by background threads (`start()`/`stop()`):

1. accept: drain the queue; close the batch windows that ended by `now`; route each
   incident event: an incident that newly matches a route is announced (its message waits
   the route's `group_wait_secs` for the rest of the story and is revised meanwhile) or
   held for its group's summary; an escalation sends an update; a closing sends a closed
   message where the route asks for it; per-detection routes get one message per
   detection. The outcome — queued messages, window members — goes to the SQLite outbox
   in one transaction;
2. deliver: send due messages, with retries, backoff and dead-lettering.

With `start()`, acceptance runs on one thread and delivery on one thread per sink, so a
sink that hangs for its whole timeout delays neither the queue nor the other sinks.

So an incident is durable once a pump has accepted it: a crash after that loses nothing,
and a restart resumes open windows and pending deliveries from the outbox.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from vigil.alerts.batching import (Batcher, Closed, Member, Window, closed_alert,
                                   detection_alert, incident_alert, update_alert)
from vigil.alerts.config import AlertsConfig, RouteConfig
from vigil.alerts.delivery import DeadLetterHook, Deliverer
from vigil.alerts.message import Alert
from vigil.alerts.outbox import OUTBOX_FILE, Outbox, OutboxCounts
from vigil.alerts.routing import Router, group_key, incident_matches, route_matches
from vigil.alerts.sinks.base import Sink
from vigil.alerts.sinks.factory import build_sinks
from vigil.detections import Detection
from vigil.incidents.model import Incident, IncidentEvent, IncidentEventKind
from vigil.priority import Priority

log = logging.getLogger(__name__)

#: sent messages older than this are deleted from the outbox when a pipeline starts
SENT_RETENTION_SECS = 7 * 86400


@dataclass
class PipelineStats:
    """Counters since the pipeline was created."""

    submitted: int = 0
    #: refused by submit() because the queue was full (all kinds)
    dropped: int = 0
    #: of those, `joined` events (an incident growing), refused first
    dropped_joined: int = 0
    #: incident events that matched no route when they were accepted
    unrouted: int = 0
    #: (incident, route) pairs announced or held
    accepted: int = 0
    #: incidents announced with their own message
    immediate: int = 0
    #: incidents held for a batch summary
    held: int = 0
    #: escalation messages
    updates: int = 0
    #: closing messages
    closings: int = 0
    #: messages revised while they waited for the rest of their story
    revised: int = 0
    #: per-detection messages (Falco JSON sinks in detection mode)
    per_detection: int = 0
    summaries: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    #: deepest the queue has been seen by a pump
    max_queue_depth: int = 0
    #: detections that could not be routed/batched (a bug or malformed data; logged)
    errors: int = 0


@dataclass
class _RouteState:
    """What one route knows of one open incident."""

    group: str
    #: the incident's detections already counted (window growth is added as it comes)
    counted: int
    #: True once the incident has its own message on this route (not only held)
    announced: bool
    #: the priority the route was last told about
    priority: Priority
    #: while the opening message waits (group_wait), when it leaves
    pending_until: float | None = None


#: an incident of a batch group (a brute-force storm) sends an update only when it
#: becomes this severe (a login succeeded after the failures); smaller rises are told by
#: the group's summary, not by a message per attacker
BATCHED_ESCALATION = Priority.ERROR

#: route states kept at most (they belong to open incidents; a lost closing event must
#: not let them grow forever)
_MAX_ROUTE_STATES = 100_000


class AlertPipeline:
    """The alert pipeline of one agent. See the module docstring for the flow.

    `sinks` replaces the sinks built from `config` (tests); `transport` replaces the
    network of the HTTP sinks (benchmarks); `environ` is where `*_env` secrets are read.
    `on_dead_letter(alert, sink_name, reason)` is called for every dead-lettered message
    (the agent records it in the audit trail).
    """

    def __init__(self, config: AlertsConfig, state_dir: Path,
                 clock: Callable[[], float] = time.time,
                 on_dead_letter: DeadLetterHook | None = None, *,
                 sinks: Mapping[str, Sink] | None = None,
                 transport: httpx.BaseTransport | None = None,
                 environ: Mapping[str, str] | None = None,
                 poll_interval: float = 0.1) -> None:
        self.config = config
        self._clock = clock
        self._poll_interval = poll_interval
        self._routes = {r.name: r for r in config.routes}
        self._router = Router(config.routes)
        self._batcher = Batcher(hostname=config.hostname or socket.gethostname())
        self._queue: deque[IncidentEvent] = deque()
        self._states: OrderedDict[tuple[str, str], _RouteState] = OrderedDict()
        #: opening messages to revise at the end of this round: (sink, dedupe) -> alert
        self._revisions: dict[tuple[str, str], Alert] = {}
        #: window members changed this round, saved once at its end
        self._dirty: dict[tuple[str, str, str], tuple[Window, Member]] = {}
        self._lock = threading.RLock()
        self._stats_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sink_wakes: dict[str, threading.Event] = {}
        self._stats = PipelineStats()
        self._last_drop_log = 0.0
        self._sinks = dict(sinks) if sinks is not None else build_sinks(
            config.sinks, environ=environ, transport=transport)
        self.outbox = Outbox(Path(state_dir) / OUTBOX_FILE)
        self._deliverer = Deliverer(self.outbox, self._sinks, config.retry, on_dead_letter,
                                    clock=clock)
        self.outbox.prune_sent(clock() - SENT_RETENTION_SECS)
        self._restore()

    # --- the engine side ----------------------------------------------------------------

    def submit(self, ev: IncidentEvent) -> bool:
        """Hand an incident event to the pipeline without blocking; False when the queue
        is full (counted in `stats().dropped` and logged, at most once a minute)."""
        q = self._queue
        limit = self.config.queue_size
        if ev.kind is IncidentEventKind.JOINED:
            limit = max(1, limit * 9 // 10)
        if len(q) >= limit:
            self._stats.dropped += 1
            if ev.kind is IncidentEventKind.JOINED:
                self._stats.dropped_joined += 1
            self._log_drop(ev)
            return False
        q.append(ev)
        self._stats.submitted += 1
        if len(q) == 1:
            self._wake.set()  # first after idle: deliver "immediately", not at the next poll
        return True

    def _log_drop(self, ev: IncidentEvent) -> None:
        now = time.monotonic()
        if now - self._last_drop_log < 60:
            return
        self._last_drop_log = now
        log.warning("alert queue full (%d): %s event of incident %s not alerted (it is in "
                    "the audit trail); %d dropped so far", self.config.queue_size,
                    ev.kind.value, ev.incident.short_id(), self._stats.dropped)

    # --- the pipeline side --------------------------------------------------------------

    def pump(self, now: float | None = None) -> PipelineStats:
        """One synchronous round at time `now` (default: the clock): accept queued
        events, close ended windows, deliver what is due. Returns the stats so far."""
        now = self._clock() if now is None else now
        self._accept_queued(now)
        self._deliver(now)
        return self.stats()

    tick = pump

    def process(self, ev: IncidentEvent, now: float | None = None) -> None:
        """Accept one incident event synchronously at `now` (default: the clock), without
        the queue and without delivering: for replays driven by event time. Call
        `pump(now)` to deliver."""
        with self._lock:
            now = self._clock() if now is None else now
            self._stats.submitted += 1
            with self.outbox.transaction():
                self._persist_closed(self._batcher.close_due(now), now)
                self._accept_one(ev, now)
                self._end_round()

    def flush(self, now: float | None = None) -> PipelineStats:
        """Close every open window now (their summaries go out early), send every waiting
        opening message now, and deliver: for the end of a replay, or an agent stopping
        for good."""
        now = self._clock() if now is None else now
        self._accept_queued(now)
        with self._lock, self.outbox.transaction():
            self._persist_closed(self._batcher.flush(now), now)
            self.outbox.hasten(now)
        self._deliver(now)
        return self.stats()

    def stats(self) -> PipelineStats:
        """A snapshot of the counters."""
        return replace(self._stats)

    def counts(self) -> OutboxCounts:
        """The outbox's pending/retrying/dead/sent/held counts."""
        return self.outbox.counts()

    def sink_report(self) -> dict[str, dict[str, int]]:
        """Per sink: delivered, failed and dead-lettered since start, and the outbox
        backlog (pending, retrying, dead)."""
        backlog = self.outbox.counts_by_sink()
        out: dict[str, dict[str, int]] = {}
        for name in self._sinks:
            t = self._deliverer.totals.get(name)
            b = backlog.get(name, OutboxCounts())
            out[name] = {"sent": t.sent if t else 0, "failed": t.failed if t else 0,
                         "dead_lettered": t.dead if t else 0, "pending": b.pending,
                         "retrying": b.retrying, "dead": b.dead}
        return out

    def recover(self, docs: Iterable[tuple[dict, bool]], now: float | None = None) -> int:
        """Hand over incidents the audit trail has and the pipeline never accepted (the
        agent died between the two): each (latest incident document, closed?) whose
        version is newer than what the outbox recorded is accepted now. Idempotent: a
        message already queued is not queued again. Returns the events accepted."""
        from vigil.incidents.render import incident_from_document

        now = self._clock() if now is None else now
        n = 0
        with self._lock, self.outbox.transaction():
            for doc, closed in docs:
                try:
                    inc = incident_from_document(doc)
                except (KeyError, TypeError, ValueError) as exc:
                    log.warning("alerts: unreadable incident in the audit trail skipped: %s",
                                exc)
                    continue
                handed = self.outbox.handed_version(inc.id)
                if handed is not None and handed >= inc.version:
                    continue
                kinds = [IncidentEventKind.OPENED] if handed is None else []
                if closed:
                    kinds.append(IncidentEventKind.CLOSED)
                elif handed is not None:
                    kinds.append(IncidentEventKind.ESCALATED)
                for kind in kinds:
                    self._accept_one(IncidentEvent(kind=kind, incident=inc), now)
                    n += 1
            self._end_round()
        return n

    def next_due(self) -> float | None:
        """The earliest time something becomes due: a window's end or a message."""
        times = [t for t in (self._batcher.next_due(), self.outbox.next_attempt())
                 if t is not None]
        return min(times, default=None)

    # --- thread -------------------------------------------------------------------------

    def start(self) -> None:
        """Run acceptance on one background thread and delivery on one thread per sink,
        until `stop()`."""
        if self._threads:
            raise RuntimeError("alert pipeline already started")
        self._stopping.clear()
        self._sink_wakes = {name: threading.Event() for name in self._sinks}
        self._threads = [threading.Thread(target=self._accept_loop, name="vigil-alerts-accept",
                                          daemon=True)]
        self._threads += [threading.Thread(target=self._deliver_loop, args=(name, ev),
                                           name=f"vigil-alerts-{name}", daemon=True)
                          for name, ev in self._sink_wakes.items()]
        for t in self._threads:
            t.start()

    def stop(self, *, flush_windows: bool = False, drain: bool = True) -> PipelineStats:
        """Stop the threads, accept what is queued and deliver what is due, then close the
        sinks and the outbox. Open windows stay in the outbox and resume on the next start,
        unless `flush_windows` sends their summaries now. A sink that is down keeps its
        messages in the outbox for the next start. `drain=False` skips the final round
        (what is queued in memory is then lost; the outbox keeps the rest).

        Bounded: a delivery in flight gets until the longest sink timeout to finish; a sink
        still busy then (it hangs) is left out of the final round, so stopping never waits
        for a hanging sink twice. Its messages stay pending in the outbox."""
        busy: set[str] = set()
        if self._threads:
            self._stopping.set()
            self._wake.set()
            for ev in self._sink_wakes.values():
                ev.set()
            deadline = time.monotonic() + self._shutdown_grace()
            for t in self._threads:
                t.join(max(0.0, deadline - time.monotonic()))
            busy = {t.name.removeprefix("vigil-alerts-") for t in self._threads[1:]
                    if t.is_alive()}
            self._threads = []
        if busy:
            log.warning("alert sink(s) %s still busy at shutdown: left out of the final "
                        "round, their messages stay in the outbox for the next start",
                        ", ".join(sorted(busy)))
        if not drain:
            stats = self.stats()
        else:
            now = self._clock()
            self._accept_queued(now)
            with self._lock, self.outbox.transaction():
                if flush_windows:
                    self._persist_closed(self._batcher.flush(now), now)
                self.outbox.hasten(now)  # an opening message waiting for its story goes now
            for name in self._sinks:
                if name not in busy:
                    self._deliver(now, name)
            stats = self.stats()
        self.close(skip=busy)
        return stats

    def close(self, skip: Iterable[str] = ()) -> None:
        """Close the sinks (but those in `skip`, busy in another thread) and the outbox,
        without a final pump."""
        for name, sink in self._sinks.items():
            if name not in skip:
                sink.close()
        self.outbox.close()

    def _shutdown_grace(self) -> float:
        """How long `stop` lets a delivery in flight finish: the longest sink timeout."""
        return max((c.timeout_secs for c in self.config.sinks.values()), default=10.0)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._accept_queued(self._clock()):
                    for ev in self._sink_wakes.values():
                        ev.set()
            except Exception:  # one bad round must not end alerting for good
                log.exception("alert acceptance round failed; retrying")
            self._wake.wait(self._poll_interval)
            self._wake.clear()

    def _deliver_loop(self, sink: str, wake: threading.Event) -> None:
        while not self._stopping.is_set():
            try:
                self._deliver(self._clock(), sink, stop=self._stopping)
            except Exception:
                if self._stopping.is_set():
                    return  # left behind by stop() (a hanging sink): the outbox is closed
                log.exception("alert delivery round for sink %s failed; retrying", sink)
            wake.wait(self._poll_interval)
            wake.clear()

    # --- internals ----------------------------------------------------------------------

    def _restore(self) -> None:
        for w in self.outbox.load_windows():
            if w.route in self._routes:
                self._batcher.restore(w)
            else:
                log.warning("dropping the open batch window of %s: route %r is no longer "
                            "configured (its incidents are in the audit trail)", w.key, w.route)
                with self.outbox.transaction():
                    self.outbox.drop_window(w.route, w.key)

    def _accept_queued(self, now: float) -> int:
        """Accept everything queued at `now`; returns how many messages were queued."""
        with self._lock:
            depth = len(self._queue)
            self._stats.max_queue_depth = max(self._stats.max_queue_depth, depth)
            before = self._queued_messages()
            batch = [self._queue.popleft() for _ in range(depth)]
            saved_states = OrderedDict((k, replace(v)) for k, v in self._states.items()) \
                if batch else None
            try:
                with self.outbox.transaction():
                    self._persist_closed(self._batcher.close_due(now), now)
                    for ev in batch:
                        self._accept_one(ev, now)
                    self._end_round()
            except Exception:
                # the outbox could not be written (disk full, ...): nothing of this round
                # happened. Rebuild the batcher from the outbox, the truth, and put the
                # events back in front of the queue for the next round.
                self._batcher = Batcher(hostname=self._batcher.hostname)
                self._restore()
                if saved_states is not None:
                    self._states = saved_states
                self._revisions.clear()
                self._dirty.clear()
                self._queue.extendleft(reversed(batch))
                raise
            return self._queued_messages() - before

    def _queued_messages(self) -> int:
        st = self._stats
        return st.immediate + st.summaries + st.updates + st.closings + st.per_detection

    def _accept_one(self, ev: IncidentEvent, now: float) -> None:
        try:
            self._accept(ev, now)
        except sqlite3.Error:
            raise  # the outbox failed, not the event: the whole round rolls back
        except Exception:  # one malformed event must not cost the others their alerts
            self._stats.errors += 1
            log.exception("cannot route incident event %s; it stays in the audit trail only",
                          getattr(getattr(ev, "incident", None), "id", "?"))

    def _accept(self, ev: IncidentEvent, now: float) -> None:
        inc = ev.incident
        self.outbox.mark_handed(inc.id, inc.version, now)
        routed = False
        for route in self._router.routes:
            if route.per_detection:
                det = ev.detection
                if det is not None and ev.kind is not IncidentEventKind.CLOSED \
                        and route_matches(route, det):
                    self._send_detection(route, inc, det, now)
                    routed = True
                continue
            key = (route.name, inc.id)
            st = self._states.get(key)
            if ev.kind is IncidentEventKind.CLOSED:
                if st is not None:
                    del self._states[key]
                    self._grow(route, st, inc)
                    if st.announced and "closed" in route.notify:
                        self._enqueue(route, f"closed:{inc.id}",
                                      closed_alert(inc, route.name, self._batcher.hostname), now)
                        self._stats.closings += 1
                    routed = True
                continue
            if st is None:
                if not incident_matches(route, inc):
                    continue
                self._announce(route, inc, now)
            else:
                self._follow(route, st, ev, now)
            routed = True
        if not routed:
            self._stats.unrouted += 1

    def _announce(self, route: RouteConfig, inc: Incident, now: float) -> None:
        """An incident matches this route for the first time: its own message, or held."""
        self._stats.accepted += 1
        gkey = group_key(route, inc)
        st = _RouteState(group=gkey, counted=inc.detection_count, announced=False,
                         priority=inc.priority)
        self._states[(route.name, inc.id)] = st
        if len(self._states) > _MAX_ROUTE_STATES:
            self._states.popitem(last=False)
        ts = (inc.last_ts or inc.first_ts) / 1e9 or now
        if not gkey.startswith("incident:"):
            w = self._batcher.window(route.name, gkey)
            if w is not None:
                self._remember(w, w.add(inc, inc.detection_count, ts, held=True))
                self._stats.held += 1
                return
            w = self._batcher.open(route.name, gkey, now, now + route.batch_window_secs, inc)
            self.outbox.save_window(w)
            self._remember(w, w.add(inc, inc.detection_count, ts, held=False))
        st.announced = True
        if "opened" in route.notify:
            due = now + route.group_wait_secs
            self._enqueue(route, f"incident:{inc.id}",
                          incident_alert(inc, route.name, self._batcher.hostname), now, due)
            st.pending_until = due if route.group_wait_secs > 0 else None
            self._stats.immediate += 1

    def _follow(self, route: RouteConfig, st: _RouteState, ev: IncidentEvent,
                now: float) -> None:
        """An incident the route already knows grew or escalated."""
        inc = ev.incident
        self._states.move_to_end((route.name, inc.id))
        self._grow(route, st, inc)
        if st.pending_until is not None:
            if now < st.pending_until:
                # the opening message has not left: it will say it all
                self._revisions[(route.sink, f"incident:{inc.id}")] = incident_alert(
                    inc, route.name, self._batcher.hostname)
                st.priority = min(st.priority, inc.priority)
                return
            st.pending_until = None
        if inc.priority < st.priority and ev.kind is IncidentEventKind.ESCALATED:
            previous = st.priority
            st.priority = inc.priority
            if "escalated" not in route.notify or not incident_matches(route, inc):
                return
            if not st.group.startswith("incident:") and \
                    not inc.priority.at_least(BATCHED_ESCALATION):
                return  # a storm member crossing a threshold: the summary tells it
            st.announced = True
            self._enqueue(route, f"update:{inc.id}:{int(inc.priority)}",
                          update_alert(inc, route.name, self._batcher.hostname, previous), now)
            self._stats.updates += 1

    def _grow(self, route: RouteConfig, st: _RouteState, inc: Incident) -> None:
        """Count an incident's new detections in its group's open window."""
        growth = inc.detection_count - st.counted
        if growth <= 0:
            return
        st.counted = inc.detection_count
        if st.group.startswith("incident:"):
            return
        w = self._batcher.window(route.name, st.group)
        if w is not None:
            ts = (inc.last_ts or inc.first_ts) / 1e9
            self._remember(w, w.add(inc, growth, ts, held=False))

    def _remember(self, w: Window, m: Member) -> None:
        self._dirty[(w.route, w.key, m.incident_id)] = (w, m)

    def _end_round(self) -> None:
        for (sink, dedupe), alert in self._revisions.items():
            if self.outbox.revise(sink, dedupe, alert):
                self._stats.revised += 1
        self._revisions.clear()
        for w, m in self._dirty.values():
            if self._batcher.window(w.route, w.key) is w:
                self.outbox.save_member(w, m)
        self._dirty.clear()

    def _send_detection(self, route: RouteConfig, inc: Incident, det: Detection,
                        now: float) -> None:
        alert = detection_alert(det, route.name, f"incident:{inc.id}", self._batcher.hostname)
        if not det.ts:
            alert.ts = now
        self._enqueue(route, f"detection:{inc.id}:{inc.version}", alert, now)
        self._stats.per_detection += 1

    def _enqueue(self, route: RouteConfig, dedupe: str, alert: Alert, now: float,
                 due: float | None = None) -> None:
        # one incident reaching one sink by two routes is sent once
        self.outbox.enqueue(route.sink, dedupe, alert, now, due)

    def _persist_closed(self, closed: Iterable[Closed], now: float) -> None:
        for c in closed:
            w = c.window
            self.outbox.drop_window(w.route, w.key)
            route = self._routes.get(w.route)
            if c.summary is not None and route is not None:
                self._stats.summaries += 1
                self.outbox.enqueue(route.sink, f"summary:{w.route}:{w.key}:{w.start!r}",
                                    c.summary, now)
            if c.next_window is not None:
                self.outbox.save_window(c.next_window)

    def _deliver(self, now: float, sink: str | None = None,
                 stop: threading.Event | None = None) -> None:
        d = self._deliverer.deliver_due(now, sink=sink, stop=stop)
        with self._stats_lock:
            self._stats.sent += d.sent
            self._stats.failed += d.failed
            self._stats.dead += d.dead
