"""Detections and incident events for the alert tests: SSH failures like the ssh_bruteforce
detector emits, one-off anomalies, and a harness that runs them through the real
correlation stage (`DetectionPipeline.handle`) into a real `AlertPipeline` on event time."""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vigil.agent import ReplayClock
from vigil.alerts.config import AlertsConfig
from vigil.alerts.message import Alert
from vigil.alerts.pipeline import AlertPipeline
from vigil.detections import Detection, Entity
from vigil.incidents.correlator import Correlator, IncidentSettings
from vigil.incidents.model import IncidentEvent, IncidentEventKind
from vigil.pipeline import DetectionPipeline
from vigil.priority import Priority

#: 2026-11-26T12:00:00Z
T0 = 1795694400.0
TOP_ATTACKER = "185.220.101.23"


def ssh_failure(ip: str, ts: float, *, user: str = "root",
                priority: Priority = Priority.WARNING) -> Detection:
    """One failed SSH login as an incident of the ssh_bruteforce detector."""
    return Detection(kind="detector", name="ssh_bruteforce", rule_id="ssh_bruteforce.failed",
                     priority=priority, output=f"Failed password for {user} from {ip} port 22",
                     entity=Entity(ip=ip, user=user), ts=int(ts * 1e9),
                     tags=["attack.credential_access", "T1110"], source="auth",
                     data={"title": "SSH brute force", "unit": "attempts"}, hostname="web-1")


def bruteforce_burst(t0: float = T0) -> list[Detection]:
    """49 failures from 12 IPs inside 60 s; the top attacker has 23 of them.

    The other 26 come from 11 IPs (4 with 3 attempts, 7 with 2). The order is shuffled
    with a fixed seed, but the first one is the top attacker's.
    """
    ips = [TOP_ATTACKER] * 22
    ips += [f"203.0.113.{n}" for n in range(1, 5) for _ in range(3)]
    ips += [f"198.51.100.{n}" for n in range(1, 8) for _ in range(2)]
    random.Random(5).shuffle(ips)
    ips.insert(0, TOP_ATTACKER)
    assert len(ips) == 49 and len(set(ips)) == 12 and ips.count(TOP_ATTACKER) == 23
    return [ssh_failure(ip, t0 + i * 1.2) for i, ip in enumerate(ips)]


def anomaly(name: str, ts: float, priority: Priority = Priority.CRITICAL,
            output: str = "anomaly", **entity: Any) -> Detection:
    """A one-off detection of another detector (its own incident unless `entity` keys
    such as `ip` or `path` tie it to another)."""
    return Detection(kind="detector", name=name, priority=priority, output=output,
                     ts=int(ts * 1e9), hostname="web-1", entity=Entity(**entity))


def opened(det: Detection) -> IncidentEvent:
    """The event of `det` opening an incident of its own."""
    corr = Correlator()
    c, _ = corr.add(det, det.ts / 1e9)
    assert c.kind is IncidentEventKind.OPENED
    return IncidentEvent(kind=c.kind, incident=corr.snapshot(c.incident_id), detection=det)


def incident_events(dets: Iterable[Detection],
                    pipeline: DetectionPipeline | None = None) -> list[IncidentEvent]:
    """The incident events the real correlation stage makes of `dets` (on their clock);
    pass the same `pipeline` again to continue its incidents."""
    out: list[IncidentEvent] = []
    pipe = pipeline if pipeline is not None else DetectionPipeline([])
    pipe.alert = out.append
    for d in dets:
        pipe.handle([d])
    return out


class CaptureSink:
    """An in-memory sink (a test double for a destination, not for Vigil code): keeps
    every alert it is given, in order."""

    def __init__(self, name: str = "cap") -> None:
        self.name = name
        self.min_interval = 0.0
        self.alerts: list[Alert] = []

    def render(self, alert: Alert) -> list[Alert]:
        return [alert]

    def deliver(self, part: Alert) -> None:
        self.alerts.append(part)

    def close(self) -> None:
        pass


class Harness:
    """Detections → the real correlation stage → the real alert pipeline, all on the
    detections' own clock (as `vigil replay --alerts` runs them)."""

    def __init__(self, tmp_path: Path, table: dict[str, Any], sinks: dict[str, Any] | None = None,
                 settings: IncidentSettings | None = None) -> None:
        self.clock = ReplayClock()
        self.alerts = AlertPipeline(AlertsConfig.from_dict(table), tmp_path, clock=self.clock,
                                    sinks=sinks)
        self.events: list[IncidentEvent] = []
        self.pipeline = DetectionPipeline([], correlator=Correlator(settings),
                                          alert=self._submit)

    def _submit(self, ev: IncidentEvent) -> None:
        self.events.append(ev)
        self.alerts.process(ev, now=self.clock.now)
        self.alerts.pump(self.clock.now)

    def feed(self, dets: Iterable[Detection]) -> None:
        """Hand each detection over at its own time, delivering what is due as time goes."""
        for d in dets:
            self.at(d.ts / 1e9)
            self.pipeline.handle([d])

    def at(self, now: float) -> None:
        """Let time run to `now`: incidents close, windows end, messages go."""
        if now > self.clock.now:
            self.clock.now = now
        self.pipeline.tick(self.clock.now)
        self.alerts.pump(self.clock.now)

    def finish(self) -> None:
        self.pipeline.finish("end_of_input")
        self.alerts.flush(self.clock.now)
        self.alerts.close()
