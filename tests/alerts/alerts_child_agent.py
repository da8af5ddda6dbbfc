"""A stand-in agent for the crash test: accepts N incidents into an AlertPipeline, then
pumps deliveries until it is killed. Run as `python alerts_child_agent.py CONFIG STATE N`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from vigil.alerts.config import AlertsConfig
from vigil.alerts.pipeline import AlertPipeline
from vigil.detections import Detection
from vigil.incidents.correlator import Correlator
from vigil.incidents.model import IncidentEvent
from vigil.priority import Priority


def main() -> None:
    cfg = AlertsConfig.from_dict(json.loads(Path(sys.argv[1]).read_text()))
    pipeline = AlertPipeline(cfg, Path(sys.argv[2]))
    now = time.time()
    correlator = Correlator()
    for i in range(int(sys.argv[3])):
        det = Detection(kind="detector", name=f"anomaly_{i:02d}", priority=Priority.CRITICAL,
                        output=f"incident {i:02d}", ts=int(now * 1e9), hostname="web-1")
        c, _ = correlator.add(det, now)
        pipeline.submit(IncidentEvent(kind=c.kind, incident=correlator.snapshot(c.incident_id),
                                      detection=det))
    while True:  # until SIGKILL; never stop() on purpose
        pipeline.pump()
        time.sleep(0.01)


if __name__ == "__main__":
    main()
