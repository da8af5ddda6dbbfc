"""Which scenario caused which incident.

Scenarios run one at a time, each in its own window of wall-clock time (from a little
before it starts, for log timestamps with one-second resolution, to the end of the quiet
gap after it). An incident belongs to the scenario whose window holds its `first_ts`;
when the incident names processes and every one of them was seen outside that
scenario's process tree (`emulate.proctrack`), it is someone else's activity on the host
and belongs to no scenario. A detection that joins an incident opened earlier (the agent
correlates by process tree, session, IP, target) counts for the scenario whose window
holds the detection's own `first_ts`, as a "joined" incident.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from emulate.incidents import DetectionView, IncidentView
from emulate.proctrack import Ownership


@dataclass(frozen=True)
class Window:
    """The wall-clock span (ns) during which activity is a scenario's."""

    scenario: str
    start_ns: int
    end_ns: int


@dataclass
class Attributed:
    """An incident as seen by one scenario."""

    incident: IncidentView
    #: "pid" (one of its processes is the scenario's) or "time" (no process evidence)
    how: str
    #: True when the incident was opened earlier and this scenario's detections joined it
    joined: bool = False
    detections: list[DetectionView] = field(default_factory=list)
    #: the titles the incident had because of this scenario (see `scenario_titles`)
    titles: list[str] = field(default_factory=list)


@dataclass
class Unattributed:
    """An incident no scenario caused, and why."""

    incident: IncidentView
    reason: str


@dataclass
class Attribution:
    """The incidents of each scenario, and the ones that belong to none."""

    by_scenario: dict[str, list[Attributed]] = field(default_factory=dict)
    unattributed: list[Unattributed] = field(default_factory=list)


def scenario_titles(inc: IncidentView, window: Window, own: Ownership,
                    joined: bool) -> list[str]:
    """The titles `inc` took while `window`'s scenario acted: a title counts when the
    newest detection of the record that carried it falls in the window (from its opening
    for the scenario that opened it) and is not another process tree's. So a later
    escalation by someone else (the runner stopping the agent) does not name what this
    scenario did, and a joined incident is named as it was when the scenario joined it."""
    out: list[str] = []
    before: str | None = None
    for title, ts, pid in inc.title_events:
        if ts < window.start_ns:
            before = title
            continue
        if ts > window.end_ns:
            break
        if own.verdict(window.scenario, {pid} if pid else set()) == "out":
            continue
        if title not in out:
            out.append(title)
    if not out:
        out = [before] if joined and before else inc.titles[:1]
    return out


class WindowIndex:
    """Finds the window holding a timestamp (windows do not overlap)."""

    def __init__(self, windows: list[Window]) -> None:
        self.windows = sorted(windows, key=lambda w: w.start_ns)
        self._starts = [w.start_ns for w in self.windows]

    def find(self, ts: int) -> Window | None:
        """The window with start ≤ ts ≤ end, or None."""
        i = bisect.bisect_right(self._starts, ts) - 1
        if i >= 0 and ts <= self.windows[i].end_ns:
            return self.windows[i]
        return None


def attribute(incidents: list[IncidentView], windows: list[Window],
              ownership: Ownership | None = None) -> Attribution:
    """Place every incident (and every late-joining detection) in a scenario or none."""
    own = ownership if ownership is not None else Ownership()
    index = WindowIndex(windows)
    result = Attribution(by_scenario={w.scenario: [] for w in windows})
    for inc in incidents:
        home = index.find(inc.first_ts)
        home_name = home.scenario if home is not None else None
        if home is None:
            result.unattributed.append(Unattributed(inc, "outside every scenario window"))
        else:
            verdict = own.verdict(home.scenario, inc.pids)
            if verdict == "out":
                home_name = None
                result.unattributed.append(Unattributed(
                    inc, f"in the window of {home.scenario}, but its processes "
                         f"{sorted(inc.pids)} are not the scenario's"))
            else:
                dets = [d for d in inc.detections.values()
                        if index.find(d.first_ts) in (home, None)]
                result.by_scenario[home.scenario].append(
                    Attributed(inc, "pid" if verdict == "in" else "time", detections=dets,
                               titles=scenario_titles(inc, home, own, joined=False)))
        _attribute_joined(inc, home_name, index, own, result)
    return result


def _attribute_joined(inc: IncidentView, home: str | None, index: WindowIndex,
                      own: Ownership, result: Attribution) -> None:
    """Detections of `inc` that happened in other scenarios' windows."""
    joined: dict[str, list[DetectionView]] = {}
    for det in inc.detections.values():
        w = index.find(det.first_ts)
        if w is None or w.scenario == home:
            continue
        if own.verdict(w.scenario, {det.pid} if det.pid else set()) == "out":
            continue
        joined.setdefault(w.scenario, []).append(det)
    for name, dets in joined.items():
        pids = {d.pid for d in dets if d.pid}
        how = "pid" if own.verdict(name, pids) == "in" else "time"
        w = next(x for x in index.windows if x.scenario == name)
        result.by_scenario[name].append(Attributed(
            inc, how, joined=True, detections=dets,
            titles=scenario_titles(inc, w, own, joined=True)))
