"""Benchmark: events/s through the built-in syscall detectors, dispatched by event type as
the engine does (each event goes only to the detectors whose `event_types` name it).

Run: .venv/bin/python bench/detectors.py [--events N]
Prints events/s (and µs per event of the mix) for an empty dispatch loop, for each
detector alone on the mix, and for all of them together, with the ratio to the empty loop. The mix is a busy server: mostly
file opens of ordinary paths, some execs (shells under node/nginx among them, some with a
pipe on stdin), outbound connects, accepted connections and DNS questions (routed to the
detectors that declare the `dns` pseudo type, as the pipeline does), a few sensitive reads
and writes, BPF and module loads, ptrace, file capabilities and reads of another process's
memory, and the process life cycle and file churn the evasion detectors follow (files
created and deleted, renames, thread renames, socket creation, signals, `utimensat`,
process exits).

Every detector the registry builds with the default configuration is measured, so a new
detector appears here once it is registered; for each, how many events of the mix it
receives and what one of them costs it (fed only those).
"""

from __future__ import annotations

import argparse
import random
import time
from collections import defaultdict

from vigil.detectors.registry import build_detectors
from vigil.events.model import DnsQuery, Event, FdInfo, Peer, Process
from vigil.pipeline import DNS_EVENTS

T0 = 1_764_158_400 * 10**9


def _proc(pid: int, exepath: str, *args: str, parent: Process | None = None,
          uid: int = 1000) -> Process:
    return Process(pid=pid, name=exepath.rsplit("/", 1)[-1][:15], exepath=exepath,
                   args=list(args), uid=uid, user="app", parent=parent)


def make_events(n: int, seed: int = 7) -> list[Event]:
    """A deterministic mix of `n` events."""
    rnd = random.Random(seed)
    init = _proc(1, "/usr/lib/systemd/systemd", uid=0)
    node = _proc(200, "/usr/bin/node", "/srv/app/server.js", parent=init)
    nginx = _proc(100, "/usr/sbin/nginx", parent=init, uid=33)
    bash = _proc(300, "/usr/bin/bash", parent=_proc(299, "/usr/sbin/sshd", parent=init, uid=0))
    files = ["/usr/lib/x86_64-linux-gnu/libc.so.6", "/etc/ld.so.cache", "/srv/app/index.js",
             "/var/www/html/index.php", "/etc/hosts", "/proc/self/status", "/tmp/upload.bin",
             "/home/app/.cache/x", "/etc/ssl/certs/ca-certificates.crt", "/etc/passwd"]
    out: list[Event] = []
    for i in range(n):
        ts = T0 + i * 100_000
        pid = 1000 + rnd.randrange(500)
        r = rnd.random()
        if r < 0.70:
            p = _proc(pid, "/usr/bin/node", parent=node)
            path = rnd.choice(files) if rnd.random() > 0.002 else "/home/app/.aws/credentials"
            flags = 0 if rnd.random() < 0.9 else 0o1101
            args = {"flags": flags}
            if flags:
                args["created"] = rnd.random() < 0.5
                path = f"/srv/app/cache/{rnd.randrange(2000)}.json.tmp"
            out.append(Event(type="openat", ts=ts, res=3, proc=p, args=args,
                             fd=FdInfo(num=3, type="file", name=path)))
        elif r < 0.80:
            parent = rnd.choice([node, nginx, bash])
            cmd = rnd.choice(["react-scripts build", "git rev-parse HEAD", "ls -la",
                              "tar czf - dist | gzip > out.tgz", "id"])
            p = _proc(pid, "/usr/bin/dash", "-c", cmd, parent=parent)
            if rnd.random() < 0.3:
                p = _proc(pid, "/usr/bin/dash", parent=parent)
                p.stdio = [FdInfo(num=0, type="pipe", end="r", peer=Peer(
                    pid=pid + 100_000, name="cat", exepath="/usr/bin/cat")),
                    FdInfo(num=1, type="pipe", end="w", peer=Peer(
                        pid=pid + 200_000, name="tee", exepath="/usr/bin/tee")),
                    FdInfo(num=2, type="file", name="/dev/null")]
            out.append(Event(type="execve", ts=ts, res=0, proc=p))
        elif r < 0.85:
            p = _proc(pid, "/usr/bin/python3", "app.py", parent=bash)
            name = rnd.choice(["www", "api", "cdn", "static", f"{rnd.getrandbits(120):030x}"])
            out.append(Event(type="sendto", ts=ts, res=40, proc=p, fd=FdInfo(
                num=5, type="ipv4", l4proto="udp", rip="127.0.0.53", rport=53),
                dns=DnsQuery(qname=f"{name}.example.com", qtype=1, server="127.0.0.53",
                             port=53)))
        elif r < 0.87:
            out.append(Event(type="accept4", ts=ts, res=7, proc=node, fd=FdInfo(
                num=7, type="ipv4", l4proto="tcp", lip="0.0.0.0", lport=3000,
                rip=f"203.0.113.{rnd.randrange(250)}", rport=50000, role="server")))
        elif r < 0.92:
            p = _proc(pid, "/usr/bin/curl", parent=bash)
            port = rnd.choice([443, 443, 80, 53, 3333])
            out.append(Event(type="connect", ts=ts, res=0, proc=p, fd=FdInfo(
                num=4, type="ipv4", l4proto="tcp", rip=f"198.51.100.{rnd.randrange(250)}",
                rport=port, role="client")))
        elif r < 0.95:
            p = _proc(pid, "/usr/bin/node", parent=node)
            etype = rnd.choice(["prctl", "socket", "kill", "utimensat", "procexit"])
            args = {"prctl": {"option": 15}, "kill": {"pid": pid + 1, "sig": 15,
                                                      "target_name": "node"},
                    "socket": {"domain": rnd.choice([2, 10, 16]), "type": 1, "proto": 0},
                    "utimensat": {"name": "/srv/app/dist/app.js", "mtime": T0},
                    "procexit": {}}[etype]
            out.append(Event(type=etype, ts=ts, res=0, proc=p, args=args))
        else:
            p = _proc(pid, "/usr/bin/python3", parent=bash)
            etype = rnd.choice(["unlinkat", "renameat2", "fchmodat", "setuid", "dup2", "bpf",
                                "ptrace", "setxattr", "process_vm_readv", "finit_module"])
            n = rnd.randrange(2000)
            cache = f"/srv/app/cache/{n}.json"
            out.append(Event(type=etype, ts=ts, res=0, proc=p,
                             args={"path": cache, "oldpath": f"{cache}.tmp", "newpath": cache,
                                   "filename": "/tmp/x", "mode": 0o644, "uid": 1000,
                                   "cmd": 5, "prog_type": 1, "request": 16, "pid": 100,
                                   "target_pid": 100, "target_name": "nginx",
                                   "name": ("security.capability" if etype == "setxattr"
                                            else cache),
                                   "cap_permitted": 1 << 13},
                             fd=FdInfo(num=3, type="file", name="/tmp/m.ko")))
    return out


