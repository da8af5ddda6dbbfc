"""Stopping the alert pipeline while a sink hangs is bounded (issue 14 item 13): the
delivery in flight gets the sink's timeout, the hanging sink is not tried a second time,
and what it did not take stays pending in the outbox."""

from __future__ import annotations

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from alerts_factories import anomaly, opened

from vigil.alerts.config import AlertsConfig
from vigil.alerts.pipeline import AlertPipeline

TIMEOUT = 2.0


class HangingServer:
    """A real HTTP server that reads each request and never answers (until closed)."""

    def __init__(self) -> None:
        self.requests = 0
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests += 1
                outer.release.wait(60)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def config(url: str) -> AlertsConfig:
    return AlertsConfig.from_dict({
        "sinks": {"hook": {"type": "webhook", "url": url, "timeout_secs": TIMEOUT}},
        "routes": [{"sink": "hook"}]})


def wait(cond, timeout: float = 20.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not cond():
        time.sleep(0.02)
    return cond()


def test_a_hanging_sink_is_tried_once_during_stop(tmp_path: Path) -> None:
    server = HangingServer()
    try:
        pipe = AlertPipeline(config(server.url), tmp_path)
        pipe.start()
        pipe.submit(opened(anomaly("reverse_shell", time.time())))
        assert wait(lambda: server.requests == 1)
        t0 = time.monotonic()
        pipe.stop()
        took = time.monotonic() - t0
    finally:
        server.close()
    # the request in flight timed out; its retry is due 2 s after the failure, not at once
    assert server.requests == 1
    assert took < 2 * TIMEOUT, took
    reopened = AlertPipeline(config(server.url), tmp_path)
    counts = reopened.counts()
    reopened.close()
    assert counts.pending + counts.retrying == 1 and counts.sent == 0, counts


class StuckSink:
    """A sink whose delivery ignores every timeout (a library call that never returns):
    no real library here can be made to do that on demand, so this one is written for it."""

    name = "hook"
    min_interval = 0.0

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.closed = False

    def render(self, alert: Any) -> list[Any]:
        return [alert.text]

    def deliver(self, part: Any) -> None:
        self.entered.set()
        self.release.wait(15)

    def close(self) -> None:
        self.closed = True


def test_a_sink_stuck_past_its_timeout_is_left_behind(tmp_path: Path, caplog) -> None:  # noqa: ANN001
    sink = StuckSink()
    pipe = AlertPipeline(config("http://127.0.0.1:9/unused"), tmp_path, sinks={"hook": sink})
    pipe.start()
    pipe.submit(opened(anomaly("reverse_shell", time.time())))
    assert sink.entered.wait(20)
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="vigil.alerts.pipeline"):
        pipe.stop()
    took = time.monotonic() - t0
    sink.release.set()
    assert TIMEOUT - 0.5 < took < 2 * TIMEOUT, took
    assert "still busy at shutdown" in caplog.text and not sink.closed
    reopened = AlertPipeline(config("http://127.0.0.1:9/unused"), tmp_path,
                             sinks={"hook": StuckSink()})
    counts = reopened.counts()
    reopened.close()
    assert counts.pending == 1 and counts.sent == 0
