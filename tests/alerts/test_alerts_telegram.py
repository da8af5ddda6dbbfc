"""The Telegram sink against a local Bot API server: exact texts, escaping, splitting,
rate limit, 429 retry_after, 5xx, and the 49-failures acceptance case."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from alerts_factories import (T0, TOP_ATTACKER, Harness, anomaly, bruteforce_burst, opened,
                              ssh_failure)
from alerts_servers import (CHAT_ID, TOKEN, RecordingServer, Scripted,  # noqa: F401
                            telegram_429, telegram_server, telegram_sink_table, telegram_texts)

from vigil.alerts.config import AlertsConfig
from vigil.alerts.message import Alert
from vigil.alerts.pipeline import AlertPipeline
from vigil.alerts.sinks.telegram import TelegramSink
from vigil.detections import Detection
from vigil.priority import Priority

def first_text(inc_id: str) -> str:
    """The brute force's first message: the story as it stood when it went out."""
    short = inc_id[:8]
    return ("<b>[Warning] SSH brute force</b>\n"
            f"Failed password for root from {TOP_ATTACKER} port 22\n"
            f"remote {TOP_ATTACKER} · users root\n"
            "ATT&amp;CK T1110\n"
            f"incident {short} · vigil incidents show {short}\n"
            "<i>web-1 · 2026-11-26T12:00:00Z</i>")


def one_text(title: str, body: str, inc_id: str, priority: str = "Critical") -> str:
    """The message of a one-detection incident."""
    short = inc_id[:8]
    return (f"<b>[{priority}] {title}</b>\n{body}\n"
            f"incident {short} · vigil incidents show {short}\n"
            "<i>web-1 · 2026-11-26T12:00:00Z</i>")


SUMMARY = ("<b>[Warning] SSH brute force</b>\n"
           "SSH brute force: 49 attempts from 12 IPs in the last 60 s. "
           f"Top attacker: {TOP_ATTACKER} (23 attempts). "
           "First 2026-11-26T12:00:00Z, last 2026-11-26T12:00:57Z.\n"
           "<i>web-1 · 2026-11-26T12:01:00Z</i>")


def alerts_table(server: RecordingServer, **sink_extra) -> dict:
    # group_wait 0: these tests are about the sink; waiting for the story is tested in
    # test_alerts_batching.py
    return {"sinks": {"tg": telegram_sink_table(server.url, **sink_extra)},
            "routes": [{"name": "oncall", "sink": "tg", "min_priority": "warning",
                        "group_wait_secs": 0}],
            "retry": {"initial_backoff_secs": 5, "max_backoff_secs": 60,
                      "dead_letter_after_secs": 600}}


def make_pipeline(server: RecordingServer, state_dir: Path, *, dead=None, clock=None,
                  **sink_extra) -> AlertPipeline:
    cfg = AlertsConfig.from_dict(alerts_table(server, **sink_extra))
    return AlertPipeline(cfg, state_dir, clock=clock or (lambda: T0), on_dead_letter=dead)


def test_49_failures_from_12_ips_give_exactly_two_messages(telegram_server, tmp_path) -> None:
    h = Harness(tmp_path, alerts_table(telegram_server))
    burst = bruteforce_burst()
    h.feed(burst[:1])
    # the first goes out immediately, before any repeat arrives
    first = first_text(h.events[0].incident.id)
    assert telegram_texts(telegram_server) == [first]
    h.feed(burst[1:])
    assert len(telegram_server.accepted) == 1
    h.at(T0 + 59.9)
    assert len(telegram_server.accepted) == 1
    h.at(T0 + 60)
    assert telegram_texts(telegram_server) == [first, SUMMARY]
    # the storm goes quiet: no empty summary ever follows
    for t in (120, 180, 600):
        h.at(T0 + t)
    assert len(telegram_server.accepted) == 2
    path, body = telegram_server.accepted[0]
    assert path == f"/bot{TOKEN}/sendMessage"
    assert body["chat_id"] == CHAT_ID and body["parse_mode"] == "HTML"
    h.finish()


