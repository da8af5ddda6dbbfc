"""The running agent's control socket: `vigil status` and `vigil reload` ask it.

A Unix stream socket at `<state_dir>/control.sock`, created 0600 (the state directory is
root's), so only root can ask. One request per connection: a JSON line `{"cmd":
"status"}` or `{"cmd": "reload"}`, answered by one JSON line. The server runs on its own
thread and reads the agent's counters without stopping it (the counters are plain
integers; a status is a snapshot, not a transaction).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

SOCKET_NAME = "control.sock"
#: the longest request accepted (a status request is a few bytes)
_MAX_REQUEST = 4096


class RateMeter:
    """Events per second over the last minute, from samples of a growing counter (the
    engine thread samples once a second)."""

    def __init__(self, window: float = 60.0) -> None:
        self._samples: deque[tuple[float, int]] = deque()
        self._window = window

    def sample(self, total: int, now: float | None = None) -> None:
        """Record the counter's value now."""
        now = time.monotonic() if now is None else now
        self._samples.append((now, total))
        while self._samples and now - self._samples[0][0] > self._window:
            self._samples.popleft()

    def rate(self, seconds: float = 10.0) -> float:
        """The counter's growth per second over about the last `seconds`."""
        if len(self._samples) < 2:
            return 0.0
        t1, v1 = self._samples[-1]
        t0, v0 = self._samples[0]
        for t, v in self._samples:
            if t1 - t <= seconds:
                t0, v0 = t, v
                break
        return (v1 - v0) / (t1 - t0) if t1 > t0 else 0.0


class ControlServer:
    """Serves `status` and `reload` on a Unix socket until `stop()`."""

    def __init__(self, path: Path, status: Callable[[], dict[str, Any]],
                 reload: Callable[[], dict[str, Any]]) -> None:
        self.path = Path(path)
        self._status = status
        self._reload = reload
        self._server: socketserver.UnixStreamServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "ControlServer":
        """Bind (replacing a socket file left by a dead agent) and serve on a thread."""
        if self.path.exists() or self.path.is_symlink():
            self.path.unlink()
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = 5

            def handle(self) -> None:
                try:
                    raw = self.rfile.readline(_MAX_REQUEST)
                    req = json.loads(raw or b"{}")
                    cmd = req.get("cmd") if isinstance(req, dict) else None
                    if cmd == "status":
                        answer = {"ok": True, "status": outer._status()}
                    elif cmd == "reload":
                        answer = {"ok": True, "reload": outer._reload()}
                    else:
                        answer = {"ok": False, "error": f"unknown command {cmd!r} "
                                                        "(status, reload)"}
                except (ValueError, OSError) as exc:
                    answer = {"ok": False, "error": f"bad request: {exc}"}
                except Exception as exc:  # a bug in a command must not end the server
                    log.exception("control command failed")
                    answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                try:
                    self.wfile.write(json.dumps(answer, default=str).encode() + b"\n")
                except OSError:
                    pass

        old = os.umask(0o177)  # the socket is 0600 from its first instant
        try:
            self._server = socketserver.ThreadingUnixStreamServer(str(self.path), Handler)
        finally:
            os.umask(old)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="vigil-control", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the socket file."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


class ControlError(Exception):
    """The agent could not be asked (not running, no permission, bad answer)."""


def ask(path: Path, cmd: str, timeout: float = 10.0) -> dict[str, Any]:
    """Send one command to the agent at `path`; its answer. Raises `ControlError`."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(path))
            s.sendall(json.dumps({"cmd": cmd}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except FileNotFoundError:
        raise ControlError(f"no agent is running with state in {path.parent} "
                           f"({path} does not exist)") from None
    except PermissionError:
        raise ControlError(f"{path}: permission denied (the control socket is root's)") \
            from None
    except ConnectionRefusedError:
        raise ControlError(f"{path}: nobody listens (an agent that died?)") from None
    except OSError as exc:
        raise ControlError(f"{path}: {exc.strerror or exc}") from None
    try:
        answer = json.loads(data)
    except ValueError:
        raise ControlError(f"{path}: the agent's answer is not JSON") from None
    if not answer.get("ok"):
        raise ControlError(str(answer.get("error", "the agent refused")))
    return answer
