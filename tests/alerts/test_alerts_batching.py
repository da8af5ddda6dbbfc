"""Batching semantics on the pure `Batcher` (no I/O): first immediately, one summary per
window, nothing for a quiet kind, critical bypass, exact summary text."""

from __future__ import annotations

import pytest
from alerts_factories import T0, TOP_ATTACKER, anomaly, bruteforce_burst, ssh_failure

from vigil.alerts.batching import Batcher
from vigil.alerts.config import RouteConfig
from vigil.priority import Priority

ROUTE = RouteConfig(name="oncall", sink="tg", batch_window_secs=60)


def offer_all(b: Batcher, dets, route=ROUTE):
    sent, closed = [], []
    for d in dets:
        now = d.ts / 1e9
        closed += b.close_due(now)
        offer = b.offer(d, route, now)
        if offer.alert is not None:
            sent.append(offer.alert)
    return sent, closed


def test_first_is_immediate_and_repeats_become_one_exact_summary() -> None:
    b = Batcher(hostname="web-1")
    sent, closed = offer_all(b, bruteforce_burst())
    assert [a.kind for a in sent] == ["incident"]
    assert sent[0].text == f"Failed password for root from {TOP_ATTACKER} port 22"
    assert closed == []
    closed = b.close_due(T0 + 60)
    assert len(closed) == 1
    s = closed[0].summary
    assert s is not None and s.kind == "summary"
    assert s.text == ("SSH brute force: 49 attempts from 12 IPs in the last 60 s. "
                      "Top attacker: 185.220.101.23 (23 attempts). "
                      "First 2026-11-26T12:00:00Z, last 2026-11-26T12:00:57Z.")
    assert (s.summary.count, s.summary.unique_ips, s.summary.top_ip_count) == (49, 12, 23)


def test_active_kind_gives_one_summary_per_window_and_quiet_gives_none() -> None:
    b = Batcher()
    # 3 minutes of one attempt every 2 s, then silence
    dets = [ssh_failure("192.0.2.7", T0 + i * 2) for i in range(90)]
    sent, closed = offer_all(b, dets)
    closed += b.close_due(T0 + 1000)
    summaries = [c.summary for c in closed if c.summary is not None]
    assert len(sent) == 1
    assert [s.summary.count for s in summaries] == [30, 30, 30]
    # the window after the last summary saw nothing: closed silently, kind forgotten
    assert len(b) == 0
    again = b.offer(ssh_failure("192.0.2.7", T0 + 1001), ROUTE, T0 + 1001)
    assert again.alert is not None and again.opened


def test_single_incident_closes_without_summary() -> None:
    b = Batcher()
    sent, _ = offer_all(b, [ssh_failure("192.0.2.1", T0)])
    closed = b.close_due(T0 + 60)
    assert len(sent) == 1 and [c.summary for c in closed] == [None]
    assert len(b) == 0


def test_critical_bypasses_batching_and_is_not_counted() -> None:
    route = RouteConfig(name="r", sink="tg", bypass_batching_min_priority=Priority.CRITICAL)
    b = Batcher()
    dets = [ssh_failure("192.0.2.1", T0 + i, priority=Priority.CRITICAL) for i in range(3)]
    dets.append(ssh_failure("192.0.2.1", T0 + 5))
    sent, _ = offer_all(b, dets, route)
    assert len(sent) == 4  # 3 bypassing criticals + the first warning
    w = b.window("r", "detector:ssh_bruteforce")
    assert w is not None and w.count == 1


def test_kinds_are_separate_per_detection_key_and_route() -> None:
    b = Batcher()
    other_route = RouteConfig(name="team", sink="slack")
    out = [b.offer(ssh_failure("192.0.2.1", T0), ROUTE, T0),
           b.offer(ssh_failure("192.0.2.1", T0), other_route, T0),
           b.offer(anomaly("reverse_shell", T0), ROUTE, T0),
           b.offer(ssh_failure("192.0.2.1", T0 + 1), ROUTE, T0 + 1)]
    assert [o.alert is not None for o in out] == [True, True, True, False]


def test_summary_without_ips_and_singular_units() -> None:
    b = Batcher()
    offer_all(b, [anomaly("sensitive_write", T0, Priority.WARNING, "write /etc/shadow"),
                  anomaly("sensitive_write", T0 + 1, Priority.ERROR, "write /etc/shadow")])
    (c,) = b.close_due(T0 + 60)
    assert c.summary.text == ("sensitive_write: 2 incidents in the last 60 s. "
                              "First 2026-11-26T12:00:00Z, last 2026-11-26T12:00:01Z.")
    # the summary carries the most severe priority of its window
    assert c.summary.priority == Priority.ERROR
    # an active kind's next window holds one repeat: "1 attempt", "1 IP"
    b2 = Batcher()
    offer_all(b2, [ssh_failure("192.0.2.9", T0), ssh_failure("192.0.2.9", T0 + 1)])
    closed = b2.close_due(T0 + 60)
    offer_all(b2, [ssh_failure("192.0.2.9", T0 + 70)])
    closed += b2.close_due(T0 + 120)
    texts = [c.summary.text for c in closed if c.summary]
    assert texts[1] == ("SSH brute force: 1 attempt from 1 IP in the last 60 s. Top attacker: "
                        "192.0.2.9 (1 attempt). First 2026-11-26T12:01:10Z, last 2026-11-26T12:01:10Z.")


def test_offer_after_window_end_without_close_is_refused() -> None:
    b = Batcher()
    b.offer(ssh_failure("192.0.2.1", T0), ROUTE, T0)
    with pytest.raises(ValueError, match="close_due"):
        b.offer(ssh_failure("192.0.2.1", T0 + 61), ROUTE, T0 + 61)
