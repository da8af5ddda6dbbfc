"""A bounded map whose entries expire after a window measured in event time.

Detectors keep per-process state (what a pid read, which pid was already reported) that
must neither grow without bound nor depend on the wall clock: time is the events' own
`ts` (ns), so replays and tests behave exactly like live runs.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ExpiringMap(Generic[K, V]):
    """Key -> (timestamp, value), dropping entries older than `window_ns` or beyond `max_entries`."""

    def __init__(self, window_ns: int, max_entries: int = 65536) -> None:
        self.window_ns = window_ns
        self.max_entries = max_entries
        self._items: OrderedDict[K, tuple[int, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def _expire(self, now: int) -> None:
        items = self._items
        while items:
            key, (ts, _v) = next(iter(items.items()))
            if now - ts <= self.window_ns and len(items) <= self.max_entries:
                break
            del items[key]

    def put(self, key: K, ts: int, value: V, *, now: int | None = None) -> None:
        """Store `value` under `key` as of `ts` (the newest entries expire last).

        An entry's time never goes back: an event stamped earlier than the one that last
        touched `key` does not make `key` look stale. Other entries expire relative to
        `now` (default `ts`): a caller that does not trust `ts` passes its own clock.
        """
        old = self._items.pop(key, None)
        if old is not None and old[0] > ts:
            ts = old[0]
        self._items[key] = (ts, value)
        self._expire(ts if now is None else now)

    def get(self, key: K, now: int) -> V | None:
        """The value under `key` if it is at most `window_ns` old at `now`."""
        item = self._items.get(key)
        if item is None or now - item[0] > self.window_ns:
            return None
        return item[1]

    def pop(self, key: K) -> V | None:
        """Remove and return the value under `key` (None when absent)."""
        item = self._items.pop(key, None)
        return None if item is None else item[1]

    def seen_recently(self, key: K, now: int) -> bool:
        """True if `key` was marked within the window; marks it when it was not."""
        if self.get(key, now) is not None:
            return True
        self.put(key, now, True)  # type: ignore[arg-type]
        return False
