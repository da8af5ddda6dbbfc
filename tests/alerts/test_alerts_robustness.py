"""Bad input never crashes the pipeline nor costs other incidents their alerts: a
malformed detection, an undecodable outbox row, a failing outbox write."""

from __future__ import annotations

import sqlite3

from alerts_factories import T0, anomaly, incident_events, opened, ssh_failure
from alerts_servers import telegram_server, telegram_sink_table, telegram_texts  # noqa: F401

from vigil.alerts.config import AlertsConfig
from vigil.alerts.outbox import OUTBOX_FILE
from vigil.alerts.pipeline import AlertPipeline
from vigil.detections import Detection
from vigil.incidents.model import IncidentEvent, IncidentEventKind
from vigil.pipeline import DetectionPipeline
from vigil.priority import Priority


def pipeline(server, tmp_path) -> AlertPipeline:
    cfg = AlertsConfig.from_dict({"sinks": {"tg": telegram_sink_table(server.url,
                                                                      min_interval_secs=0)},
                                  "routes": [{"sink": "tg", "group_wait_secs": 0}]})
    return AlertPipeline(cfg, tmp_path, clock=lambda: T0)


def test_malformed_detection_is_counted_and_others_still_go_out(telegram_server,
                                                               tmp_path) -> None:
    p = pipeline(telegram_server, tmp_path)
    # msgspec does not validate on construction: a bug can hand over incident=None
    broken = IncidentEvent(kind=IncidentEventKind.OPENED,
                           incident=None)  # type: ignore[arg-type]
    p.submit(opened(anomaly("before", T0, output="before")))
    p.submit(broken)
    p.submit(opened(anomaly("after", T0, output="after")))
    stats = p.pump(T0)
    p.stop()
    assert stats.errors == 1 and stats.sent == 2
    assert [t.split("\n")[1] for t in telegram_texts(telegram_server)] == ["before", "after"]


def test_detection_without_entity_or_evidence_opens_its_own_incident() -> None:
    """A detector bug (entity=None, tags=None) must not crash the correlation stage."""
    pipe = DetectionPipeline([])
    broken = Detection(kind="detector", name="broken", priority=Priority.ERROR, output="x",
                       entity=None, tags=None, evidence=None)  # type: ignore[arg-type]
    events = incident_events([anomaly("a", T0, ip="192.0.2.5"), broken,
                              anomaly("b", T0 + 1, ip="192.0.2.5")], pipe)
    assert [e.kind for e in events] == [IncidentEventKind.OPENED, IncidentEventKind.OPENED,
                                        IncidentEventKind.JOINED]
    assert events[1].incident.id not in (events[0].incident.id,)
    assert pipe.correlator.stats.malformed == 1


def test_undecodable_outbox_row_is_dead_lettered_not_blocking(telegram_server,
                                                             tmp_path) -> None:
    p = pipeline(telegram_server, tmp_path)
    p.process(opened(anomaly("first", T0, output="first")))  # accepted, not delivered
    p.process(opened(anomaly("second", T0, output="second")))
    db = sqlite3.connect(tmp_path / OUTBOX_FILE)
    db.execute("UPDATE messages SET alert = x'7b6e6f' WHERE id = 1")  # "{no"
    db.commit()
    db.close()
    p.pump(T0)
    c = p.counts()
    p.stop()
    assert (c.dead, c.sent) == (1, 1)
    assert [t.split("\n")[1] for t in telegram_texts(telegram_server)] == ["second"]


def test_failed_outbox_write_loses_nothing_and_double_counts_nothing(telegram_server,
                                                                    tmp_path) -> None:
    p = pipeline(telegram_server, tmp_path)
    corr = DetectionPipeline([])
    for ev in incident_events([ssh_failure("192.0.2.1", T0)], corr):
        p.submit(ev)
    p.pump(T0)
    db = sqlite3.connect(tmp_path / OUTBOX_FILE)
    # a real SQLite failure in the middle of a round (as a full disk would give)
    db.execute("CREATE TRIGGER full BEFORE INSERT ON members WHEN NEW.ip = '192.0.2.66' "
               "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    db.commit()
    for ev in incident_events([ssh_failure(ip, T0 + 1)
                               for ip in ("192.0.2.2", "192.0.2.66", "192.0.2.3")], corr):
        p.submit(ev)
    try:
        p.pump(T0 + 1)
    except sqlite3.Error as e:
        assert "disk is full" in str(e)
    else:
        raise AssertionError("the failing write should surface in a synchronous pump")
    assert p.counts().held == 0  # the round was rolled back as a whole
    db.execute("DROP TRIGGER full")
    db.commit()
    db.close()
    p.pump(T0 + 2)  # the same three incidents, accepted once
    assert p.counts().held == 3
    p.pump(T0 + 60)
    p.stop()
    texts = telegram_texts(telegram_server)
    assert len(texts) == 2
    assert "4 attempts from 4 IPs" in texts[1]
