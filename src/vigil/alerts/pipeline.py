"""`AlertPipeline`: incidents in, messages out — routing → batching → outbox → delivery.

The engine calls `submit(detection)`, which only appends to a bounded in-memory queue and
never blocks; when the queue is full the incident is counted as dropped and `submit`
returns False (it is still in the audit trail, which the suppression stage writes).
Everything after the queue happens in two stages, run by `pump(now)` with an injected clock
(tests, replays) or by background threads (`start()`/`stop()`):

1. accept: drain the queue; close the batch windows that ended by `now`; route each
   incident, let the batcher decide (send now / hold), and write the outcome — queued
   messages, window members — to the SQLite outbox in one transaction;
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
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from vigil.alerts.batching import Batcher, Closed
from vigil.alerts.config import AlertsConfig
from vigil.alerts.delivery import DeadLetterHook, Deliverer
from vigil.alerts.message import detection_time
from vigil.alerts.outbox import OUTBOX_FILE, Outbox, OutboxCounts
from vigil.alerts.routing import Router
from vigil.alerts.sinks.base import Sink
from vigil.alerts.sinks.factory import build_sinks
from vigil.detections import Detection

log = logging.getLogger(__name__)

#: sent messages older than this are deleted from the outbox when a pipeline starts
SENT_RETENTION_SECS = 7 * 86400


@dataclass
class PipelineStats:
    """Counters since the pipeline was created."""

    submitted: int = 0
    #: refused by submit() because the queue was full
    dropped: int = 0
    #: suppressed detections handed to submit() (they belong in the audit trail only)
    ignored_suppressed: int = 0
    #: incidents that matched no route
    unrouted: int = 0
    #: (incident, route) pairs accepted into the outbox
    accepted: int = 0
    immediate: int = 0
    held: int = 0
    summaries: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    #: deepest the queue has been seen by a pump
    max_queue_depth: int = 0
    #: detections that could not be routed/batched (a bug or malformed data; logged)
    errors: int = 0


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
        self._queue: deque[Detection] = deque()
        self._lock = threading.RLock()
        self._stats_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sink_wakes: dict[str, threading.Event] = {}
        self._stats = PipelineStats()
        self._sinks = dict(sinks) if sinks is not None else build_sinks(
            config.sinks, environ=environ, transport=transport)
        self.outbox = Outbox(Path(state_dir) / OUTBOX_FILE)
        self._deliverer = Deliverer(self.outbox, self._sinks, config.retry, on_dead_letter)
        self.outbox.prune_sent(clock() - SENT_RETENTION_SECS)
        self._restore()

    # --- the engine side ----------------------------------------------------------------

    def submit(self, det: Detection) -> bool:
        """Hand an incident to the pipeline without blocking; False when the queue is full
        (counted in `stats().dropped`) or when `det` is a suppressed detection."""
        if det.suppressed is not None:
            self._stats.ignored_suppressed += 1
            return False
        q = self._queue
        if len(q) >= self.config.queue_size:
            self._stats.dropped += 1
            return False
        q.append(det)
        self._stats.submitted += 1
        if len(q) == 1:
            self._wake.set()  # first after idle: deliver "immediately", not at the next poll
        return True

    # --- the pipeline side --------------------------------------------------------------

    def pump(self, now: float | None = None) -> PipelineStats:
        """One synchronous round at time `now` (default: the clock): accept queued
        incidents, close ended windows, deliver what is due. Returns the stats so far."""
        now = self._clock() if now is None else now
        self._accept_queued(now)
        self._deliver(now)
        return self.stats()

    tick = pump

    def process(self, det: Detection, now: float | None = None) -> None:
        """Accept one incident synchronously at `now` (default: its own timestamp), without
        the queue and without delivering: for replays driven by event time. Call
        `pump(now)` to deliver."""
        with self._lock:
            if det.suppressed is not None:
                self._stats.ignored_suppressed += 1
                return
            now = detection_time(det, self._clock()) if now is None else now
            self._stats.submitted += 1
            with self.outbox.transaction():
                self._persist_closed(self._batcher.close_due(now), now)
                self._accept_one(det, now)

    def flush(self, now: float | None = None) -> PipelineStats:
        """Close every open window now (their summaries go out early) and deliver: for the
        end of a replay, or an agent stopping for good."""
        now = self._clock() if now is None else now
        self._accept_queued(now)
        with self._lock, self.outbox.transaction():
            self._persist_closed(self._batcher.flush(now), now)
        self._deliver(now)
        return self.stats()

    def stats(self) -> PipelineStats:
        """A snapshot of the counters."""
        return replace(self._stats)

    def counts(self) -> OutboxCounts:
        """The outbox's pending/retrying/dead/sent/held counts."""
        return self.outbox.counts()

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
        (what is queued in memory is then lost; the outbox keeps the rest)."""
        if self._threads:
            self._stopping.set()
            self._wake.set()
            for ev in self._sink_wakes.values():
                ev.set()
            for t in self._threads:
                t.join()
            self._threads = []
        if not drain:
            stats = self.stats()
        else:
            stats = self.flush() if flush_windows else self.pump()
        self.close()
        return stats

    def close(self) -> None:
        """Close the sinks and the outbox without a final pump."""
        for sink in self._sinks.values():
            sink.close()
        self.outbox.close()

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
                log.exception("alert delivery round for sink %s failed; retrying", sink)
            wake.wait(self._poll_interval)
            wake.clear()

    # --- internals ----------------------------------------------------------------------

    def _restore(self) -> None:
        for w, members in self.outbox.load_windows():
            if w.route in self._routes:
                self._batcher.restore(w, members)
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
            before = self._stats.immediate + self._stats.summaries
            batch = [self._queue.popleft() for _ in range(depth)]
            try:
                with self.outbox.transaction():
                    self._persist_closed(self._batcher.close_due(now), now)
                    for det in batch:
                        self._accept_one(det, now)
            except Exception:
                # the outbox could not be written (disk full, ...): nothing of this round
                # happened. Rebuild the batcher from the outbox, the truth, and put the
                # incidents back in front of the queue for the next round.
                self._batcher = Batcher(hostname=self._batcher.hostname)
                self._restore()
                self._queue.extendleft(reversed(batch))
                raise
            return self._stats.immediate + self._stats.summaries - before

    def _accept_one(self, det: Detection, now: float) -> None:
        try:
            self._accept(det, now)
        except sqlite3.Error:
            raise  # the outbox failed, not the detection: the whole round rolls back
        except Exception:  # one malformed detection must not cost the others their alerts
            self._stats.errors += 1
            log.exception("cannot route detection %s; it stays in the audit trail only",
                          det.key)

    def _accept(self, det: Detection, now: float) -> None:
        routes = self._router.routes_for(det)
        if not routes:
            self._stats.unrouted += 1
            return
        incident_id = uuid.uuid4().hex
        ts = detection_time(det, now)
        for route in routes:
            offer = self._batcher.offer(det, route, now)
            self._stats.accepted += 1
            if offer.window is not None:
                if offer.opened:
                    self.outbox.save_window(offer.window)
                self.outbox.add_member(offer.window, ts, det.entity.ip, det.priority,
                                       held=offer.alert is None)
            if offer.alert is None:
                self._stats.held += 1
            else:
                self._stats.immediate += 1
                # one incident reaching one sink by two routes is sent once
                self.outbox.enqueue(route.sink, f"incident:{incident_id}", offer.alert, now)

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
