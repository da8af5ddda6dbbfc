"""Live eBPF: log clearing is the emptying of an existing, non-empty log, on the real kernel.

Attacks (`: > log`, `truncate -s 0`, `ftruncate`) against look-alikes (a service creating
fresh logs with O_TRUNC, an empty log opened with O_TRUNC, logrotate's copytruncate), judged
by Vigil's default rule "Log file truncated" and by the service_tamper detector (with the
scratch directory as one of its protected logs). Everything happens in a scratch directory
under /var/log (the rule watches /var/log), removed at the end. Needs root and BPF.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ebpf"))
from ebpf_harness import live, requires_bpf  # noqa: E402,F401  (fixture)
from detector_factories import run as feed  # noqa: E402

from vigil.detectors.service_tamper import ServiceTamperDetector, ServiceTamperParams  # noqa: E402
from vigil.events.model import Event  # noqa: E402
from vigil.rules.falco.engine import FalcoEngine  # noqa: E402
from vigil.rules.falco.loader import load_rules  # noqa: E402

pytestmark = requires_bpf

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "src" / "vigil" / "defaults" / \
    "vigil_rules.yaml"
RULE = "Log file truncated"
_TRUNCATIONS = ("open", "openat", "openat2", "truncate", "ftruncate")


@pytest.fixture(scope="module")
def engine() -> FalcoEngine:
    return FalcoEngine(load_rules([DEFAULT_RULES]), rule_matching="all")


@pytest.fixture
def logdir() -> Iterator[Path]:
    d = Path("/var/log") / f"vigil-test-{uuid.uuid4().hex[:10]}"
    d.mkdir(parents=True)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _touching(events: list[Event], d: Path) -> list[Event]:
    """The events of the action that truncate or open files of the scratch directory."""
    def path(e: Event) -> str:
        return (e.fd.name if e.fd is not None and e.fd.name else "") or \
            str(e.args.get("path") or "")
    return [e for e in events if e.type in _TRUNCATIONS and path(e).startswith(f"{d}/")]


def _fired(engine: FalcoEngine, events: list[Event]) -> list[str]:
    return [str(e.args.get("path") or (e.fd.name if e.fd else "")) for e in events
            if RULE in [d.name for d in engine.match(e)]]


def _fill(path: Path, lines: int = 200) -> None:
    path.write_text("".join(f"Dec  7 20:00:{i % 60:02d} host sshd[1]: line {i}\n"
                            for i in range(lines)))


def _sizes_reported(live) -> bool:
    return bool(live.sensor.truncation_sources)


def test_live_existing_logs_emptied_by_shell_tools_fire(live, engine, logdir):
    # `: > log` (open with O_TRUNC), coreutils' truncate (open, then ftruncate),
    # truncate(2) by path
    a, b, c = logdir / "auth.log", logdir / "app.log", logdir / "err.log"
    for f in (a, b, c):
        _fill(f)
    code = (f"import os, subprocess\n"
            f"subprocess.run(['sh', '-c', ': > {a}'], check=True)\n"
            f"subprocess.run(['truncate', '-s', '0', '{b}'], check=True)\n"
            f"os.truncate('{c}', 0)\n")
    events = _touching(live.python(code, until=lambda e: e.type == "truncate"
                                   and e.proc.pid == live.pid), logdir)
    assert sorted(_fired(engine, events)) == sorted([str(a), str(b), str(c)])
    if _sizes_reported(live):
        size = sum(len(f"Dec  7 20:00:{i % 60:02d} host sshd[1]: line {i}\n") for i in range(200))
        assert {e.args.get("size_before") for e in events
                if RULE in [d.name for d in engine.match(e)]} == {size}


def test_live_new_logs_created_with_o_trunc_and_empty_logs_clear_nothing(live, engine, logdir):
    if not _sizes_reported(live):
        pytest.skip("this kernel refused both the fentry on do_truncate and the ext4 "
                    "tracepoint: an empty log truncated cannot be told from a full one here")
    empty = logdir / "empty.log"
    empty.write_text("")
    # a service starting up: fresh logs opened with open(..., "w"), then the empty one
    code = (f"for name in ('startup.log', 'audit-trail.log', 'empty.log'):\n"
            f"    with open('{logdir}/' + name, 'w') as fh:\n"
            f"        fh.write('service starting\\n')\n")
    events = _touching(live.python(code, until=lambda e: e.type == "openat"
                                   and e.fd is not None and e.fd.name == str(empty)), logdir)
    assert len([e for e in events if e.type == "openat"]) == 3
    assert _fired(engine, events) == []


def test_live_logrotate_copytruncate_is_rotation(live, engine, logdir, tmp_path):
    logrotate = shutil.which("logrotate")
    if logrotate is None:
        pytest.skip("logrotate is not installed here (apt-get install logrotate)")
    log = logdir / "worker.log"
    _fill(log, 800)
    conf = tmp_path / "w.conf"
    conf.write_text(f"{log} {{\n    rotate 2\n    compress\n    copytruncate\n}}\n")
    live.drain()
    events = live.run([logrotate, "-f", "-s", str(tmp_path / "state"), str(conf)],
                      until=lambda e: e.type == "ftruncate" and e.fd is not None
                      and e.fd.name == str(log))
    mine = _touching(events, logdir)
    assert any(e.type == "ftruncate" for e in mine)   # the log really was emptied in place
    assert log.stat().st_size == 0 and (logdir / "worker.log.1.gz").exists()
    assert _fired(engine, mine) == []
    # as a protected log, the same rotation is suppressed by the detector, not alerted
    det = ServiceTamperDetector(ServiceTamperParams(extra_log_paths=(f"{logdir}/",)))
    dets = feed(det, mine)
    assert dets and all(d.suppressed is not None for d in dets)
    assert {d.suppressed.entry for d in dets} == {"service_tamper.log_keepers=logrotate"}


def test_live_protected_log_emptied_is_cleared_and_a_new_one_is_not(live, logdir):
    det = ServiceTamperDetector(ServiceTamperParams(extra_log_paths=(f"{logdir}/",)))
    wiped = logdir / "wtmp"
    _fill(wiped)
    code = (f"import subprocess\n"
            f"with open('{logdir}/fresh.log', 'w') as fh:\n    fh.write('x')\n"
            f"subprocess.run(['truncate', '-s', '0', '{wiped}'], check=True)\n")
    events = _touching(live.python(code, until=lambda e: e.type == "ftruncate"
                                   and e.fd is not None and e.fd.name == str(wiped)), logdir)
    dets = feed(det, events)
    assert [(d.rule_id, d.entity.path, d.suppressed) for d in dets] == [
        ("service_tamper.log_clear", str(wiped), None)]
    assert os.path.getsize(wiped) == 0