def test_background_thread_sends_first_at_once_and_summary_on_the_agent_clock(
        telegram_server, tmp_path) -> None:
    from vigil.incidents.correlator import Correlator
    from vigil.pipeline import DetectionPipeline

    now = [T0]
    p = make_pipeline(telegram_server, tmp_path, clock=lambda: now[0])
    events = []
    pipeline = DetectionPipeline([], correlator=Correlator(), clock=lambda: now[0],
                                 alert=lambda ev: (events.append(ev), p.submit(ev)))
    p.start()
    pipeline.handle(bruteforce_burst())
    telegram_server.wait_for(1)
    first = first_text(events[0].incident.id)
    assert telegram_texts(telegram_server) == [first]
    now[0] = T0 + 60  # the agent's clock moves on; no real 60 s sleep
    telegram_server.wait_for(2)
    p.stop()
    assert telegram_texts(telegram_server) == [first, SUMMARY]


def test_untrusted_text_is_html_escaped(telegram_server, tmp_path) -> None:
    p = make_pipeline(telegram_server, tmp_path)
    det = Detection(kind="falco", name="Shell <spawned> & co", priority=Priority.CRITICAL,
                    output="cmdline=sh -c 'echo <b>x</b> && cat /etc/shadow > /tmp/a&b'",
                    ts=int(T0 * 1e9), hostname="web-1")
    ev = opened(det)
    p.submit(ev)
    p.pump(T0)
    assert telegram_texts(telegram_server) == [one_text(
        "Shell &lt;spawned&gt; &amp; co",
        "cmdline=sh -c 'echo &lt;b&gt;x&lt;/b&gt; &amp;&amp; cat /etc/shadow &gt; /tmp/a&amp;b'",
        ev.incident.id)]


def test_markdown_v2_escaping() -> None:
    sink = TelegramSink("tg", token=TOKEN, chat_id=CHAT_ID, parse_mode="MarkdownV2")
    alert = Alert(kind="incident", route="r", title="rm_rf", text="rm -rf /var/*.log (x)!",
                  priority=Priority.ERROR, ts=T0, hostname="web-1")
    assert sink.render(alert) == [
        "*\\[Error\\] rm\\_rf*\nrm \\-rf /var/\\*\\.log \\(x\\)\\!\n"
        "_web\\-1 · 2026\\-11\\-26T12:00:00Z_"]
    sink.close()


