"""Alerting on incidents (issue 10): one message per real attack with its evidence, a storm
summarised per window, unrelated attacks never folded together, an escalation sent as an
update. Detections go through the real correlation stage and the real alert pipeline on
their own clock; an in-memory sink keeps what is delivered."""

from __future__ import annotations

from alerts_factories import (T0, TOP_ATTACKER, CaptureSink, Harness, anomaly, bruteforce_burst,
                              ssh_failure)

from vigil.alerts.batching import Batcher, Window, summary_alert
from vigil.detections import Detection, Entity
from vigil.priority import Priority


def table(**route) -> dict:
    return {"sinks": {"cap": {"type": "stdout"}},
            "routes": [{"name": "oncall", "sink": "cap", "batch_window_secs": 60, **route}]}


def harness(tmp_path, **route) -> tuple[Harness, CaptureSink]:
    sink = CaptureSink()
    return Harness(tmp_path, table(**route), sinks={"cap": sink}), sink


def test_storm_from_many_ips_is_one_message_and_one_exact_summary(tmp_path) -> None:
    h, sink = harness(tmp_path)
    h.feed(bruteforce_burst())
    kinds = [a.kind for a in sink.alerts]
    assert kinds == ["incident"], kinds
    first = sink.alerts[0]
    assert first.title == "SSH brute force" and first.incident is not None
    assert first.incident.entities.remote_ips == (TOP_ATTACKER,)
    h.at(T0 + 60)
    assert [a.kind for a in sink.alerts] == ["incident", "summary"]
    s = sink.alerts[1]
    assert s.text == ("SSH brute force: 49 attempts from 12 IPs in the last 60 s. "
                      "Top attacker: 185.220.101.23 (23 attempts). "
                      "First 2026-11-26T12:00:00Z, last 2026-11-26T12:00:57Z.")
    assert (s.summary.count, s.summary.unique_ips, s.summary.top_ip_count,
            s.summary.incidents) == (49, 12, 23, 12)


def test_first_message_waits_for_the_story_and_lists_it(tmp_path) -> None:
    """An attack that trips several rules within group_wait is one message listing them."""
    h, sink = harness(tmp_path)
    ip = "203.0.113.66"
    h.feed([anomaly("webshell", T0, Priority.ERROR, "nginx spawned sh", ip=ip),
            anomaly("reverse_shell", T0 + 0.5, Priority.CRITICAL, "bash -i to 203.0.113.66",
                    ip=ip),
            anomaly("Redirect STDOUT/STDIN to Network Connection", T0 + 1, Priority.NOTICE,
                    "dup2 on a socket", ip=ip)])
    assert sink.alerts == []  # still waiting (group_wait_secs = 2)
    h.at(T0 + 2.5)
    (msg,) = sink.alerts
    assert msg.kind == "incident" and msg.priority == Priority.CRITICAL
    assert msg.title == "reverse_shell"  # the most severe detection names it
    assert msg.text.splitlines()[0] == "bash -i to 203.0.113.66"
    for out in ("nginx spawned sh", "dup2 on a socket", "3 detections (3 kinds)"):
        assert out in msg.text
    h.at(T0 + 600)
    assert len(sink.alerts) == 1  # no update: nothing escalated after the message


def test_two_unrelated_attacks_seconds_apart_each_get_a_message(tmp_path) -> None:
    h, sink = harness(tmp_path)
    h.feed([anomaly("sensitive_write", T0, Priority.WARNING, "write /etc/sudoers.d/x",
                    path="/etc/sudoers.d/x", pid=100),
            anomaly("sensitive_write", T0 + 1, Priority.WARNING, "write /etc/cron.d/y",
                    path="/etc/cron.d/y", pid=200),
            anomaly("sensitive_write", T0 + 2, Priority.WARNING,
                    "write /root/.ssh/authorized_keys", path="/root/.ssh/authorized_keys",
                    pid=300)])
    h.at(T0 + 5)
    assert [a.text.splitlines()[0] for a in sink.alerts] == [
        "write /etc/sudoers.d/x", "write /etc/cron.d/y", "write /root/.ssh/authorized_keys"]
    assert len({a.incident.id for a in sink.alerts}) == 3
    h.at(T0 + 120)
    assert len(sink.alerts) == 3  # no summary folds them


def test_single_ip_brute_force_is_one_message_however_long(tmp_path) -> None:
    h, sink = harness(tmp_path)
    # 3 minutes of one attempt every 2 s, then silence
    h.feed([ssh_failure("192.0.2.7", T0 + i * 2) for i in range(90)])
    h.at(T0 + 1000)
    assert [a.kind for a in sink.alerts] == ["incident"]
    # the incident closed when it went quiet: a new attempt much later is a new story
    h.feed([ssh_failure("192.0.2.7", T0 + 2000)])
    h.at(T0 + 2003)
    assert [a.kind for a in sink.alerts] == ["incident", "incident"]
    assert sink.alerts[0].incident.id != sink.alerts[1].incident.id


def test_escalation_sends_an_update_never_a_duplicate(tmp_path) -> None:
    h, sink = harness(tmp_path)
    ip = "198.51.100.9"
    h.feed([ssh_failure(ip, T0 + i, priority=Priority.NOTICE) for i in range(6)])
    h.at(T0 + 30)
    success = Detection(kind="detector", name="ssh_bruteforce",
                        rule_id="ssh_bruteforce.success_after_burst", priority=Priority.CRITICAL,
                        output=f"Accepted password for root from {ip} after 6 failures",
                        entity=Entity(ip=ip, user="root"), ts=int((T0 + 40) * 1e9),
                        tags=["T1110", "T1078"], source="auth",
                        data={"title": "SSH brute force", "unit": "attempts"}, hostname="web-1")
    h.feed([success])
    h.at(T0 + 41)
    assert [a.kind for a in sink.alerts] == ["incident", "update"]
    first, update = sink.alerts
    assert first.incident.id == update.incident.id
    assert update.priority == Priority.CRITICAL and update.title == "Escalated: SSH brute force"
    assert update.text.startswith("Escalated Notice → Critical.")
    assert "Accepted password for root" in update.text


