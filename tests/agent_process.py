"""A real `vigil run` in a child process, for fault tests.

`agent_config()` writes a vigil.toml for an agent without the kernel sensor (it follows a
log file the test writes), so many agents can run side by side on any machine;
`AgentProcess` starts one, waits for it to watch, and stops it with a signal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

#: what `vigil run` prints (stderr) once its sensors are started
WATCHING = "vigil: watching with"


def agent_config(d: Path, *, extra: str = "", name: str = "vigil.toml",
                 state: Path | None = None) -> Path:
    """A vigil.toml under `d`: state in `d/state` (or `state`), no kernel sensor, the auth
    log `d/auth.log` (created), the built-in rules and detectors."""
    log = d / "auth.log"
    log.touch()
    state = state if state is not None else d / "state"
    cfg = d / name
    cfg.write_text(f'state_dir = "{state}"\n'
                   "[sensors]\nebpf = false\n"
                   f'[sensors.authlog]\npaths = ["{log}"]\n' + extra)
    return cfg


def ssh_failure(n: int, ip: str = "203.0.113.9", when: float | None = None) -> str:
    """One sshd `Failed password` syslog line (an attempt for `ssh_bruteforce`)."""
    t = datetime.fromtimestamp(time.time() if when is None else when, timezone.utc)
    return (f"{t:%b %d %H:%M:%S} web sshd[{4000 + n}]: Failed password for root from {ip} "
            f"port {30000 + n} ssh2\n")


class AgentProcess:
    """`vigil run --config CONFIG` as a child process; stderr is collected as it comes."""

    def __init__(self, config: Path, *args: str, env: dict[str, str] | None = None,
                 umask: int | None = None) -> None:
        self.config = config
        self.args = list(args)
        self.env = env
        self.umask = umask
        self.proc: subprocess.Popen[str] | None = None
        self._err: list[str] = []
        self._out: list[str] = []
        self._readers: list[threading.Thread] = []

    @property
    def stderr(self) -> str:
        """What the agent wrote on stderr so far."""
        return "".join(self._err)

    @property
    def stdout(self) -> str:
        """What the agent wrote on stdout so far."""
        return "".join(self._out)

    def start(self, *, wait: bool = True, timeout: float = 60.0) -> "AgentProcess":
        """Start the agent; with `wait`, return once it watches (or has exited)."""
        umask = self.umask

        def child_setup() -> None:
            if umask is not None:
                os.umask(umask)

        env = dict(os.environ, **(self.env or {}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vigil", "run", "--config", str(self.config),
             "--stats-interval", "3600", *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            preexec_fn=child_setup)
        for stream, sink in ((self.proc.stderr, self._err), (self.proc.stdout, self._out)):
            t = threading.Thread(target=_pump, args=(stream, sink), daemon=True)
            t.start()
            self._readers.append(t)
        if wait:
            self.wait_for(WATCHING, timeout)
        return self

    def wait_for(self, text: str, timeout: float = 60.0) -> bool:
        """True once `text` is on stderr; False when the agent exited or time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stderr:
                return True
            if self.proc is not None and self.proc.poll() is not None:
                self._join_readers()
                return text in self.stderr
            time.sleep(0.02)
        return False

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Send `sig` (if still running) and wait; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(10)
        self._join_readers()
        return rc

    def wait(self, timeout: float = 60.0) -> int:
        """Wait for the process to exit by itself; returns the exit code."""
        assert self.proc is not None
        rc = self.proc.wait(timeout)
        self._join_readers()
        return rc

    def _join_readers(self) -> None:
        for t in self._readers:
            t.join(5)

    def __enter__(self) -> "AgentProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.alive():
            self.stop(signal.SIGKILL)


def _pump(stream, sink: list[str]) -> None:  # noqa: ANN001
    for line in iter(stream.readline, ""):
        sink.append(line)
    stream.close()


def crashed(stderr: str) -> bool:
    """True when a process' stderr shows an uncaught exception."""
    return "Traceback (most recent call last)" in stderr


def inotify_watches(pid: int | str = "self") -> set[tuple[int, int]]:
    """(device, inode) of everything the process' inotify descriptors watch."""
    out: set[tuple[int, int]] = set()
    base = Path(f"/proc/{pid}/fdinfo")
    for info in base.iterdir():
        try:
            text = info.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("inotify wd:"):
                fields = dict(f.split(":", 1) for f in line.split()[1:])
                sdev = int(fields["sdev"], 16)
                dev = os.makedev(sdev >> 20, sdev & 0xFFFFF)
                out.add((dev, int(fields["ino"], 16)))
    return out


def busy_directory(d: Path, stop: threading.Event, counter: list[int]) -> None:
    """Create, write and remove files in `d` and in `d/spool` until `stop`; appends how
    many rounds it made to `counter`."""
    sub = d / "spool"
    sub.mkdir(exist_ok=True)
    i = 0
    while not stop.is_set():
        for where in (d, sub):
            f = where / f"f{i % 500}.tmp"
            f.write_bytes(b"x" * 64)
            f.unlink()
        i += 1
    counter.append(i)
