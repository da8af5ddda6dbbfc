"""Benchmark: Falco rules evaluation vs reading the same events from a JSONL recording.

Event mix (generated, seeded, mostly benign, in memory as `Event` objects):
  40% open/openat/openat2 (reads of libraries, configs, logs, /proc; 10% writes; 0.5%
      of opens touch a sensitive file: /etc/shadow, /etc/sudoers, root's SSH keys)
  20% execve (shells, coreutils, interpreters, servers, with realistic ancestry)
  20% connect (TCP/UDP to private and public addresses, DNS, HTTPS)
  10% accept/accept4/bind/listen
  10% other types the rules use: dup2/dup3, socket, ptrace, symlink/link, sendto,
      init_module, unlink, rename
Passes, each on one core (single thread):
  (a) the stable rules (falco_rules.yaml)
  (b) all three shared Falco rule files
  (c) Vigil's default rules
  (d) decode the same events from JSONL bytes (msgspec, straight to `Event`), no rules
Prints events/s for each and the ratio of rule-evaluation cost to decode cost.

Usage: .venv/bin/python bench/rules_engine.py [--events N] [--repeat R]
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from vigil.config import BUILTIN_RULES_FILE  # noqa: E402
from vigil.events.jsonl import decode_event, encode_event  # noqa: E402
from vigil.events.model import Event, FdInfo, Process  # noqa: E402
from vigil.rules.falco.engine import FalcoEngine  # noqa: E402
from vigil.rules.falco.loader import load_rules  # noqa: E402

SHARED = REPO.parent / "shared" / "rules" / "falco"


def _processes(rng: random.Random) -> list[Process]:
    init = Process(pid=1, name="systemd", exe="/sbin/init", exepath="/usr/lib/systemd/systemd",
                   args=[], uid=0, user="root", loginuid=-1, tty=0, sid=1, start_ts=1)
    sshd = Process(pid=700, name="sshd", exe="/usr/sbin/sshd", exepath="/usr/sbin/sshd",
                   args=["-D"], parent=init, uid=0, user="root", loginuid=-1, tty=0)
    login = Process(pid=5000, name="bash", exe="-bash", exepath="/usr/bin/bash", args=[],
                    parent=sshd, uid=1000, user="alice", loginuid=1000, tty=34816, sid=5000)
    nginx = Process(pid=900, name="nginx", exe="nginx", exepath="/usr/sbin/nginx",
                    args=["-g", "daemon off;"], parent=init, uid=33, user="www-data",
                    loginuid=-1, tty=0)
    node = Process(pid=950, name="node", exe="node", exepath="/usr/bin/node",
                   args=["server.js"], parent=init, uid=1001, user="app", loginuid=-1, tty=0)
    cron = Process(pid=800, name="cron", exe="/usr/sbin/cron", exepath="/usr/sbin/cron",
                   args=["-f"], parent=init, uid=0, user="root", loginuid=-1, tty=0)
    parents = [init, sshd, login, nginx, node, cron]
    names = [("cat", "/usr/bin/cat"), ("ls", "/usr/bin/ls"), ("grep", "/usr/bin/grep"),
             ("python3", "/usr/bin/python3.11"), ("curl", "/usr/bin/curl"),
             ("git", "/usr/bin/git"), ("make", "/usr/bin/make"), ("cc1", "/usr/lib/gcc/cc1"),
             ("sh", "/usr/bin/dash"), ("bash", "/usr/bin/bash"), ("ps", "/usr/bin/ps"),
             ("systemctl", "/usr/bin/systemctl"), ("apt-get", "/usr/bin/apt-get"),
             ("node", "/usr/bin/node"), ("nginx", "/usr/sbin/nginx"), ("java", "/usr/bin/java"),
             ("sshd", "/usr/sbin/sshd"), ("ssh", "/usr/bin/ssh"), ("date", "/usr/bin/date")]
    procs = []
    for i in range(400):
        name, path = rng.choice(names)
        parent = rng.choice(parents)
        procs.append(Process(pid=10000 + i, tid=10000 + i, ppid=parent.pid, name=name, exe=name,
                             exepath=path, args=[f"arg{rng.randint(0, 50)}", "--flag"],
                             parent=parent, uid=parent.uid, user=parent.user,
                             loginuid=parent.loginuid, tty=parent.tty, cwd="/home/alice",
                             sid=parent.sid, start_ts=10))
    return procs


_FILES = ["/usr/lib/x86_64-linux-gnu/libc.so.6", "/etc/ld.so.cache", "/etc/hosts",
          "/etc/nsswitch.conf", "/proc/self/status", "/var/log/nginx/access.log",
          "/home/alice/project/main.c", "/usr/share/zoneinfo/UTC", "/etc/passwd",
          "/tmp/build.o", "/var/lib/dpkg/status", "/etc/ssl/certs/ca-certificates.crt",
          "/sys/fs/cgroup/cpu.max"]
#: opened in 0.5% of open events: what the sensitive-file rules look for
_SENSITIVE = ["/etc/shadow", "/root/.ssh/authorized_keys", "/etc/sudoers"]
_ADDRS = [("10.0.0.5", 5432), ("93.184.216.34", 443), ("127.0.0.1", 6379),
          ("172.17.0.2", 80), ("1.1.1.1", 53), ("140.82.112.3", 22), ("192.168.1.10", 2222)]


def make_events(n: int, seed: int = 7) -> list[Event]:
    """The documented mix of `n` events."""
    rng = random.Random(seed)
    procs = _processes(rng)
    out: list[Event] = []
    ts = 1_700_000_000_000_000_000
    for i in range(n):
        ts += 1000
        p = rng.choice(procs)
        r = rng.random()
        if r < 0.40:
            path = rng.choice(_SENSITIVE if rng.random() < 0.005 else _FILES)
            write = rng.random() < 0.1
            flags = (0o1 | 0o100 | 0o1000) if write else 0o2000000
            ok = rng.random() < 0.95
            out.append(Event(type=rng.choice(("openat", "openat", "open", "openat2")), ts=ts,
                             res=3 if ok else -2, args={"flags": flags, "name": path, "mode": 0o644},
                             proc=p, fd=FdInfo(num=3 if ok else -1, type="file", name=path)))
        elif r < 0.60:
            out.append(Event(type="execve", ts=ts, res=0, args={}, proc=p))
        elif r < 0.80:
            ip, port = rng.choice(_ADDRS)
            out.append(Event(type="connect", ts=ts, res=0 if rng.random() < 0.7 else -115,
                             proc=p, fd=FdInfo(num=4, type="ipv4", l4proto="tcp", lip="10.0.0.9",
                                               lport=40000 + i % 20000, rip=ip, rport=port,
                                               role="client", connected=True,
                                               name=f"10.0.0.9:{40000 + i % 20000}->{ip}:{port}")))
        elif r < 0.90:
            t = rng.choice(("accept", "accept4", "bind", "listen"))
            out.append(Event(type=t, ts=ts, res=5, proc=p,
                             fd=FdInfo(num=5, type="ipv4", l4proto="tcp", lip="10.0.0.9",
                                       lport=443, rip="203.0.113.7", rport=51000, role="server")))
        else:
            t = rng.choice(("dup2", "dup3", "socket", "ptrace", "symlink", "link", "sendto",
                            "init_module", "unlink", "rename"))
            args: dict = {}
            fd = None
            if t in ("dup2", "dup3"):
                fd = FdInfo(num=3, type="pipe")
            elif t == "socket":
                args = {"domain": 2, "type": 1, "protocol": 0}
            elif t == "ptrace":
                args = {"request": 0x4200, "pid": 1234}
            elif t in ("symlink", "link"):
                args = {"target": "/tmp/a", "linkpath": "/tmp/b", "oldpath": "/tmp/a",
                        "newpath": "/tmp/b"}
            elif t == "sendto":
                fd = FdInfo(num=6, type="ipv4", l4proto="udp", lip="10.0.0.9", lport=5353,
                            rip="1.1.1.1", rport=53, role="client")
            out.append(Event(type=t, ts=ts, res=0, args=args, proc=p, fd=fd))
    return out


def time_rules(engine: FalcoEngine, events: list[Event], repeat: int) -> tuple[float, int]:
    """Best events/s over `repeat` passes, and the matches of one pass."""
    best = float("inf")
    matches = 0
    on_event = engine.on_event
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        m = 0
        for e in events:
            if on_event(e):
                m += 1
        best = min(best, time.perf_counter() - t0)
        matches = m
    return len(events) / best, matches


def time_decode(lines: list[bytes], repeat: int) -> float:
    """Best events/s decoding JSONL lines to `Event`."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        for line in lines:
            decode_event(line)
        best = min(best, time.perf_counter() - t0)
    return len(lines) / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    events = make_events(args.events)
    lines = [encode_event(e) for e in events]
    print(f"machine: {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}, {args.events} events, best of {args.repeat}")
    decode_rate = time_decode(lines, args.repeat)
    passes = [("(a) stable rules", [SHARED / "falco_rules.yaml"]),
              ("(b) all three Falco files", [SHARED / f for f in (
                  "falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml")]),
              ("(c) Vigil default rules", [BUILTIN_RULES_FILE])]
    for label, paths in passes:
        rs = load_rules(paths)
        if not rs.ok:
            raise SystemExit(f"{label}: rules do not load: {rs.errors[0]}")
        engine = FalcoEngine(rs, hostname="bench")
        rate, matches = time_rules(engine, events, args.repeat)
        print(f"{label:28} {len(rs.rules):3d} rules  {rate:12,.0f} events/s  "
              f"{1e6 / rate:6.2f} us/event  matches={matches}  "
              f"cost vs JSONL decode = {decode_rate / rate:.2f}x")
    print(f"{'(d) JSONL decode, no rules':28}            {decode_rate:12,.0f} events/s  "
          f"{1e6 / decode_rate:6.2f} us/event")


if __name__ == "__main__":
    main()