def test_escalation_within_group_wait_is_in_the_first_message(tmp_path) -> None:
    h, sink = harness(tmp_path)
    ip = "198.51.100.10"
    h.feed([anomaly("webshell", T0, Priority.ERROR, "nginx spawned sh", ip=ip),
            anomaly("reverse_shell", T0 + 1, Priority.CRITICAL, "bash -i", ip=ip)])
    h.at(T0 + 10)
    assert [(a.kind, a.priority) for a in sink.alerts] == [("incident", Priority.CRITICAL)]


def test_held_incident_that_escalates_gets_its_own_update(tmp_path) -> None:
    h, sink = harness(tmp_path)
    h.feed([ssh_failure("192.0.2.1", T0), ssh_failure("192.0.2.2", T0 + 1)])
    h.at(T0 + 5)
    assert [a.kind for a in sink.alerts] == ["incident"]  # 192.0.2.2 is held
    h.feed([ssh_failure("192.0.2.2", T0 + 6, priority=Priority.CRITICAL)])
    h.at(T0 + 7)
    assert [a.kind for a in sink.alerts] == ["incident", "update"]
    assert sink.alerts[1].incident.entities.remote_ips == ("192.0.2.2",)


def test_storm_members_crossing_a_threshold_send_no_updates(tmp_path) -> None:
    """Notice → Warning (an attempt becomes a brute force) is the summary's business; a
    message per attacker would be the flood incidents exist to prevent."""
    h, sink = harness(tmp_path)
    h.feed([ssh_failure(f"192.0.2.{i}", T0 + i, priority=Priority.NOTICE) for i in range(5)])
    h.feed([ssh_failure(f"192.0.2.{i}", T0 + 10 + i, priority=Priority.WARNING)
            for i in range(5)])
    h.at(T0 + 60)
    assert [a.kind for a in sink.alerts] == ["incident", "summary"]
    assert sink.alerts[1].priority == Priority.WARNING


def test_critical_bypasses_batching(tmp_path) -> None:
    h, sink = harness(tmp_path, bypass_batching_min_priority="critical")
    h.feed([ssh_failure(f"192.0.2.{i}", T0 + i, priority=Priority.CRITICAL) for i in range(3)]
           + [ssh_failure("192.0.2.50", T0 + 5), ssh_failure("192.0.2.51", T0 + 6)])
    h.at(T0 + 10)
    # 3 bypassing criticals + the first warning; the second warning is held
    assert [a.priority for a in sink.alerts] == [Priority.CRITICAL] * 3 + [Priority.WARNING]
    h.at(T0 + 70)
    assert sink.alerts[-1].kind == "summary" and sink.alerts[-1].summary.count == 2


def test_group_by_rule_folds_anomalies_with_singular_units(tmp_path) -> None:
    h, sink = harness(tmp_path, group_by=["rule"])
    h.feed([anomaly("sensitive_write", T0, Priority.WARNING, "write /etc/a", pid=1),
            anomaly("sensitive_write", T0 + 1, Priority.ERROR, "write /etc/b", pid=2)])
    h.at(T0 + 60)
    assert [a.kind for a in sink.alerts] == ["incident", "summary"]
    s = sink.alerts[1]
    assert s.text == ("sensitive_write: 2 detections in the last 60 s. "
                      "First 2026-11-26T12:00:00Z, last 2026-11-26T12:00:01Z.")
    assert s.priority == Priority.ERROR


def test_summary_counts_one_attempt_and_one_ip_in_the_singular() -> None:
    w = Window(route="r", key="group:x", start=T0, end=T0 + 60, title="SSH brute force",
               unit="attempts")
    from alerts_factories import opened
    inc = opened(ssh_failure("192.0.2.9", T0 + 70)).incident
    w.add(inc, 1, T0 + 70, held=True)
    assert summary_alert(w, T0 + 60).text == (
        "SSH brute force: 1 attempt from 1 IP in the last 60 s. Top attacker: 192.0.2.9 "
        "(1 attempt). First 2026-11-26T12:01:10Z, last 2026-11-26T12:01:10Z.")


def test_closed_notifications_when_the_route_asks(tmp_path) -> None:
    h, sink = harness(tmp_path, notify=["opened", "escalated", "closed"])
    h.feed([anomaly("ptrace", T0, Priority.WARNING, "gdb attached", pid=7)])
    h.at(T0 + 1000)
    assert [a.kind for a in sink.alerts] == ["incident", "closed"]
    assert sink.alerts[1].incident.closed_reason == "idle"
    assert sink.alerts[1].title == "Closed: ptrace"


def test_windows_are_per_route_and_group() -> None:
    b = Batcher()
    a = b.open("oncall", "group:detector:ssh_bruteforce", T0, T0 + 60)
    c = b.open("team", "group:detector:ssh_bruteforce", T0, T0 + 60)
    assert a is not c and len(b) == 2
    closed = b.close_due(T0 + 60)
    assert [x.summary for x in closed] == [None, None] and len(b) == 0
