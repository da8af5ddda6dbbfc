"""The agent under test: `vigil run --json` with the default configuration.

The agent gets an empty `vigil.toml` (the built-in defaults, so an `/etc/vigil/vigil.toml`
on the machine does not change the measurement) and a fresh state directory. Its stdout
(one JSON line per incident event) and stderr (start-up messages, stats) are read by
threads; every stdout line is kept with the wall-clock time it arrived, so the runner can
wait for the agent to fall quiet after each scenario.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

WATCHING_MARK = "vigil: watching with"
#: counters of the stats line that mean events were lost before detection
_LOSS = re.compile(r"\b(queue_drops|\w+_kernel_drops)=(\d+)")


@dataclass
class AgentOutput:
    """What the agent printed so far."""

    stdout: list[tuple[int, str]] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    #: (arrival ns, events lost so far: kernel drops of every sensor + queue drops), one
    #: per stats line
    losses: list[tuple[int, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def last_stdout_ns(self) -> int:
        """Arrival time of the latest stdout line (0 when none)."""
        with self.lock:
            return self.stdout[-1][0] if self.stdout else 0

    def stdout_lines(self) -> list[str]:
        """Every stdout line so far."""
        with self.lock:
            return [line for _, line in self.stdout]


class AgentUnderTest:
    """Starts, watches and stops one `vigil run` process."""

    def __init__(self, command: list[str], run_dir: Path) -> None:
        self.run_dir = run_dir
        self.config = run_dir / "empty-vigil.toml"
        self.state_dir = run_dir / "agent-state"
        self.command = command + ["run", "--json", "--config", str(self.config),
                                  "--state-dir", str(self.state_dir),
                                  "--stats-interval", "1"]
        self.output = AgentOutput()
        self.proc: subprocess.Popen[str] | None = None
        self._threads: list[threading.Thread] = []
        self._watching = threading.Event()

    def start(self, timeout: float = 120.0) -> str:
        """Start the agent and wait until it says it is watching; returns that line.
        Raises RuntimeError with its stderr when it exits or does not get there."""
        self.config.write_text("# empty: Vigil's built-in defaults\n")
        self.proc = subprocess.Popen(self.command, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1,
                                     stdin=subprocess.DEVNULL)
        self._threads = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self._threads:
            t.start()
        deadline = time.monotonic() + timeout
        while not self._watching.wait(0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the agent did not start watching:\n"
                                   + "\n".join(self.output.stderr[-20:]))
        return next(line for line in self.output.stderr if WATCHING_MARK in line)

    def _read_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.output.lock:
                self.output.stdout.append((time.time_ns(), line.rstrip("\n")))

    def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            line = line.rstrip("\n")
            with self.output.lock:
                self.output.stderr.append(line)
                if "stats:" in line:
                    lost = sum(int(m.group(2)) for m in _LOSS.finditer(line))
                    self.output.losses.append((time.time_ns(), lost))
            if WATCHING_MARK in line:
                self._watching.set()

    @property
    def pid(self) -> int:
        """The agent's pid."""
        return self.proc.pid if self.proc is not None else 0

    def alive(self) -> bool:
        """True while the agent runs."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM (the agent closes its incidents and prints final stats), then wait."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        for t in self._threads:
            t.join(timeout=5)
        return self.proc.returncode

    def lost_between(self, start_ns: int, end_ns: int) -> int | None:
        """Events the agent lost (kernel ring full, queue full) between two instants, from
        its stats lines (one a second); None when no stats line brackets them."""
        with self.output.lock:
            samples = list(self.output.losses)
        before = [v for t, v in samples if t <= start_ns]
        after = [v for t, v in samples if t >= end_ns]
        if not before or not after:
            return None
        return after[0] - before[-1]

    def final_stats(self) -> str:
        """The last stats line the agent printed (its counters at exit)."""
        with self.output.lock:
            for line in reversed(self.output.stderr):
                if "stats:" in line:
                    return line[line.index("stats:") + len("stats:"):].strip()
        return ""
