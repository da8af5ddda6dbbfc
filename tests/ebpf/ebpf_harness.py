"""Shared pieces of the eBPF tests: when BPF can run here, and a live sensor to drive.

The tests load the real program into the running kernel and make real child processes
act (the sensor excludes its own process in the kernel, so actions run in children).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from needs import requires_bpf  # noqa: F401 (re-exported: the skip fails under VIGIL_REQUIRE)

from vigil.events.model import Event
from vigil.sensors.ebpf.sensor import EbpfSensor


class LiveCapture:
    """A started sensor plus helpers to run an action and collect what it caused."""

    def __init__(self, sensor: EbpfSensor) -> None:
        self.sensor = sensor
        #: pid of the last command started by `run`
        self.pid = 0

    def drain(self) -> None:
        """Forget what happened before the next action."""
        while self.sensor.read(0.0):
            pass

    def collect(self, until: Callable[[Event], bool], timeout: float = 5.0) -> list[Event]:
        """Read until an event satisfies `until` (then once more), or fail after `timeout` s."""
        out: list[Event] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.sensor.read(0.05)
            out.extend(got)
            if any(until(e) for e in got):
                out.extend(self.sensor.read(0.05))
                return out
        raise AssertionError(f"no matching event within {timeout}s among {len(out)} events: "
                             f"{sorted({e.type for e in out})}")

    def run(self, argv: list[str], until: Callable[[Event], bool], cwd: str | Path | None = None,
            timeout: float = 5.0, check: bool = True,
            env: dict[str, str] | None = None) -> list[Event]:
        """Run a command to completion and collect its events."""
        self.drain()
        with subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL) as child:
            self.pid = child.pid
            rc = child.wait(timeout)
        if check and rc != 0:
            raise AssertionError(f"{argv[:2]} exited with {rc}")
        return self.collect(until, timeout)

    def python(self, code: str, until: Callable[[Event], bool], **kw) -> list[Event]:
        """Run a Python snippet in a child interpreter and collect its events."""
        return self.run([sys.executable, "-c", code], until, **kw)


@pytest.fixture(scope="module")
def live() -> Iterator[LiveCapture]:
    """A sensor attached to the kernel for the tests of one module, capturing every type."""
    sensor = EbpfSensor()
    sensor.start()
    try:
        yield LiveCapture(sensor)
    finally:
        sensor.stop()


def only(events: list[Event], pred: Callable[[Event], bool]) -> Event:
    """The first event satisfying `pred` (the test fails when there is none)."""
    for e in events:
        if pred(e):
            return e
    raise AssertionError(f"no such event among {len(events)}")
