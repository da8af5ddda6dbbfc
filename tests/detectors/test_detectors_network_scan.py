"""`network_scan`: port scans and sweeps, from one process or a shell loop; ordinary
clients and health checks are not scans."""

from __future__ import annotations

from detector_factories import connect, init, proc, sec

from vigil.detectors.network_scan import NetworkScanDetector, NetworkScanParams
from vigil.events.model import Process

REFUSED, IN_PROGRESS = -111, -115


def started(p: Process, ts: int) -> Process:
    import msgspec
    return msgspec.structs.replace(p, start_ts=ts)


def feed(det: NetworkScanDetector, events) -> list:
    out = []
    for e in events:
        out.extend(det.on_event(e))
    return out


def test_vertical_scan_by_one_process() -> None:
    nc = started(proc("/usr/bin/nc", "-zv", "127.0.0.1", "1-1000", pid=900, parent=init()),
                 sec(0))
    events = [connect(nc, "127.0.0.1", 1 + i, ts=sec(i * 0.01), res=REFUSED)
              for i in range(1000)]
    dets = feed(NetworkScanDetector(), events)
    assert len(dets) == 1
    d = dets[0]
    assert d.rule_id == "network_scan.vertical" and d.data["target"] == "127.0.0.1"
    assert d.data["targets"] == 25 and d.data["title"] == "Network port scan"
    assert "25 ports of 127.0.0.1 probed" in d.output and "T1046" in d.tags


def test_shell_loop_with_one_process_per_probe_is_one_scan() -> None:
    loop = started(proc("/usr/bin/bash", "-c", "for p in $(seq 1 200); do ...; done",
                        pid=910, parent=init()), sec(0))
    events = []
    for i in range(200):
        child = started(proc("/usr/bin/bash", pid=1000 + i, parent=loop), sec(i * 0.05))
        events.append(connect(child, "10.0.0.9", 8000 + i, ts=sec(i * 0.05), res=REFUSED))
    dets = feed(NetworkScanDetector(), events)
    assert len(dets) == 1
    assert dets[0].entity.pid == 910  # the loop, not one of its probes
    assert dets[0].evidence[0].proc.pid != 910
    assert dets[0].entity.ip == "10.0.0.9"


def test_horizontal_sweep_of_one_port() -> None:
    sweep = started(proc("/usr/bin/python3", "sweep.py", pid=920, parent=init()), sec(0))
    events = [connect(sweep, f"10.1.{i // 250}.{i % 250}", 22, ts=sec(i * 0.02),
                      res=-113 if i % 3 else REFUSED) for i in range(60)]
    dets = feed(NetworkScanDetector(), events)
    assert [d.rule_id for d in dets] == ["network_scan.horizontal"]
    assert "port 22 probed on 25 hosts" in dets[0].output


def test_non_blocking_scanner_needs_many_targets() -> None:
    scanner = started(proc("/usr/bin/masscan", pid=930, parent=init()), sec(0))
    events = [connect(scanner, "10.2.0.1", 1 + i, ts=sec(i * 0.001), res=IN_PROGRESS)
              for i in range(300)]
    dets = feed(NetworkScanDetector(), events)
    assert len(dets) == 1 and dets[0].data["targets"] == 200


def test_ordinary_clients_and_health_checks_are_not_scans() -> None:
    det = NetworkScanDetector()
    # a web backend pool: 300 successful connections to 40 upstreams on one port
    app = started(proc("/usr/bin/node", "server.js", pid=940, parent=init()), sec(0))
    events = [connect(app, f"10.3.0.{i % 40}", 8080, ts=sec(i * 0.1)) for i in range(300)]
    # a health check loop: 5 local ports every 10 s, one of them down
    hc = started(proc("/usr/bin/bash", "health.sh", pid=950, parent=init()), sec(0))
    for t in range(30):
        for j, port in enumerate((80, 443, 5432, 6379, 9999)):
            events.append(connect(hc, "127.0.0.1", port, ts=sec(t * 10 + j * 0.01),
                                  res=REFUSED if port == 9999 else 0))
    assert feed(det, events) == []


def test_window_forgets_slow_attempts() -> None:
    slow = started(proc("/usr/bin/nc", pid=960, parent=init()), sec(0))
    events = [connect(slow, "10.4.0.1", 1 + i, ts=sec(i * 5), res=REFUSED) for i in range(100)]
    assert feed(NetworkScanDetector(NetworkScanParams(window_seconds=60)), events) == []
