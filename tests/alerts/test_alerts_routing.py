"""Routing: minimum priority, tag/detector/rule matchers, several routes per incident,
and one incident reaching one sink by two routes sent once."""

from __future__ import annotations

from alerts_factories import T0, anomaly, ssh_failure

from vigil.alerts.config import AlertsConfig
from vigil.alerts.pipeline import AlertPipeline
from vigil.alerts.routing import Router
from vigil.alerts.sinks.file import StdoutSink
from vigil.detections import Detection
from vigil.priority import Priority

TABLE = {
    "sinks": {"tg": {"type": "stdout"}, "team": {"type": "stdout"}, "rules": {"type": "stdout"}},
    "routes": [
        {"name": "oncall", "sink": "tg", "min_priority": "critical"},
        {"name": "network", "sink": "team", "min_priority": "notice", "tags": ["network"]},
        {"name": "bf", "sink": "tg", "detectors": ["ssh_bruteforce"], "min_priority": "warning"},
        {"name": "falco", "sink": "rules", "rules": ["Write below etc"], "tags": ["filesystem"]},
    ],
}


def names(dets: Detection) -> list[str]:
    return [r.name for r in Router(AlertsConfig.from_dict(TABLE).routes).routes_for(dets)]


def test_matchers() -> None:
    assert names(ssh_failure("192.0.2.1", T0)) == ["network", "bf"]
    assert names(ssh_failure("192.0.2.1", T0, priority=Priority.CRITICAL)) == \
        ["oncall", "network", "bf"]
    assert names(ssh_failure("192.0.2.1", T0, priority=Priority.INFORMATIONAL)) == []
    assert names(anomaly("reverse_shell", T0)) == ["oncall"]
    assert names(anomaly("reverse_shell", T0, Priority.WARNING)) == []
    rule = Detection(kind="falco", name="Write below etc", priority=Priority.ERROR, output="x",
                     tags=["filesystem"])
    assert names(rule) == ["falco"]
    # tags AND rules: a rule of that name without the tag does not match
    untagged = Detection(kind="falco", name="Write below etc", priority=Priority.ERROR,
                         output="x")
    assert names(untagged) == []
    # "detectors" never matches a rule of the same name
    impostor = Detection(kind="sigma", name="ssh_bruteforce", priority=Priority.ERROR, output="x")
    assert names(impostor) == []


class Collecting(StdoutSink):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.got: list[str] = []

    def deliver(self, part: str) -> None:
        self.got.append(part)


def test_one_incident_two_routes_same_sink_sent_once(tmp_path) -> None:
    # in-process sinks stand in for stdout here: the test checks routing, not output
    sinks = {n: Collecting(n) for n in ("tg", "team", "rules")}
    p = AlertPipeline(AlertsConfig.from_dict(TABLE), tmp_path, sinks=sinks)
    p.submit(ssh_failure("192.0.2.1", T0, priority=Priority.CRITICAL))
    p.submit(anomaly("below_every_route", T0, Priority.DEBUG))
    stats = p.pump(T0)
    assert len(sinks["tg"].got) == 1 and len(sinks["team"].got) == 1 and not sinks["rules"].got
    assert stats.accepted == 3 and stats.unrouted == 1
    p.stop()


def test_suppressed_detections_are_refused(tmp_path) -> None:
    from vigil.detections import Suppression
    p = AlertPipeline(AlertsConfig.from_dict(TABLE), tmp_path)
    det = ssh_failure("192.0.2.1", T0, priority=Priority.CRITICAL)
    det.suppressed = Suppression(layer="dynamic", entry="allowlist.ips=192.0.2.1")
    assert p.submit(det) is False
    assert p.pump(T0).ignored_suppressed == 1 and p.counts().pending == 0
    p.stop()
