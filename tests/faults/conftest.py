"""The fault-injection suite: Vigil in a hostile environment.

Every test here injects one kind of fault (two agents on one state_dir, hostile
recordings, a sink that hangs at shutdown, hostile log lines, ...), runs the real thing
(a `vigil` process, real files, local servers), and reports its figures through the
`fault_report` fixture:

    fault_report.record("two agents on one state_dir", runs=20, crashes=0, lost=0)

`runs` is how many times the fault was injected, `crashes` how many runs ended in a
traceback or an unexpected exit, `lost` how many events, lines, records or alerts went
missing, `duplicates` how many alerts were sent twice (for the alert-path faults). A test
asserts its own zeros; the figures are printed at the end of the run (the "fault suite"
section) and copied into docs/reliability.md.

To add a fault: a `test_faults_<what>.py` module here, using `fault_report` and, for a
live agent, `agent_process.AgentProcess`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest


@dataclass
class FaultFigures:
    """What one fault test measured."""

    name: str
    runs: int
    crashes: int
    lost: int
    duplicates: int | None = None
    note: str = ""


@dataclass
class FaultReport:
    """The figures of every fault test of the run."""

    figures: list[FaultFigures] = field(default_factory=list)

    def record(self, name: str, *, runs: int, crashes: int, lost: int,
               duplicates: int | None = None, note: str = "") -> None:
        """Add one test's figures."""
        self.figures.append(FaultFigures(name, runs, crashes, lost, duplicates, note))


_REPORT = FaultReport()


@pytest.fixture
def fault_report() -> FaultReport:
    """Where a fault test records its figures (printed at the end of the run)."""
    return _REPORT


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001
    if not _REPORT.figures:
        return
    tr = terminalreporter
    tr.section("fault suite")
    tr.write_line(f"{'fault':<58} {'runs':>5} {'crashes':>8} {'lost':>5} {'dups':>5}")
    for f in _REPORT.figures:
        dups = "-" if f.duplicates is None else str(f.duplicates)
        tr.write_line(f"{f.name[:58]:<58} {f.runs:>5} {f.crashes:>8} {f.lost:>5} {dups:>5}"
                      + (f"  {f.note}" if f.note else ""))
