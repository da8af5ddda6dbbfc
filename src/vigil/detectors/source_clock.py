"""Event time per source, robust to mis-stamped lines.

Detectors count in windows of event time, so a replay behaves like the live run. But a log
line's stamp is only what the line says: a host with a skewed clock forwarding to the same
file, a line written with `logger --rfc3164`, a clock step. One such line must not move
"now" for everything else, or it expires every other key's window at once (a line from
another IP 15 minutes in the future used to reset the per-IP counts of a brute force).

`SourceClocks` keeps one clock per source (the host name of the line) and places each
event:

- within `max_jump_ns` of the clock: trusted, counted at its own time; the clock follows it;
- further behind: counted at the clock (counted, not trusted), the clock stays;
- further ahead: counted at its own time in its own key (after a quiet hour the next
  attempt is rightly a new one), but the clock stays until a second line agrees on the new
  time (a real jump, or a log that resumed after a pause). Only the clock expires other
  keys, so one line can move it by at most `max_jump_ns`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Hashable

TRUSTED = "trusted"
#: stamped further behind the clock than the bound: counted at the clock
PAST = "untrusted_past"
#: stamped further ahead than the bound, not (yet) confirmed by a second line
FUTURE = "unconfirmed_future"


@dataclass(frozen=True)
class Placement:
    """Where an event counts: `at` in its own windows, `clock` (the source's trusted time)
    for expiring everything else; `stamp` says whether its own stamp was trusted."""

    at: int
    clock: int
    stamp: str


@dataclass
class _Clock:
    now: int
    #: a stamp far ahead of `now`, waiting for a second line to confirm it
    candidate: int | None = None


class SourceClocks:
    """One event-time clock per source, each moved by at most `max_jump_ns` per line."""

    def __init__(self, max_jump_ns: int, max_sources: int = 10_000) -> None:
        self.max_jump_ns = max_jump_ns
        self._max = max_sources
        self._clocks: OrderedDict[Hashable, _Clock] = OrderedDict()
        self.counts = {TRUSTED: 0, PAST: 0, FUTURE: 0}

    def place(self, source: Hashable, ts: int) -> Placement:
        """Place an event of `source` stamped `ts` (ns)."""
        clock = self._clocks.get(source)
        if clock is None:
            clock = self._clocks[source] = _Clock(ts)
            while len(self._clocks) > self._max:
                self._clocks.popitem(last=False)
            return self._count(Placement(ts, ts, TRUSTED))
        self._clocks.move_to_end(source)
        bound = self.max_jump_ns
        if ts < clock.now - bound:
            return self._count(Placement(clock.now, clock.now, PAST))
        if ts <= clock.now + bound:
            clock.now = max(clock.now, ts)
            clock.candidate = None
            return self._count(Placement(ts, clock.now, TRUSTED))
        if clock.candidate is not None and abs(ts - clock.candidate) <= bound:
            clock.now = max(ts, clock.candidate)
            clock.candidate = None
            return self._count(Placement(ts, clock.now, TRUSTED))
        clock.candidate = ts
        return self._count(Placement(ts, clock.now, FUTURE))

    def _count(self, placement: Placement) -> Placement:
        self.counts[placement.stamp] += 1
        return placement
