"""Per-route batching: the first incident of a kind goes out at once, repeats are summed up.

A *kind* is `(route, detection.key)`. The first incident of a kind opens a window of
`batch_window_secs` and is sent immediately. Every further incident of that kind inside
the window is *held*: counted, not sent. When the window ends and something was held, one
summary alert goes out (count, unique source IPs, top attacker, first/last time) and the
next window opens straight away, so a kind that stays active yields one summary per window
and never a message per event. A window that ends with nothing held closes silently and the
kind is forgotten: its next incident is "first" again and goes out at once.

Incidents at or above the route's `bypass_batching_min_priority` skip all this: each one is
sent immediately and does not count in any window.

Time is whatever the caller passes as `now` (the agent's clock, or event time in a replay),
so tests and replays never sleep.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

import msgspec

from vigil.alerts.config import RouteConfig
from vigil.alerts.message import Alert, BatchSummary, detection_time, iso_utc
from vigil.detections import Detection
from vigil.priority import Priority


@dataclass
class Window:
    """The open batch window of one kind on one route."""

    route: str
    key: str
    start: float
    end: float
    title: str = ""
    unit: str = "incidents"
    priority: Priority = Priority.DEBUG
    count: int = 0
    held: int = 0
    ips: Counter[str] = field(default_factory=Counter)
    first_ts: float | None = None
    last_ts: float | None = None
    hostname: str | None = None

    def add(self, ts: float, ip: str | None, priority: Priority, *, held: bool) -> None:
        """Count one incident in this window."""
        self.count += 1
        self.held += held
        if ip:
            self.ips[ip] += 1
        self.first_ts = ts if self.first_ts is None else min(self.first_ts, ts)
        self.last_ts = ts if self.last_ts is None else max(self.last_ts, ts)
        if priority.at_least(self.priority):
            self.priority = priority


class Offer(NamedTuple):
    """What the batcher decided for one incident on one route."""

    #: the alert to send now, or None when the incident is held for the summary
    alert: Alert | None
    #: the window it was counted in (None for a bypassing incident)
    window: Window | None
    #: True when this incident opened `window`
    opened: bool


class Closed(NamedTuple):
    """A window that ended: its summary (if anything was held) and the follow-up window."""

    window: Window
    summary: Alert | None
    #: the window opened right after it for a still-active kind, or None
    next_window: Window | None


def title_of(det: Detection) -> str:
    """The name alerts show: a detector may supply `data["title"]` ("SSH brute force")."""
    title = det.data.get("title")
    return title if isinstance(title, str) and title else det.name


def unit_of(det: Detection) -> str:
    """What a summary counts: a detector may supply `data["unit"]` ("attempts")."""
    unit = det.data.get("unit")
    return unit if isinstance(unit, str) and unit else "incidents"


def incident_alert(det: Detection, route: str, now: float, hostname: str | None) -> Alert:
    """The alert for one incident sent on its own. Evidence events stay in the audit
    trail; the outbox keeps only the detection's summary fields."""
    slim = msgspec.structs.replace(det, evidence=[])
    return Alert(kind="incident", route=route, title=title_of(det), text=det.output,
                 priority=det.priority, ts=detection_time(det, now), key=det.key,
                 detection=slim, hostname=det.hostname or hostname)


def _counted(n: int, unit: str) -> str:
    # "1 attempt" / "2 attempts": units are given in the plural
    if n == 1 and unit.endswith("s"):
        unit = unit[:-1]
    return f"{n} {unit}"


def summary_text(title: str, s: BatchSummary) -> str:
    """The one-line summary, e.g. `SSH brute force: 49 attempts from 12 IPs in the last
    60 s. Top attacker: 185.1.2.3 (23 attempts). First 2026-11-26T12:00:00Z, last
    2026-11-26T12:00:59Z.` The IP parts are left out when no incident named an IP."""
    text = f"{title}: {_counted(s.count, s.unit)}"
    if s.unique_ips:
        text += f" from {s.unique_ips} IP{'s' if s.unique_ips != 1 else ''}"
    text += f" in the last {round(s.window_secs)} s."
    if s.top_ip:
        text += f" Top attacker: {s.top_ip} ({_counted(s.top_ip_count, s.unit)})."
    text += f" First {iso_utc(s.first_ts)}, last {iso_utc(s.last_ts)}."
    return text


