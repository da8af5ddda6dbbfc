"""Routing: minimum priority, tag/detector/rule matchers, several routes per incident,
and one incident reaching one sink by two routes sent once."""

from __future__ import annotations

from alerts_factories import T0, anomaly, incident_events, opened, ssh_failure

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
        {"name": "network", "sink": "team", "min_priority": "notice", "tags": ["T1110"]},
        {"name": "bf", "sink": "tg", "detectors": ["ssh_bruteforce"], "min_priority": "warning"},
        {"name": "falco", "sink": "rules", "rules": ["Write below etc"], "tags": ["filesystem"]},
    ],
}


def names(det: Detection) -> list[str]:
    """The routes an incident made of this one detection goes to (and, the same, the
    routes the detection alone matches on a per-detection route)."""
    router = Router(AlertsConfig.from_dict(TABLE).routes)
    by_incident = [r.name for r in router.routes_for_incident(opened(det).incident)]
    assert by_incident == [r.name for r in router.routes_for(det)]
    return by_incident


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


def test_incident_matches_when_one_of_its_detections_does() -> None:
    """A route takes the whole incident when any one detection in it passes all of the
    route's matchers; the priority must come with the matching detection itself."""
    router = Router(AlertsConfig.from_dict(TABLE).routes)
    events = incident_events([
        anomaly("sensitive_write", T0, Priority.CRITICAL, "write", ip="198.51.100.4"),
        ssh_failure("198.51.100.4", T0 + 1, priority=Priority.NOTICE)])
    inc = events[-1].incident
    assert len({e.incident.id for e in events}) == 1
    # oncall (critical) by the sensitive write, network (notice, T1110) by the failure;
    # bf wants the ssh_bruteforce detector at warning: the failure is only a notice
    assert [r.name for r in router.routes_for_incident(inc)] == ["oncall", "network"]


def test_one_incident_two_routes_same_sink_sent_once(tmp_path) -> None:
    # in-process sinks stand in for stdout here: the test checks routing, not output
    sinks = {n: Collecting(n) for n in ("tg", "team", "rules")}
    p = AlertPipeline(AlertsConfig.from_dict(TABLE), tmp_path, sinks=sinks)
    p.submit(opened(ssh_failure("192.0.2.1", T0, priority=Priority.CRITICAL)))
    p.submit(opened(anomaly("below_every_route", T0, Priority.DEBUG)))
    p.pump(T0)
    assert not sinks["tg"].got  # waiting group_wait_secs for the rest of the story
    stats = p.pump(T0 + 2)
    assert len(sinks["tg"].got) == 1 and len(sinks["team"].got) == 1 and not sinks["rules"].got
    assert stats.accepted == 3 and stats.unrouted == 1
    p.stop()


def test_per_detection_falco_route_gets_every_detection(tmp_path) -> None:
    """A Falco JSON sink in its default detection mode is sent one document per detection,
    as Falco would (Falcosidekick users), without batching."""
    table = {"sinks": {"fj": {"type": "falco_json", "url": "http://127.0.0.1:9/"},
                       "inc": {"type": "stdout"}},
             "routes": [{"name": "sidekick", "sink": "fj"}, {"name": "people", "sink": "inc"}]}
    sinks = {"fj": Collecting("fj"), "inc": Collecting("inc")}
    p = AlertPipeline(AlertsConfig.from_dict(table), tmp_path, sinks=sinks)
    for ev in incident_events([ssh_failure("192.0.2.1", T0 + i) for i in range(4)]):
        p.submit(ev)
    p.pump(T0 + 10)
    p.stop()
    assert len(sinks["fj"].got) == 4 and len(sinks["inc"].got) == 1
    assert all('"kind":"detection"' in part for part in sinks["fj"].got)
