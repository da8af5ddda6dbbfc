"""Benchmark of the correlation stage (issue 10).

1. Cost per detection with 10,000 open incidents: detections of 10,000 process trees (each
   a shell under a service, a child and a grandchild), spread at random over the trees, so
   every detection looks its story up among 10,000. Target: >= 100,000 detections/s on one
   core.
2. The same through `DetectionPipeline.handle` with an alert consumer (snapshots built for
   every event), for the cost of the whole stage as the live agent runs it.
3. A flood: 1,000,000 detections from 200,000 distinct process trees (five each), generated
   lazily so only the stage's memory counts. Prints the peak RSS growth and the state left
   (open incidents are capped at `max_open`; the rest are closed as "evicted" and counted).

Run: `.venv/bin/python bench/incidents.py` (numbers in docs/performance.md).
"""

from __future__ import annotations

import gc
import os
import random
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from vigil.detections import Detection, Entity  # noqa: E402
from vigil.events.model import Event, Process  # noqa: E402
from vigil.incidents.correlator import Correlator, IncidentSettings  # noqa: E402
from vigil.incidents.model import IncidentEvent  # noqa: E402
from vigil.pipeline import DetectionPipeline  # noqa: E402
from vigil.priority import Priority  # noqa: E402

T0 = 1_796_000_000 * 10**9
INIT = Process(pid=1, name="systemd", start_ts=T0 - 10**15)
SERVICE = Process(pid=300, name="nginx", start_ts=T0 - 10**14, parent=INIT, ppid=1)
RULES = ["Shell spawned by a server program", "Read sensitive file untrusted",
         "Outbound connection", "Write below etc", "reverse_shell"]


def tree(i: int) -> list[Process]:
    """A shell, its child and grandchild, under a service (pids distinct per tree)."""
    base = 10_000 + i * 4
    sh = Process(pid=base, name="sh", start_ts=T0 + i, parent=SERVICE, ppid=300,
                 user="www-data", args=["-c", "x"])
    child = Process(pid=base + 1, name="curl", start_ts=T0 + i + 1, parent=sh, ppid=base)
    grand = Process(pid=base + 2, name="bash", start_ts=T0 + i + 2, parent=child,
                    ppid=base + 1)
    return [sh, child, grand]


def detection(p: Process, k: int, ts: int) -> Detection:
    ev = Event(type="execve", ts=ts, res=0, proc=p, hostname="web-1")
    return Detection(kind="falco", name=RULES[k % len(RULES)], priority=Priority.WARNING,
                     output="x", ts=ts, tags=["T1059.004"],
                     entity=Entity(pid=p.pid, process=p.name), evidence=[ev],
                     hostname="web-1")


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def part1(n_trees: int = 10_000, n_dets: int = 500_000) -> None:
    rng = random.Random(7)
    trees = [tree(i) for i in range(n_trees)]
    c = Correlator(IncidentSettings(max_open=n_trees * 2))
    ts = T0
    for t in trees:  # open one incident per tree
        ts += 1000
        c.add(detection(t[0], 0, ts), ts / 1e9)
    assert len(c) == n_trees
    dets = []
    for k in range(n_dets):
        ts += 1000
        t = trees[rng.randrange(n_trees)]
        dets.append(detection(t[rng.randrange(3)], k, ts))
    gc.collect()
    add = c.add
    t0 = time.perf_counter()
    for d in dets:
        add(d, d.ts / 1e9)
    elapsed = time.perf_counter() - t0
    assert len(c) == n_trees, len(c)
    print(f"1. correlation with {len(c):,} open incidents: {n_dets:,} detections in "
          f"{elapsed:.2f} s = {n_dets / elapsed:,.0f} detections/s "
          f"({elapsed / n_dets * 1e6:.2f} µs each; target >= 100,000/s)")

    events: list[IncidentEvent] = []
    pipe = DetectionPipeline([], correlator=Correlator(IncidentSettings(max_open=n_trees * 2)),
                             alert=events.append)
    for t in trees:
        ts += 1000
        pipe.handle([detection(t[0], 0, ts)])
    sample = dets[:200_000]
    gc.collect()
    t0 = time.perf_counter()
    for d in sample:
        pipe.handle([d])
    elapsed = time.perf_counter() - t0
    print(f"2. whole stage (accounting, correlation, snapshot per event for the alerts): "
          f"{len(sample):,} in {elapsed:.2f} s = {len(sample) / elapsed:,.0f} detections/s")


def flood(n_trees: int = 200_000, per_tree: int = 5) -> Iterator[Detection]:
    ts = T0
    for i in range(n_trees):
        t = tree(i)
        for k in range(per_tree):
            ts += 1000
            yield detection(t[k % 3], k, ts)


def part3() -> None:
    gc.collect()
    before = rss_kib()
    settings = IncidentSettings()
    c = Correlator(settings)
    peak = before
    n = 0
    t0 = time.perf_counter()
    for d in flood():
        c.add(d, d.ts / 1e9)
        n += 1
        if n % 50_000 == 0:
            peak = max(peak, rss_kib())
    elapsed = time.perf_counter() - t0
    peak = max(peak, rss_kib())
    s = c.stats
    print(f"3. flood: {n:,} detections from 200,000 process trees in {elapsed:.1f} s "
          f"({n / elapsed:,.0f}/s): {s.opened:,} incidents opened, {len(c):,} open at the "
          f"end (max_open {settings.max_open:,}), {s.evicted:,} evicted")
    print(f"   RSS before {before / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB: the stage "
          f"grew by {(peak - before) / 1024:.0f} MiB "
          f"({(peak - before) * 1024 / max(1, len(c)):,.0f} bytes per open incident); "
          f"maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    c.close_all()


if __name__ == "__main__":
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {os.uname().release}")
    part1()
    part3()
