"""Faults at the alert sinks, with a real `vigil run` and real local HTTP servers
(issue 14 items 7 and 13): a sink that hangs when the agent is told to stop, and what the
agent's output says about a sink while it delivers."""

from __future__ import annotations

import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from agent_process import AgentProcess, agent_config, crashed, ssh_failure

from vigil.alerts.outbox import OUTBOX_FILE, Outbox

HANG_RUNS = 3
TIMEOUT_SECS = 4.0


class HangingServer:
    """Accepts connections and reads requests, and never answers until released."""

    def __init__(self) -> None:
        self.requests: list[float] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                server.requests.append(time.monotonic())
                server.release.wait(120)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _wait(cond, timeout: float = 30.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_sigterm_with_a_hanging_sink_is_bounded(tmp_path: Path, fault_report) -> None:  # noqa: ANN001
    """The delivery in flight gets `timeout_secs` to finish; the hanging sink is not tried
    again during shutdown, and the alert stays pending in the outbox for the next start."""
    crashes = lost = 0
    for run in range(HANG_RUNS):
        d = tmp_path / f"run{run}"
        d.mkdir()
        server = HangingServer()
        try:
            cfg = agent_config(d, extra=f"""
[alerts.sinks.hook]
type = "webhook"
url = "http://127.0.0.1:{server.port}/hook"
timeout_secs = {TIMEOUT_SECS}
[[alerts.routes]]
sink = "hook"
""")
            with AgentProcess(cfg).start() as agent:
                with open(d / "auth.log", "a") as fh:
                    fh.write(ssh_failure(run))
                assert _wait(lambda: len(server.requests) == 1), agent.stderr
                t0 = time.monotonic()
                rc = agent.stop(signal.SIGTERM, timeout=10 * TIMEOUT_SECS)
                took = time.monotonic() - t0
            crashes += crashed(agent.stderr) + (rc != 0)
            assert rc == 0, agent.stderr
            # one request in all: the one in flight was not followed by another at shutdown
            assert len(server.requests) == 1, agent.stderr
            assert took < 2 * TIMEOUT_SECS, (took, agent.stderr)
            outbox = Outbox(d / "state" / OUTBOX_FILE)
            counts = outbox.counts()
            outbox.close()
            lost += 1 - (counts.pending + counts.retrying)
            assert counts.pending + counts.retrying == 1 and counts.sent == 0, counts
        finally:
            server.close()
    fault_report.record("sink hangs at SIGTERM (shutdown within timeout_secs)",
                        runs=HANG_RUNS, crashes=crashes, lost=lost, duplicates=0)


class OkServer:
    """Answers every POST with 200 and counts them."""

    def __init__(self) -> None:
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_agent_output_has_no_http_chatter_and_no_secret(tmp_path: Path) -> None:
    """httpx's INFO line per request ("HTTP Request: POST <url>") is not printed by
    `vigil run`, and no spelling of the webhook's secret reaches its output."""
    server = OkServer()
    try:
        cfg = agent_config(tmp_path, extra=f"""
[alerts.sinks.hook]
type = "webhook"
url = "http://LocalHost:{server.port}/hook/s3cret tok3n-ü?key=qu3ry-secret"
[[alerts.routes]]
sink = "hook"
""")
        with AgentProcess(cfg).start() as agent:
            with open(tmp_path / "auth.log", "a") as fh:
                fh.write(ssh_failure(1))
            assert _wait(lambda: server.requests == 1), agent.stderr
            assert agent.stop() == 0
    finally:
        server.close()
    out = agent.stderr + agent.stdout
    assert "HTTP Request" not in out and "httpx" not in out, out
    for secret in ("s3cret", "tok3n", "qu3ry-secret"):
        assert secret not in out.lower(), out
