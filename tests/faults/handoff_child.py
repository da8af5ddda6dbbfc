"""A stand-in agent for the kill -9 test of the incident path: the real pipeline (audit
trail, correlation, alert pipeline on its threads, outbox, a file sink) fed one new
incident every few milliseconds until it is killed. Run as
`python handoff_child.py CONFIG`; prints each incident's number once it is handed over."""

from __future__ import annotations

import sys
import time

from vigil.agent import build_pipeline
from vigil.config import load_config
from vigil.detections import Detection, Entity
from vigil.priority import Priority


def main() -> None:
    built = build_pipeline(config=load_config(sys.argv[1]), detectors=False, alerts=True)
    assert not built.fatal, built.problems
    i = 0
    while True:  # until SIGKILL; never closed on purpose
        now = time.time()
        det = Detection(kind="detector", name="sensitive_write", priority=Priority.ERROR,
                        output=f"write number {i}", ts=int(now * 1e9), hostname="h",
                        entity=Entity(path=f"/etc/cron.d/job-{i}"))
        built.pipeline.handle([det])
        print(i, flush=True)
        i += 1
        time.sleep(0.002)


if __name__ == "__main__":
    main()