def test_long_message_is_split_at_4096_and_paced_one_per_second(telegram_server,
                                                               tmp_path) -> None:
    p = make_pipeline(telegram_server, tmp_path)
    # the escaped text is what is measured (conservative: Telegram counts after parsing)
    out = "A" * 4000 + "\n" + "<x>" * 300
    ev = opened(anomaly("long_output", T0, output=out))
    p.submit(ev)
    p.pump(T0)
    assert len(telegram_server.accepted) == 1  # second part waits for the rate limit
    p.pump(T0 + 0.5)
    assert len(telegram_server.accepted) == 1
    p.pump(T0 + 1.0)
    texts = telegram_texts(telegram_server)
    assert len(texts) == 2
    assert all(len(t.encode("utf-16-le")) // 2 <= 4096 for t in texts)
    assert texts[0] == "<b>[Critical] long_output</b>\n" + "A" * 4000
    short = ev.incident.short_id()
    assert texts[1] == ("&lt;x&gt;" * 300 + f"\nincident {short} · vigil incidents show {short}"
                        "\n<i>web-1 · 2026-11-26T12:00:00Z</i>")
    assert p.counts().sent == 1


def test_429_retry_after_is_honoured_and_message_sent_once(telegram_server, tmp_path) -> None:
    telegram_server.script.append(telegram_429(7))
    p = make_pipeline(telegram_server, tmp_path)
    p.submit(opened(anomaly("reverse_shell", T0)))
    p.pump(T0)
    assert telegram_server.accepted == [] and p.counts().retrying == 1
    p.pump(T0 + 6.9)
    assert len(telegram_server.attempts) == 1  # not retried before retry_after
    p.pump(T0 + 7)
    assert len(telegram_server.attempts) == 2 and len(telegram_server.accepted) == 1
    p.pump(T0 + 100)
    assert len(telegram_server.accepted) == 1 and p.counts().sent == 1


def test_5xx_retries_with_backoff(telegram_server, tmp_path) -> None:
    for _ in range(2):
        telegram_server.script.append(Scripted(502, {"ok": False}))
    p = make_pipeline(telegram_server, tmp_path)
    p.submit(opened(anomaly("reverse_shell", T0)))
    p.pump(T0)            # fails, next try at +5
    p.pump(T0 + 4)
    p.pump(T0 + 5)        # fails, next try at +5+10
    p.pump(T0 + 14)
    assert len(telegram_server.attempts) == 2 and telegram_server.accepted == []
    p.pump(T0 + 15)
    assert len(telegram_server.accepted) == 1 and p.counts().sent == 1


def test_bad_token_is_dead_lettered_without_leaking_it(telegram_server, tmp_path,
                                                        caplog) -> None:
    telegram_server.script.append(Scripted(401, {"ok": False, "error_code": 401,
                                                 "description": "Unauthorized"}))
    dead: list[tuple[Alert, str, str]] = []
    caplog.set_level(logging.DEBUG)
    p = make_pipeline(telegram_server, tmp_path, dead=lambda a, s, r: dead.append((a, s, r)))
    p.submit(opened(anomaly("reverse_shell", T0)))
    p.pump(T0)
    assert p.counts().dead == 1 and len(dead) == 1
    assert "HTTP 401" in dead[0][2] and "Unauthorized" in dead[0][2]
    p.stop()
    assert TOKEN not in dead[0][2]
    assert any("HTTP Request" in r.getMessage() for r in caplog.records), \
        "httpx should have logged its request (else this test proves nothing)"
    assert all(TOKEN not in r.getMessage() for r in caplog.records)
    for f in tmp_path.iterdir():
        assert TOKEN.encode() not in f.read_bytes(), f


def test_dead_letter_reaches_the_real_audit_trail_without_the_token(telegram_server,
                                                                    tmp_path) -> None:
    from vigil.audit.trail import AuditTrail
    telegram_server.script.append(Scripted(403, {"ok": False, "error_code": 403,
                                                 "description": "Forbidden: bot was blocked"}))
    trail = AuditTrail(tmp_path / "audit", clock=lambda: T0)
    p = make_pipeline(telegram_server, tmp_path / "state", dead=trail.record_dead_letter)
    p.submit(opened(anomaly("reverse_shell", T0, output="bash -i")))
    p.pump(T0)
    p.stop()
    trail.close()
    (line,) = (tmp_path / "audit").glob("*.jsonl").__next__().read_text().splitlines()
    assert '"type":"dead_letter"' in line and '"sink":"tg"' in line
    assert "bot was blocked" in line and "bash -i" in line
    assert TOKEN not in line


def test_connection_error_does_not_leak_token(tmp_path) -> None:
    # a port with no listener: httpx raises ConnectError
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    sink = TelegramSink("tg", token=TOKEN, chat_id=CHAT_ID, api_url=f"http://127.0.0.1:{port}")
    from vigil.alerts.sinks.base import SinkError
    with pytest.raises(SinkError) as ei:
        sink.deliver("hello")
    assert ei.value.retryable and TOKEN not in str(ei.value)
    sink.close()


def test_token_from_environment(telegram_server, tmp_path) -> None:
    cfg = AlertsConfig.from_dict({
        "sinks": {"tg": {"type": "telegram", "token_env": "VIGIL_TG_TOKEN",
                         "chat_id_env": "VIGIL_TG_CHAT", "api_url": telegram_server.url}},
        "routes": [{"sink": "tg"}]})
    p = AlertPipeline(cfg, tmp_path, clock=lambda: T0,
                      environ={"VIGIL_TG_TOKEN": TOKEN, "VIGIL_TG_CHAT": CHAT_ID})
    p.submit(opened(ssh_failure("192.0.2.1", T0)))
    p.pump(T0 + 2)
    p.stop()
    assert telegram_server.accepted[0][0] == f"/bot{TOKEN}/sendMessage"
    assert TOKEN not in repr(cfg)


def test_a_hanging_sink_blocks_neither_submit_nor_acceptance(telegram_server, tmp_path) -> None:
    gate = threading.Event()
    telegram_server.script.append(Scripted(200, {"ok": True}, gate=gate))
    cfg = AlertsConfig.from_dict({"sinks": {"tg": telegram_sink_table(telegram_server.url,
                                                                      min_interval_secs=0)},
                                  "routes": [{"sink": "tg", "group_wait_secs": 0}],
                                  "queue_size": 10})
    p = AlertPipeline(cfg, tmp_path, clock=lambda: T0, poll_interval=0.01)
    p.start()
    p.submit(opened(anomaly("a0", T0)))
    waited = threading.Event()  # never set: a sleep that reads as one
    deadline = time.monotonic() + 10
    while not telegram_server.attempts and time.monotonic() < deadline:
        waited.wait(0.01)
    # the Telegram thread is stuck in an HTTP call; submits still return at once and
    # the acceptance thread still moves them into the outbox
    for i in range(30):
        assert p.submit(opened(anomaly(f"k{i}", T0, pid=i)))
        waited.wait(0.005)
    while p.counts().pending < 31 and time.monotonic() < deadline:
        waited.wait(0.01)
    # 30 new ones, plus the one in flight (pending until the sink answers)
    assert p.counts().pending == 31 and telegram_server.accepted == []
    gate.set()
    stats = p.stop()
    assert stats.sent == 31 and len(telegram_server.accepted) == 31 and stats.dropped == 0


def test_full_queue_refuses_and_counts_without_blocking(tmp_path) -> None:
    cfg = AlertsConfig.from_dict({"sinks": {"o": {"type": "stdout"}},
                                  "routes": [{"sink": "o"}], "queue_size": 10})
    p = AlertPipeline(cfg, tmp_path, clock=lambda: T0)  # not started: nothing drains
    results = [p.submit(opened(anomaly(f"k{i}", T0))) for i in range(15)]
    assert results == [True] * 10 + [False] * 5
    assert p.stats().dropped == 5 and p.stats().submitted == 10
    p.close()


def test_full_queue_keeps_room_for_openings_over_growth(tmp_path, caplog) -> None:
    """`joined` events (an incident growing) give way first: refused at 90 %, while an
    opening is still taken; drops are logged once, not per event."""
    from vigil.incidents.model import IncidentEvent, IncidentEventKind

    cfg = AlertsConfig.from_dict({"sinks": {"o": {"type": "stdout"}},
                                  "routes": [{"sink": "o"}], "queue_size": 10})
    p = AlertPipeline(cfg, tmp_path, clock=lambda: T0)
    caplog.set_level(logging.WARNING)
    ev = opened(anomaly("k", T0))
    grow = IncidentEvent(kind=IncidentEventKind.JOINED, incident=ev.incident)
    assert [p.submit(grow) for _ in range(10)] == [True] * 9 + [False]
    assert p.submit(ev) and not p.submit(ev) and not p.submit(grow)
    st = p.stats()
    assert (st.dropped, st.dropped_joined) == (3, 2)
    drops = [r for r in caplog.records if "alert queue full" in r.getMessage()]
    assert len(drops) == 1
    p.close()
