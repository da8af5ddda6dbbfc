"""The runner end to end, with a stand-in for the agent (the real agent's live run is
`make emulate`, minutes long): real scenario processes in their own sessions, the real
proc connector for process trees, real time windows, a scripted agent that prints
incident events for what the scenarios ask it to report."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from emulation_path import EMULATION

from emulate.runner import Runner, RunnerOptions
from emulate.scenario import discover

FAKE_AGENT = r'''
import json, os, pathlib, signal, sys, time
marks = pathlib.Path(sys.argv[1])
print("vigil: watching with fake-sensor; 0 Falco rules", file=sys.stderr, flush=True)
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
seen, n, drops, last_stats = set(), 0, 0, 0.0
while not stop:
    if time.monotonic() - last_stats > 0.1:
        print(f"stats: events=1 queue_drops=0 ebpf_kernel_drops={drops}", file=sys.stderr,
              flush=True)
        last_stats = time.monotonic()
    for f in sorted(marks.glob("*.mark")):
        if f.name in seen or not f.read_text().endswith("\n"):
            continue
        seen.add(f.name)
        pid, title = f.read_text().strip().split(" ", 1)
        if title == "DROP":  # the ring buffer overflows now
            drops += 500
            continue
        pid = os.getpid() if pid == "SELF" else int(pid)
        n += 1
        ts = time.time_ns()
        det = {"kind": "detector", "name": title.lower().replace(" ", "_"), "rule_id": None,
               "priority": "Critical", "count": 1, "first_ts": ts, "last_ts": ts, "pid": pid,
               "process": "sh", "target": None, "output": title, "tags": []}
        inc = {"id": f"{n:x}", "host": "h", "status": "open", "priority": "Critical",
               "title": title, "first_ts": ts, "last_ts": ts, "first_time": "", "last_time": "",
               "detection_count": 1, "detections": [det],
               "entities": {"root": None, "processes": [{"pid": pid, "start_ts": 0, "ppid": 0,
                                                         "name": "sh", "cmdline": "sh"}],
                            "users": [], "sessions": [], "remote_ips": [], "files": []},
               "tactics": [], "techniques": []}
        print(json.dumps({"event": "opened", "incident": inc}), flush=True)
    time.sleep(0.05)
print("stats: events=42 detections=%d ebpf_kernel_drops=%d" % (n, drops), file=sys.stderr,
      flush=True)
'''

HEADER = """#!/bin/bash
# vigil-emulation: {kind}
# technique: T1059.004 Command and Scripting Interpreter: Unix Shell
# tactic: execution
# what: test scenario
# report: test
# expect: {expect}
# timeout: {timeout}
{body}
"""


def make(root: Path, kind: str, name: str, body: str, expect: str = "none",
         timeout: int = 20) -> None:
    d = root / ("attacks" if kind == "attack" else "benign")
    d.mkdir(parents=True, exist_ok=True)
    p = d / f"{name}.sh"
    p.write_text(HEADER.format(kind=kind, expect=expect, timeout=timeout, body=body))
    p.chmod(0o755)


@pytest.mark.skipif(os.geteuid() != 0, reason="the proc connector (process trees) needs root")
def test_runner_attributes_judges_and_cleans_up(tmp_path: Path) -> None:
    root, marks = tmp_path / "emulation", tmp_path / "marks"
    marks.mkdir()
    root.mkdir()
    (root / "lib").symlink_to(EMULATION / "lib")
    target = tmp_path / "etc-like" / "app.conf"
    target.parent.mkdir()
    target.write_text("original\n")
    agent = tmp_path / "fake_vigil.py"
    agent.write_text(FAKE_AGENT)
    # the report comes from a grandchild of the scenario, so the process tree matters
    make(root, "attack", "a-detected",
         f'sh -c \'echo "$$ Reverse shell by bash" > {marks}/1.mark; sleep 0.3\'',
         expect="reverse shell")
    make(root, "attack", "a-missed", "true", expect="port scan")
    make(root, "attack", "a-broken", "exit 3", expect="anything")
    make(root, "attack", "a-slow", "sleep 30", expect="anything", timeout=1)
    make(root, "attack", "a-leaves-a-process",
         f'setsid sleep 30 & echo "$$ Port scan" > {marks}/2.mark',
         expect="scan")
    # someone else on the host raises an incident while this benign scenario runs
    make(root, "benign", "b-quiet", f'echo "SELF Set-uid bit" > {marks}/3.mark; sleep 0.5')
    # changes a file through the real library: the runner backs it up and restores it
    make(root, "benign", "b-edits",
         f'. "$EMUL_LIB/common.sh"\nemul_backup {target}\nemul_backup {tmp_path}/fresh/x\n'
         f'echo changed > {target}\nmkdir -p {tmp_path}/fresh && touch {tmp_path}/fresh/x')
    make(root, "benign", "b-noisy", f'echo "$$ Webshell" > {marks}/4.mark; sleep 0.2')
    make(root, "benign", "b-lossy", f'echo "$$ DROP" > {marks}/5.mark; sleep 0.5')
    scenarios = discover(root)
    opts = RunnerOptions(root=root, run_dir=tmp_path / "run",
                         vigil=[sys.executable, str(agent), str(marks)], grace=0.3,
                         quiet=0.3, lead=0.3, join_gap=0.5, check_clean=False,
                         log=lambda s: None)
    card = Runner(opts).run(scenarios, partial=False)
    status = {r.scenario.name: r.verdict for r in card.records}
    assert status["a-detected"].status == "detected"
    assert status["a-detected"].incidents[0].how == "pid"
    assert status["a-missed"].status == "missed"
    assert status["a-broken"].status == "error" and status["a-broken"].note == "exit code 3"
    assert status["a-slow"].status == "timeout"
    assert status["a-leaves-a-process"].status == "detected"
    run = {r.scenario.name: r.run for r in card.records}
    assert any("still running (killed)" in d for d in run["a-leaves-a-process"].dirty)
    assert status["b-quiet"].status == "passed"
    assert status["b-noisy"].status == "failed"
    assert status["b-edits"].status == "passed" and run["b-edits"].exit_code == 0
    assert target.read_text() == "original\n" and not (tmp_path / "fresh").exists()
    assert [u["title"] for u in card.unattributed] == ["Set-uid bit"]
    assert "not the scenario's" in card.unattributed[0]["reason"]
    assert card.agent["final_stats"] == "events=42 detections=4 ebpf_kernel_drops=500"
    assert run["b-lossy"].agent_lost == 500 and "lost 500 events" in status["b-lossy"].note
    assert run["b-quiet"].agent_lost == 0 and card.totals.lossy == 1
    assert "process trees" in card.agent["attribution"]
    t = card.totals
    assert (t.attacks, t.attacks_ran, t.detected, t.errors, t.timeouts) == (5, 3, 2, 1, 1)
    assert not t.accepted
    raw = (tmp_path / "run" / "agent-stdout.jsonl").read_text().splitlines()
    assert len(raw) == 4 and all(json.loads(x)["event"] == "opened" for x in raw)
    assert (tmp_path / "run" / "logs" / "a-broken.log").exists()
