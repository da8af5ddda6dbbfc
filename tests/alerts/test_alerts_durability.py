"""Nothing lost: a sink that is down and comes back gets every queued message once, in
order; an agent killed with SIGKILL mid-queue loses nothing after restart; windows and
retries survive a restart."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from alerts_factories import T0, Harness, anomaly, bruteforce_burst, opened
from alerts_servers import (RecordingServer, Scripted, telegram_ok, telegram_server,  # noqa: F401
                            telegram_sink_table, telegram_texts)

from vigil.alerts.config import AlertsConfig
from vigil.alerts.pipeline import AlertPipeline

HERE = Path(__file__).parent


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def alerts_table(url: str, **sink_extra) -> dict:
    return {"sinks": {"tg": telegram_sink_table(url, **sink_extra)},
            "routes": [{"name": "oncall", "sink": "tg", "group_wait_secs": 0}],
            "retry": {"initial_backoff_secs": 5, "max_backoff_secs": 40,
                      "dead_letter_after_secs": 3600}}


def expected_text(i: int, inc_id: str) -> str:
    short = inc_id[:8]
    return (f"<b>[Critical] anomaly_{i}</b>\nanomaly {i}\n"
            f"incident {short} · vigil incidents show {short}\n"
            "<i>web-1 · 2026-11-26T12:00:00Z</i>")


def test_sink_down_then_up_gets_every_message_once_in_order(tmp_path) -> None:
    port = free_port()
    cfg = AlertsConfig.from_dict(alerts_table(f"http://127.0.0.1:{port}"))
    p = AlertPipeline(cfg, tmp_path, clock=lambda: T0)
    ids = []
    for i in range(5):
        ev = opened(anomaly(f"anomaly_{i}", T0, output=f"anomaly {i}"))
        ids.append(ev.incident.id)
        p.submit(ev)
    for t in (0, 5, 15, 35, 75, 115):  # nothing listens: every attempt is refused
        p.pump(T0 + t)
    c = p.counts()
    assert (c.pending, c.retrying, c.sent) == (4, 1, 0)
    server = RecordingServer(telegram_ok, port=port)
    try:
        for t in range(155, 165):
            p.pump(T0 + t)
        assert telegram_texts(server) == [expected_text(i, ids[i]) for i in range(5)]
        assert p.counts().sent == 5
        for t in range(165, 400, 7):
            p.pump(T0 + t)
        assert len(server.accepted) == 5
    finally:
        p.stop()
        server.close()


def test_retries_continue_across_a_graceful_restart(tmp_path) -> None:
    port = free_port()
    table = alerts_table(f"http://127.0.0.1:{port}")
    a = AlertPipeline(AlertsConfig.from_dict(table), tmp_path, clock=lambda: T0)
    ids = []
    for i in range(3):
        ev = opened(anomaly(f"anomaly_{i}", T0, output=f"anomaly {i}"))
        ids.append(ev.incident.id)
        a.submit(ev)
    a.stop()
    assert a.stats().failed == 1
    server = RecordingServer(telegram_ok, port=port)
    try:
        b = AlertPipeline(AlertsConfig.from_dict(table), tmp_path, clock=lambda: T0 + 10)
        assert b.counts().retrying == 1 and b.counts().pending == 2
        for t in range(10, 20):
            b.pump(T0 + t)
        b.stop()
        assert telegram_texts(server) == [expected_text(i, ids[i]) for i in range(3)]
    finally:
        server.close()


def test_open_batch_window_survives_a_restart(telegram_server, tmp_path) -> None:
    table = alerts_table(telegram_server.url)
    burst = bruteforce_burst()
    a = Harness(tmp_path, table)
    a.feed(burst[:30])
    a.at(T0 + 36)
    a.alerts.close()  # a crash-like end: no final pump, no flush
    held = a.alerts.stats().held
    assert held == len({d.entity.ip for d in burst[:30]}) - 1  # all but the announced one
    # the restarted agent's correlator is new, and its incidents are too: the window
    # (with its members and counts) comes back from the outbox
    b = Harness(tmp_path, table)
    assert b.alerts.counts().held == held
    b.clock.now = T0 + 40
    b.feed(burst[30:])
    b.at(T0 + 60)
    b.alerts.stop()
    texts = telegram_texts(telegram_server)
    assert len(texts) == 2
    assert "49 attempts from 12 IPs in the last 60 s" in texts[1]
    assert "(23 attempts)" in texts[1]


def test_sigkill_mid_queue_then_restart_loses_nothing(tmp_path) -> None:
    gate = threading.Event()
    server = RecordingServer(telegram_ok)
    ok = {"ok": True, "result": {"message_id": 1}}
    server.script.extend([Scripted(200, ok)] * 3 + [Scripted(503, {"ok": False}, gate=gate)])
    table = alerts_table(server.url, min_interval_secs=0)
    (tmp_path / "alerts.json").write_text(json.dumps(table))
    state = tmp_path / "state"
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    child = subprocess.Popen([sys.executable, str(HERE / "alerts_child_agent.py"),
                              str(tmp_path / "alerts.json"), str(state), "20"], env=env)
    try:
        deadline = time.monotonic() + 20
        while len(server.attempts) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(server.attempts) == 4, "the child never reached its 4th delivery"
        # the 4th request is in flight (held by the server): kill the agent now
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        gate.set()
        if child.poll() is None:
            child.kill()
    assert len(server.accepted) == 3

    restarted = AlertPipeline(AlertsConfig.from_dict(table), state)
    assert restarted.counts().pending == 17
    for _ in range(5):
        restarted.pump()
    restarted.stop()
    server.close()
    texts = [body["text"] for _, body in server.accepted]
    assert [t.split("\n")[1] for t in texts] == [f"incident {i:02d}" for i in range(20)]
