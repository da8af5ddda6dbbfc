"""kill -9 anywhere on the incident path loses no alert (issue 14, item 2).

A child runs the real pipeline (audit trail, correlation, alert pipeline on its own
threads, SQLite outbox, a file sink) and opens a new incident every few milliseconds; it
is killed with SIGKILL after a random delay — before, during or after any step between
the audit trail and the sink. A restarted pipeline on the same state then hands over
what the trail has and the outbox never received. Over all runs: every incident in the
audit trail has its message (0 lost), and no incident has more than two (a crash between
the sink's "OK" and the outbox's commit re-sends that one message: at-least-once).

`VIGIL_FAULT_RUNS` sets the number of runs (default 30 in the suite; docs/reliability.md
has the figures of a 100-run session).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from vigil.agent import build_pipeline
from vigil.audit.query import RecordFilter, iter_records
from vigil.audit.verify import verify_trail
from vigil.config import load_config

HERE = Path(__file__).resolve().parent
RUNS = int(os.environ.get("VIGIL_FAULT_RUNS", "30"))


def test_kill_9_on_the_incident_path_loses_no_alert(tmp_path: Path) -> None:
    sink = tmp_path / "alerts.jsonl"
    cfg = tmp_path / "vigil.toml"
    cfg.write_text(f'state_dir = "{tmp_path / "state"}"\n[rules]\nfalco = []\n'
                   "[alerts]\n[alerts.sinks.f]\ntype = \"file\"\n"
                   f'path = "{sink}"\n[[alerts.routes]]\nsink = "f"\ngroup_wait_secs = 0\n')
    rng = random.Random(int(os.environ.get("VIGIL_FAULT_SEED", "10")))
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    killed_after = []
    for run in range(RUNS):
        child = subprocess.Popen([sys.executable, str(HERE / "handoff_child.py"), str(cfg)],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                                 text=True)
        # wait for the first incident, then kill at a random point 0-150 ms later
        first = child.stdout.readline()
        assert first.strip().isdigit(), f"run {run}: child did not start"
        delay = rng.uniform(0, 0.15)
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        killed_after.append(delay)
        # the restarted agent: builds the pipeline (hand-over from the trail) and stops
        built = build_pipeline(config=load_config(cfg), detectors=False, alerts=True)
        built.close()
    trail = tmp_path / "state" / "audit"
    assert verify_trail(trail).ok
    opened = {r.incident_id for r in iter_records(trail, RecordFilter(
        types=frozenset({"incident"}))) if r.event == "opened"}
    sent = Counter(json.loads(x)["incident"]["id"] for x in sink.read_text().splitlines()
                   if json.loads(x)["kind"] == "incident")
    lost = opened - set(sent)
    duplicates = {i: n for i, n in sent.items() if n > 1}
    print(f"{RUNS} kills, {len(opened)} incidents in the trail, {sum(sent.values())} "
          f"messages, lost {len(lost)}, incidents sent twice {len(duplicates)}")
    assert not lost, f"{len(lost)} of {len(opened)} incidents never alerted"
    assert set(sent) <= opened  # nothing alerted that the trail does not have
    assert all(n <= 2 for n in sent.values()), duplicates
