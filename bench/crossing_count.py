"""Worker of `bench/sensor.py --crossing`: kernel records of a `make -j2` build, per source tree.

Runs the eBPF sensor of the Vigil source tree `--tree` (this one, or an older checkout for
a before/after comparison) as `vigil run` configures it for Falco's stable rules and the
default detectors, builds the generated 41-file C project `--rounds` times and counts
what crosses from the kernel for the build's own processes (the `make` process and every
descendant, followed through fork records and forks carried by exec records):

- records: every record the sensor reads (syscalls, forks, exits);
- events: the `Event`s the sensor delivers for them.

Prints one JSON document: per round the two counts and the records per type. Older trees
are supported as far as their APIs go (no filters: `--filters off` is implied).

    python bench/crossing_count.py --tree DIR --rounds 3 --filters on|off
"""

from __future__ import annotations

import argparse
import collections
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
FALCO_RULES = BENCH.parent.parent / "shared" / "rules" / "falco" / "falco_rules.yaml"
#: execve, execveat; EV_FORK; F_FORKED (exec records that carry their fork)
_EXECS, _FORK, _FORKED = (59, 322), 1000, 4096


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--filters", choices=("on", "off"), default="on")
    args = ap.parse_args()
    sys.path[:0] = [str(args.tree.resolve() / "src"), str(BENCH)]
    from c_project import write_project

    from vigil.agent import build_pipeline
    from vigil.config import load_config
    from vigil.sensors.ebpf import decode as D
    from vigil.sensors.ebpf import syscalls as sc
    from vigil.sensors.ebpf.sensor import EbpfSensor

    cfg = load_config(None)
    built = build_pipeline(config=cfg, rule_paths=[str(FALCO_RULES)], audit=False,
                           alerts=False, detectors=True)
    kw = dict(event_types=built.event_types(), exclude_pids={os.getpid()},
              ignore_read_prefixes=cfg.sensors.ignore_read_prefixes,
              ignore_missing_reads=cfg.sensors.ignore_missing_reads,
              ignore_missing_execs=cfg.sensors.ignore_missing_execs)
    params = inspect.signature(EbpfSensor).parameters
    if "flood_limit" in params:
        kw["flood_limit"] = cfg.sensors.flood_limit
    if args.filters == "on" and "read_filter" in params:
        from vigil.rules import kernel_filters as kf
        kw["read_filter"] = kf.plan_reads(built.falco, built.sigma,
                                          built.detectors).kernel_paths()
        if "write_filter" in params:
            kw["write_filter"] = kf.plan_writes(built.falco, built.sigma,
                                                built.detectors).kernel_paths()
    names = {s.nr: s.name for s in sc.SYSCALLS}
    names.update({_FORK: "fork", _FORK + 1: "exit", _FORK + 2: "flood"})
    fields = len(D.HEADER.unpack(bytes(D.HEADER.size)))
    # where tgid, nr, flags and a4 sit in the record header (it grew over time)
    tgid_i, nr_i, flags_i = (15, 22, 23) if fields > 25 else (9, 16, 17)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        root = write_project(Path(tmp) / "c_project", 40)
        for _ in range(args.rounds):
            subprocess.run(["make", "-s", "-C", str(root), "clean"], check=True,
                           stdout=subprocess.DEVNULL)
            sensor = EbpfSensor(**kw)
            sensor.start()
            tree: set[int] = set()
            by: collections.Counter[str] = collections.Counter()
            events = [0]
            decode = sensor._decoder.decode

            def counting(buf, off, size, decode=decode, tree=tree, by=by, events=events):
                h = D.HEADER.unpack_from(buf, off)
                tgid, nr = h[tgid_i], h[nr_i]
                if nr in _EXECS and h[flags_i] & _FORKED and h[7] in tree:
                    tree.add(tgid)
                if tgid in tree:
                    by[names.get(nr, str(nr))] += 1
                    if nr == _FORK:
                        tree.add(h[3])
                ev = decode(buf, off, size)
                if ev is not None and tgid in tree and ev.type in sensor.event_types:
                    events[0] += 1
                return ev

            sensor._decoder.decode = counting
            build = subprocess.Popen(["make", "-s", "-j2", "-C", str(root)],
                                     stdout=subprocess.DEVNULL)
            tree.add(build.pid)
            while build.poll() is None:
                sensor.read(0.1)
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                sensor.read(0.1)
            stats = sensor.stats()
            sensor.stop()
            out.append({"records": sum(by.values()), "events": events[0],
                        "by_type": dict(by.most_common()),
                        "filtered": {k: v for k, v in stats.items()
                                     if k.startswith("ignored")}})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
