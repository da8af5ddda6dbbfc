"""Real local HTTP servers (127.0.0.1, http.server in a thread) for the alert sink tests:
a Telegram Bot API server (`/bot<token>/sendMessage`) and a Slack-like webhook.

Each server answers from a script of responses (status, JSON body, headers) and falls back
to success; it records only the requests it answered with a 2xx, i.e. what the remote
side really accepted.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

TOKEN = "123456:ABC-secret-token-do-not-log"
CHAT_ID = "-1001234"


@dataclass
class Scripted:
    """A canned response."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    #: hold the request until this event is set (simulates a request in flight)
    gate: threading.Event | None = None


class RecordingServer:
    """A threaded HTTP server that records accepted JSON POSTs."""

    def __init__(self, ok: Callable[[str, dict[str, Any]], tuple[int, dict[str, Any]]],
                 port: int = 0) -> None:
        self.accepted: list[tuple[str, dict[str, Any]]] = []
        self.attempts: list[tuple[str, float]] = []
        self.script: deque[Scripted] = deque()
        self._ok = ok
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.attempts.append((self.path, time.monotonic()))
                    scripted = server.script.popleft() if server.script else None
                if scripted is not None and scripted.gate is not None:
                    scripted.gate.wait(20)
                if scripted is None:
                    status, reply = server._ok(self.path, body)
                    headers: dict[str, str] = {}
                else:
                    status, reply, headers = scripted.status, scripted.body, scripted.headers
                if 200 <= status < 300:
                    with server._lock:
                        server.accepted.append((self.path, body))
                data = json.dumps(reply).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client went away (killed mid-request)

        return Handler

    def wait_for(self, n: int, timeout: float = 10.0) -> None:
        """Wait (briefly, polling) until `n` requests were accepted."""
        deadline = time.monotonic() + timeout
        while len(self.accepted) < n and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def telegram_ok(path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Telegram's success reply for sendMessage, 404 for anything else (as the real API)."""
    if path != f"/bot{TOKEN}/sendMessage":
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
    return 200, {"ok": True, "result": {"message_id": 1, "chat": {"id": int(CHAT_ID)},
                                        "text": body.get("text")}}


def slack_ok(path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A Slack incoming webhook answers 200 "ok"."""
    return 200, {}


def telegram_texts(server: RecordingServer) -> list[str]:
    """The texts Telegram accepted, in order."""
    return [body["text"] for _, body in server.accepted]


def telegram_429(retry_after: int) -> Scripted:
    """Telegram's flood-control answer."""
    return Scripted(429, {"ok": False, "error_code": 429,
                          "description": f"Too Many Requests: retry after {retry_after}",
                          "parameters": {"retry_after": retry_after}})


@pytest.fixture
def telegram_server() -> Iterator[RecordingServer]:
    srv = RecordingServer(telegram_ok)
    yield srv
    srv.close()


@pytest.fixture
def slack_server() -> Iterator[RecordingServer]:
    srv = RecordingServer(slack_ok)
    yield srv
    srv.close()


def telegram_sink_table(server_url: str, **extra: Any) -> dict[str, Any]:
    """An `[alerts.sinks.<name>]` table for the local Telegram server."""
    return {"type": "telegram", "token": TOKEN, "chat_id": CHAT_ID, "api_url": server_url,
            **extra}
