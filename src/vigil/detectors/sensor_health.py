"""`event_flood` and `events_lost`: what the eBPF sensor could not show one event at a time.

A process that makes more than `[sensors] flood_limit` calls of one syscall in a second has
the rest of that second folded in the kernel into one `flood` event (docs/events.md):
flooding is how a local user would try to blind the agent, so the flood itself is
reported, naming the process, the syscall, how many calls and a sample path. Tools that
walk a file tree (`du`, `find`, `grep -r`, backups) pass the limit too, at a fraction of
the rate a blinding loop reaches (about 10-15 k directory opens/s against 200 k+ opens/s
per loop on the same machine): ordinary-lane floods slower than `min_rate` are kept in the
audit trail as suppressed, never alerted.

Records the kernel could not deliver at all (a full ring) arrive as one `events_lost` event
per `[sensors] lost_interval`, with counts per event type and the processes that lost the
most; each becomes a Warning detection "Events lost", so that a blind spot is never silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from vigil.detections import Detection
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.process_identity import AgentIdentity
from vigil.events.model import Event
from vigil.priority import Priority

FLOOD = "event_flood"
LOST = "events_lost"
TAGS = ("attack.defense_evasion", "T1562.006")
#: most (process, syscall) pairs remembered between reports
_MAX_TRACKED = 4096


@dataclass(frozen=True)
class EventFloodParams(DetectorParams):
    """`[detectors.event_flood]`."""

    DETECTOR: ClassVar[str] = FLOOD
    #: one detection per process and syscall per this many seconds (the counts between
    #: are summed into the next one)
    report_seconds: float = 60.0
    #: ordinary-lane floods below this many calls per second are audited, not alerted
    #: (tree walkers); high-value floods are always reported
    min_rate: int = 50_000


class EventFloodDetector(BuiltinDetector):
    """A process whose calls of one syscall the kernel folded (flood control)."""

    name = FLOOD
    Params = EventFloodParams
    event_types = frozenset({"flood"})

    params: EventFloodParams

    def __init__(self, params: EventFloodParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        #: (pid, syscall) -> (ts of the last report, calls folded since)
        self._last: dict[tuple[int | None, str], tuple[int, int]] = {}

    def on_event(self, event: Event) -> list[Detection]:
        """Report a flood, at most once per process and syscall per `report_seconds`."""
        if event.type != "flood":
            return []
        args = event.args
        syscall = str(args.get("syscall", "?"))
        count = int(args.get("count") or 0)
        key = (event.proc.pid, syscall)
        last = self._last.get(key)
        window = int(self.params.report_seconds * 1e9)
        if last is not None and event.ts - last[0] < window:
            self._last[key] = (last[0], last[1] + count)
            return []
        folded = count + (last[1] if last is not None else 0)
        if len(self._last) >= _MAX_TRACKED:
            self._last.clear()
        self._last[key] = (event.ts, 0)
        lane = args.get("lane", "bulk")
        sample = args.get("sample")
        output = (f"{describe_process(event)} flooded {syscall}: {folded} calls folded by "
                  f"the kernel past {int(args.get('offered') or 0) - count}/s"
                  + (f" (e.g. {sample})" if sample else "")
                  + (" — high-value calls (sensitive files, execs, privilege changes)"
                     if lane == "priority" else ""))
        priority = Priority.ERROR if lane == "priority" else Priority.WARNING
        rate = _rate(args)
        suppressed = None
        if lane != "priority" and rate < self.params.min_rate:
            suppressed = static_suppression(
                FLOOD, "min_rate", self.params.min_rate,
                f"{rate}/s is the pace of a tree walk (du, find, backups), not of a loop "
                "burying events")
        return [build_detection(FLOOD, "flood", priority, output, TAGS, event,
                                path=sample if isinstance(sample, str) else None,
                                data={"title": "Event flood (sensor flood control)",
                                      "syscall": syscall, "folded": folded, "lane": lane,
                                      "rate": rate},
                                suppressed=suppressed)]


def _rate(args: dict[str, Any]) -> int:
    """Calls per second of the flood's window (a window the kernel closed early counts as at
    least 100 ms, so a short burst is not taken for a fast loop)."""
    offered = int(args.get("offered") or 0)
    interval_ms = int(args.get("interval_ms") or 1000)
    return offered * 1000 // max(interval_ms, 100)


@dataclass(frozen=True)
class EventsLostParams(DetectorParams):
    """`[detectors.events_lost]`."""

    DETECTOR: ClassVar[str] = LOST


class EventsLostDetector(BuiltinDetector):
    """Records the kernel lost (ring full), at most once per the sensor's interval."""

    name = LOST
    Params = EventsLostParams
    event_types = frozenset({"events_lost"})

    def on_event(self, event: Event) -> list[Detection]:
        """One Warning detection per `events_lost` event."""
        if event.type != "events_lost":
            return []
        args = event.args
        count = int(args.get("count") or 0)
        prio = int(args.get("priority") or 0)
        by_type: dict[str, Any] = args.get("by_type") or {}
        top: list[dict[str, Any]] = args.get("top") or []
        types = ", ".join(f"{k} {v}" for k, v in list(by_type.items())[:6])
        who = ", ".join(f"{t.get('name')} (pid {t.get('pid')}) {t.get('count')}"
                        for t in top[:5])
        output = (f"Events lost: the kernel dropped {count} records"
                  + (f", {prio} of them high-value" if prio else "")
                  + (f"; by type: {types}" if types else "")
                  + (f"; top emitters: {who}" if who else ""))
        return [build_detection(LOST, "lost", Priority.WARNING, output, TAGS, event,
                                data={"title": "Events lost (sensor overloaded)",
                                      "count": count, "priority_lost": prio,
                                      "by_type": dict(by_type), "top": list(top)})]