def _route(detectors, events: list[Event]) -> dict[str, list]:
    table: dict[str, list] = defaultdict(list)
    for d in detectors:
        for t in {e.type for e in events} | {DNS_EVENTS + ":" + e.type for e in events}:
            plain = t.rpartition(":")[2]
            if plain in d.event_types or (t.startswith(DNS_EVENTS + ":")
                                          and DNS_EVENTS in d.event_types):
                table[t].append(d)
    return table


def measure(detectors, events: list[Event]) -> tuple[float, int]:
    """events/s through `detectors` (dispatched by type, DNS events also to the detectors
    declaring `dns`) and the detections raised."""
    table = _route(detectors, events)
    found = 0
    start = time.perf_counter()
    for e in events:
        key = e.type if e.dns is None else DNS_EVENTS + ":" + e.type
        for d in table.get(key, ()):
            found += len(d.on_event(e))
    return len(events) / (time.perf_counter() - start), found


def cost_per_received_event(detector, events: list[Event]) -> tuple[float, int]:
    """µs per event the detector receives (fed only those, routed as `measure` routes
    them), and how many of the mix's events it receives."""
    table = _route([detector], events)
    mine = [e for e in events
            if table.get(e.type if e.dns is None else DNS_EVENTS + ":" + e.type)]
    if not mine:
        return 0.0, 0
    on_event = detector.on_event
    start = time.perf_counter()
    for e in mine:
        on_event(e)
    return (time.perf_counter() - start) * 1e6 / len(mine), len(mine)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    n = ap.parse_args().events
    events = make_events(n)
    cfg = {"dns_direct": {"system_resolvers": []}}
    everything = [d for d in build_detectors(cfg, own_pid=4242, own_uid=0)
                  if d.name != "ssh_bruteforce"]
    base, _ = measure([], events)
    print(f"{n} events; empty dispatch: {base:,.0f} events/s")
    print(f"  {'detector':22s} {'events/s of the mix':>19s}  {'µs/event of mix':>15s}  "
          f"{'receives':>8s}  {'µs per received event':>21s}")
    for det in everything:
        fresh = [d for d in build_detectors(cfg, 4242, 0) if d.name == det.name]
        rate, found = measure(fresh, events)
        again = [d for d in build_detectors(cfg, 4242, 0) if d.name == det.name][0]
        per, received = cost_per_received_event(again, events)
        print(f"  {det.name:22s} {rate:>19,.0f}  {1e6 / rate:15.2f}  {received:8d}  {per:21.2f}"
              f"  detections {found}")
    rate, found = measure(everything, events)
    label = f"all {len(everything)} together"
    print(f"  {label:22s} {rate:>19,.0f}  {1e6 / rate:15.2f}  {'':8s}  {'':21s}"
          f"  detections {found}")


if __name__ == "__main__":
    main()
