"""Per-route batching of incidents: the first of a group goes out at once, the rest are
summed up.

A *group* is `(route, group key)` (`vigil.alerts.routing.group_key`): by default every
incident is a group of its own, so each gets its own message, while log-based brute
force from many IPs is one group. The first incident of a group opens a window of
`batch_window_secs` and is announced (its message waits `group_wait_secs` for more
detections of the same story). Every further incident of that group inside the window
is *held*: counted, not sent. When the window ends with something held, one summary
goes out (count, unique source IPs, top attacker, first/last time) and the next window
opens at once, so a group that stays active yields one summary per window and never a
message per incident. A window that ends with nothing held closes silently.

What a summary counts is the groups' incidents' detections in the window (for a brute
force: attempts), whether the incident was announced or held: growth of an incident
already counted is added as it comes.

Time is whatever the caller passes as `now` (the agent's clock, or event time in a
replay), so tests and replays never sleep.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

import msgspec

from vigil.alerts.message import Alert, BatchSummary, iso_utc
from vigil.detections import Detection
from vigil.incidents.model import Incident
from vigil.incidents.render import incident_text
from vigil.priority import Priority


@dataclass
class Member:
    """One incident counted in a window."""

    incident_id: str
    ip: str | None
    priority: Priority
    #: detections of the incident counted in this window
    count: int
    #: True when the incident was held for the summary (not announced on its own)
    held: bool
    first_ts: float
    last_ts: float


@dataclass
class Window:
    """The open batch window of one group on one route."""

    route: str
    key: str
    start: float
    end: float
    title: str = ""
    unit: str = "incidents"
    hostname: str | None = None
    members: dict[str, Member] = field(default_factory=dict)

    @property
    def held(self) -> int:
        """Incidents held for the summary."""
        return sum(1 for m in self.members.values() if m.held)

    @property
    def count(self) -> int:
        """Detections (or the unit's things) counted in the window."""
        return sum(m.count for m in self.members.values())

    @property
    def priority(self) -> Priority:
        """The highest priority among the members."""
        return min((m.priority for m in self.members.values()), default=Priority.DEBUG)

    def ips(self) -> Counter[str]:
        """Count per source IP."""
        c: Counter[str] = Counter()
        for m in self.members.values():
            if m.ip:
                c[m.ip] += m.count
        return c

    def add(self, inc: Incident, count: int, ts: float, *, held: bool) -> Member:
        """Count `count` more detections of `inc` in this window."""
        m = self.members.get(inc.id)
        ip = inc.entities.remote_ips[0] if inc.entities.remote_ips else None
        if m is None:
            m = Member(incident_id=inc.id, ip=ip, priority=inc.priority, count=0, held=held,
                       first_ts=ts, last_ts=ts)
            self.members[inc.id] = m
        m.count += count
        m.priority = min(m.priority, inc.priority)
        m.ip = m.ip or ip
        m.first_ts, m.last_ts = min(m.first_ts, ts), max(m.last_ts, ts)
        return m


class Closed(NamedTuple):
    """A window that ended: its summary (if anything was held) and the follow-up window."""

    window: Window
    summary: Alert | None
    #: the window opened right after it for a still-active group, or None
    next_window: Window | None


def incident_alert(inc: Incident, route: str, hostname: str | None) -> Alert:
    """The message announcing an incident."""
    return Alert(kind="incident", route=route, title=inc.title, text=incident_text(inc),
                 priority=inc.priority, ts=inc.first_ts / 1e9, key=f"incident:{inc.id}",
                 incident=inc, hostname=inc.host or hostname)


def detection_alert(det: Detection, route: str, key: str, hostname: str | None) -> Alert:
    """A message about one detection, for per-detection sinks (Falco JSON for
    Falcosidekick); its evidence events stay in the audit trail."""
    slim = msgspec.structs.replace(det, evidence=[]) if det.evidence else det
    return Alert(kind="detection", route=route, title=det.name, text=det.output,
                 priority=det.priority, ts=det.ts / 1e9, key=key, detection=slim,
                 hostname=det.hostname or hostname)


def update_alert(inc: Incident, route: str, hostname: str | None,
                 previous: Priority | None) -> Alert:
    """The message saying an incident escalated (never a copy of its first message)."""
    was = f"{previous.label} → {inc.priority.label}" if previous is not None \
        else inc.priority.label
    return Alert(kind="update", route=route, title=f"Escalated: {inc.title}",
                 text=f"Escalated {was}. " + incident_text(inc), priority=inc.priority,
                 ts=inc.last_ts / 1e9, key=f"incident:{inc.id}", incident=inc,
                 hostname=inc.host or hostname)


def closed_alert(inc: Incident, route: str, hostname: str | None) -> Alert:
    """The message saying an incident closed, with its final counts."""
    return Alert(kind="closed", route=route, title=f"Closed: {inc.title}",
                 text=f"Closed ({inc.closed_reason or 'closed'}). " + incident_text(inc),
                 priority=inc.priority, ts=inc.last_ts / 1e9, key=f"incident:{inc.id}",
                 incident=inc, hostname=inc.host or hostname)


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
    ips = w.ips()
    top = ips.most_common(1)
    members = list(w.members.values())
    s = BatchSummary(count=w.count, unique_ips=len(ips),
                     top_ip=top[0][0] if top else None, top_ip_count=top[0][1] if top else 0,
                     first_ts=min((m.first_ts for m in members), default=w.start),
                     last_ts=max((m.last_ts for m in members), default=closed_at),
                     window_secs=max(0.0, min(closed_at, w.end) - w.start), unit=w.unit,
                     incidents=len(members))
    return Alert(kind="summary", route=w.route, title=w.title, text=summary_text(w.title, s),
                 priority=w.priority, ts=closed_at, key=w.key, summary=s, hostname=w.hostname)


class Batcher:
    """Batch windows of every (route, group); pure in-memory logic, persisted by the caller."""

    def __init__(self, hostname: str | None = None) -> None:
        self._windows: dict[tuple[str, str], Window] = {}
        self.hostname = hostname

    def __len__(self) -> int:
        return len(self._windows)

    def window(self, route: str, key: str) -> Window | None:
        """The open window of a group, if any."""
        return self._windows.get((route, key))

    def open(self, route: str, key: str, start: float, end: float, inc: Incident | None = None
             ) -> Window:
        """Open the window of a group (described by its first incident)."""
        w = Window(route=route, key=key, start=start, end=end)
        if inc is not None:
            w.title = inc.title
            w.unit = inc.unit
            w.hostname = inc.host or self.hostname
        self._windows[(route, key)] = w
        return w

    def restore(self, w: Window) -> None:
        """Put back a window saved by the outbox (with its members)."""
        self._windows[(w.route, w.key)] = w

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
        held = w.held
        summary = summary_alert(w, at) if held else None
        nxt = None
        if reopen and held:
            nxt = Window(route=w.route, key=w.key, start=w.end, end=w.end + (w.end - w.start),
                         title=w.title, unit=w.unit, hostname=w.hostname)
            self._windows[(w.route, w.key)] = nxt
        return Closed(w, summary, nxt)