def summary_alert(w: Window, closed_at: float) -> Alert:
    """The summary alert for a window that held incidents."""
    top = w.ips.most_common(1)
    s = BatchSummary(count=w.count, unique_ips=len(w.ips),
                     top_ip=top[0][0] if top else None, top_ip_count=top[0][1] if top else 0,
                     first_ts=w.first_ts if w.first_ts is not None else w.start,
                     last_ts=w.last_ts if w.last_ts is not None else closed_at,
                     window_secs=max(0.0, min(closed_at, w.end) - w.start), unit=w.unit)
    return Alert(kind="summary", route=w.route, title=w.title, text=summary_text(w.title, s),
                 priority=w.priority, ts=closed_at, key=w.key, summary=s, hostname=w.hostname)


class Batcher:
    """Batch windows for every (route, kind); pure in-memory logic, persisted by the caller."""

    def __init__(self, hostname: str | None = None) -> None:
        self._windows: dict[tuple[str, str], Window] = {}
        self.hostname = hostname

    def __len__(self) -> int:
        return len(self._windows)

    def offer(self, det: Detection, route: RouteConfig, now: float) -> Offer:
        """Decide for one incident: send now (first of its kind, or bypass) or hold.

        Call `close_due(now)` first: windows that ended must be closed before a later
        incident is counted (a ValueError says the caller forgot)."""
        bypass = route.bypass_batching_min_priority
        if bypass is not None and det.priority.at_least(bypass):
            return Offer(incident_alert(det, route.name, now, self.hostname), None, False)
        ts = detection_time(det, now)
        w = self._windows.get((route.name, det.key))
        if w is not None and now >= w.end:
            raise ValueError(f"window of {det.key} on route {route.name} ended at {w.end}; "
                             "call close_due(now) before offer()")
        if w is None:
            w = self.open(route.name, det.key, now, now + route.batch_window_secs)
            self._describe(w, det)
            w.add(ts, det.entity.ip, det.priority, held=False)
            return Offer(incident_alert(det, route.name, now, self.hostname), w, True)
        if w.count == 0:
            self._describe(w, det)
        w.add(ts, det.entity.ip, det.priority, held=True)
        return Offer(None, w, False)

    def _describe(self, w: Window, det: Detection) -> None:
        w.title, w.unit = title_of(det), unit_of(det)
        w.hostname = det.hostname or self.hostname

    def restore(self, w: Window, members: list[tuple[float, str | None, Priority, bool]]) -> None:
        """Put back a window saved by the outbox, with its members (ts, ip, priority, held)."""
        self._windows[(w.route, w.key)] = w
        for ts, ip, priority, held in members:
            w.add(ts, ip, priority, held=held)

    def open(self, route: str, key: str, start: float, end: float) -> Window:
        """Open the window of a kind."""
        w = Window(route=route, key=key, start=start, end=end)
        self._windows[(route, key)] = w
        return w

    def window(self, route: str, key: str) -> Window | None:
        """The open window of a kind, if any."""
        return self._windows.get((route, key))

    def next_due(self) -> float | None:
        """When the earliest open window ends."""
        return min((w.end for w in self._windows.values()), default=None)

    def close_due(self, now: float) -> list[Closed]:
        """Close every window that ended by `now`, in end order."""
        out: list[Closed] = []
        while True:
            due = sorted((w for w in self._windows.values() if w.end <= now),
                         key=lambda w: w.end)
            if not due:
                return out
            for w in due:
                out.append(self._close(w, w.end, reopen=True))

    def flush(self, now: float) -> list[Closed]:
        """Close every window now (end of a replay, shutdown for good)."""
        return [self._close(w, now, reopen=False) for w in list(self._windows.values())]

    def _close(self, w: Window, at: float, *, reopen: bool) -> Closed:
        del self._windows[(w.route, w.key)]
        summary = summary_alert(w, at) if w.held else None
        nxt = None
        if reopen and w.held:
            nxt = self.open(w.route, w.key, w.end, w.end + (w.end - w.start))
            nxt.title, nxt.unit, nxt.hostname = w.title, w.unit, w.hostname
        return Closed(w, summary, nxt)
