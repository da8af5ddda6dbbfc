"""Recording live events to the JSONL replay format (`vigil record`).

A recorded event carries its process' ancestry as nested objects; the chain is cut at
`max_depth` ancestors so that a line stays small while `proc.aname[N]` and
`proc.pname`-style fields replay the same for the depths rules use.
"""

from __future__ import annotations

import time
from typing import Callable

import msgspec

from vigil.events.jsonl import EventWriter
from vigil.events.model import Event, Process
from vigil.sensors.base import Sensor

#: ancestors kept in a recording (Falco's stable rules read up to proc.aname[7])
DEFAULT_MAX_DEPTH = 8


class AncestryCutter:
    """Copies of `Process` chains cut at a depth, cached per snapshot (snapshots never change)."""

    def __init__(self, max_depth: int = DEFAULT_MAX_DEPTH, cache_size: int = 4096) -> None:
        self._depth = max_depth
        self._cache: dict[int, tuple[Process, Process]] = {}
        self._cache_size = cache_size

    def cut(self, p: Process, depth: int | None = None) -> Process:
        """`p` with at most `depth` ancestors (the same object when the chain is short)."""
        depth = self._depth if depth is None else depth
        chain = []
        a = p.parent
        while a is not None and len(chain) <= depth:
            chain.append(a)
            a = a.parent
        if len(chain) <= depth:
            return p
        if depth == self._depth:
            hit = self._cache.get(id(p))
            if hit is not None and hit[0] is p:
                return hit[1]
        parent = None if depth == 0 else self.cut(p.parent, depth - 1)  # type: ignore[arg-type]
        out = msgspec.structs.replace(p, parent=parent)
        if depth == self._depth:
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            # the original is kept in the entry so its id cannot be reused while cached
            self._cache[id(p)] = (p, out)
        return out

    def event(self, ev: Event) -> Event:
        """The event as it is recorded."""
        proc = self.cut(ev.proc)
        if proc is ev.proc:
            return ev
        return msgspec.structs.replace(ev, proc=proc)


class Recorder:
    """Reads a started sensor and writes every event it returns to a JSONL file."""

    def __init__(self, sensor: Sensor, writer: EventWriter,
                 max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self.sensor = sensor
        self.writer = writer
        self.cutter = AncestryCutter(max_depth)
        self.written = 0

    def run(self, duration: float | None = None, should_stop: Callable[[], bool] = lambda: False,
            clock: Callable[[], float] = time.monotonic, poll: float = 0.1) -> int:
        """Record until `duration` seconds passed (None: until `should_stop()`); returns count."""
        end = None if duration is None else clock() + duration
        while not should_stop():
            left = poll if end is None else min(poll, end - clock())
            if left <= 0:
                break
            self.write_batch(self.sensor.read(left))
        return self.written

    def write_batch(self, events: list[Event]) -> None:
        """Write some events."""
        cut = self.cutter.event
        for ev in events:
            self.writer.write(cut(ev))
        self.written += len(events)
