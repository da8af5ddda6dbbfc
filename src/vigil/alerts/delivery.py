"""Delivery: take due messages from the outbox, hand them to their sinks, record the result.

Per sink, messages go out in outbox order. The first failure pauses that sink (for the
backoff, or the `retry_after` the remote asked for) so a sink that is down is not hammered
and its queue keeps its order; other sinks carry on. A message is dead-lettered when the
error says a retry cannot help, or when it has been failing for `dead_letter_after_secs`.
A sink's `min_interval` is kept between any two deliveries, including the parts of one
long message, by leaving the rest for a later round instead of sleeping.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from vigil.alerts.config import RetryConfig
from vigil.alerts.message import Alert
from vigil.alerts.outbox import Outbox, OutboxMessage
from vigil.alerts.sinks.base import Sink, SinkError

log = logging.getLogger(__name__)

#: called with the dead alert, the sink name and the reason
DeadLetterHook = Callable[[Alert, str, str], None]


@dataclass
class DeliveryStats:
    """What one delivery round did."""

    sent: int = 0
    parts: int = 0
    failed: int = 0
    dead: int = 0


def backoff(attempt: int, retry: RetryConfig) -> float:
    """Seconds to wait after the `attempt`-th failure: doubling from the initial backoff."""
    return min(retry.max_backoff_secs, retry.initial_backoff_secs * 2 ** max(0, attempt - 1))


class Deliverer:
    """Sends due outbox messages through the sinks."""

    def __init__(self, outbox: Outbox, sinks: Mapping[str, Sink], retry: RetryConfig,
                 on_dead_letter: DeadLetterHook | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self._outbox = outbox
        #: the time a failure happened (a request may have hung for its whole timeout
        #: since the round started); None: the round's `now`
        self._clock = clock
        self._sinks = dict(sinks)
        self._retry = retry
        self._on_dead_letter = on_dead_letter
        #: per sink: no delivery before this time (rate limit or pause after a failure)
        self._ready_at: dict[str, float] = {}
        #: per sink: what was delivered, failed and dead-lettered since start
        self.totals: dict[str, DeliveryStats] = {name: DeliveryStats() for name in sinks}

    def next_ready(self) -> float | None:
        """The earliest time a paused sink may send again."""
        return min(self._ready_at.values(), default=None)

    def _total(self, sink: str) -> DeliveryStats:
        # per-sink totals since start (metrics, `vigil status`); each sink's thread only
        # touches its own entry
        t = self.totals.get(sink)
        if t is None:
            t = self.totals[sink] = DeliveryStats()
        return t

    def deliver_due(self, now: float, limit: int = 500, *, sink: str | None = None,
                    stop: threading.Event | None = None) -> DeliveryStats:
        """One round: try every due message (of `sink` only, when given) whose sink is
        ready. Messages for sinks no longer configured are dead-lettered. A set `stop`
        ends the round between two messages (shutdown does not wait for a backlog)."""
        stats = DeliveryStats()
        while True:
            batch = self._outbox.due(now, limit, sink=sink)
            before = (stats.parts, stats.dead, stats.failed)
            for msg in batch:
                if stop is not None and stop.is_set():
                    return stats
                if self._ready_at.get(msg.sink, 0.0) > now:
                    continue
                target = self._sinks.get(msg.sink)
                if target is None:
                    self._dead(msg, now, f"sink {msg.sink!r} is not configured", stats)
                    continue
                self._deliver_one(target, msg, now, stats)
            # a full batch that made progress may hide more due messages behind it
            if len(batch) < limit or (stats.parts, stats.dead, stats.failed) == before:
                return stats

    def _deliver_one(self, sink: Sink, msg: OutboxMessage, now: float,
                     stats: DeliveryStats) -> None:
        try:
            parts = sink.render(msg.alert)
        except Exception as e:  # a render bug must not stop the queue: dead-letter it
            self._dead(msg, now, f"cannot render: {type(e).__name__}: {e}", stats)
            return
        done = msg.progress
        while done < len(parts):
            if self._ready_at.get(sink.name, 0.0) > now:
                return  # rate limit: the remaining parts go in a later round
            try:
                sink.deliver(parts[done])
            except SinkError as e:
                # backoff counts from the failure, not from the round's start: after a
                # request that hung for its timeout, the sink must not be due again at once
                failed_at = max(now, self._clock()) if self._clock is not None else now
                self._failed(msg, e, failed_at, stats)
                return
            done += 1
            stats.parts += 1
            if sink.min_interval > 0:
                self._ready_at[sink.name] = now + sink.min_interval
            if done < len(parts):
                self._outbox.mark_progress(msg.id, done)
        self._outbox.mark_sent(msg.id, now)
        stats.sent += 1
        self._total(msg.sink).sent += 1

    def _failed(self, msg: OutboxMessage, err: SinkError, now: float,
                stats: DeliveryStats) -> None:
        reason = str(err)
        if not err.retryable:
            self._dead(msg, now, f"not retryable: {reason}", stats)
            return
        if now - msg.created >= self._retry.dead_letter_after_secs:
            self._dead(msg, now, f"gave up after {now - msg.created:.0f} s: {reason}", stats)
            return
        delay = err.retry_after if err.retry_after is not None else backoff(msg.attempts + 1,
                                                                             self._retry)
        self._outbox.mark_retry(msg.id, now + delay, reason)
        self._ready_at[msg.sink] = max(self._ready_at.get(msg.sink, 0.0), now + delay)
        stats.failed += 1
        self._total(msg.sink).failed += 1
        log.warning("alert delivery failed, retry in %.1f s: %s", delay, reason)

    def _dead(self, msg: OutboxMessage, now: float, reason: str, stats: DeliveryStats) -> None:
        self._outbox.mark_dead(msg.id, now, reason)
        stats.dead += 1
        self._total(msg.sink).dead += 1
        log.error("alert dead-lettered (sink %s): %s", msg.sink, reason)
        if self._on_dead_letter is not None:
            self._on_dead_letter(msg.alert, msg.sink, reason)
