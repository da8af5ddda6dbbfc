"""Benchmark: auth log lines/s through the parser and the ssh_bruteforce detector, and
records/s appended to the audit trail (with and without fsync per record).

Run: .venv/bin/python bench/auth_audit.py
Prints lines/s for parsing alone, parse + sshd join (what the sensors do), parse + join +
detector, and records/s for the trail, with the ratio of each to the fastest case of its
group. Each line rate is the best of 3 passes (the machine is shared).
"""

from __future__ import annotations

import tempfile
import time
from datetime import timezone

from vigil.audit.trail import AuditTrail
from vigil.detections import Detection, Entity
from vigil.detectors.ssh_bruteforce import SshBruteforceDetector
from vigil.events.model import Event, Process
from vigil.priority import Priority
from vigil.sensors.authparse import parse_syslog_line
from vigil.sensors.sshd_join import SshdJoiner

N_LINES = 100_000
N_RECORDS = 20_000
NOW = 1_795_000_000.0


def make_lines(n: int) -> list[str]:
    """A mix like a server under attack: failures, invalid users, closes, a few logins."""
    templates = [
        "Nov 18 10:{m:02d}:{s:02d} web sshd[{pid}]: Failed password for root from 203.0.{a}.{b} port {port} ssh2",
        "Nov 18 10:{m:02d}:{s:02d} web sshd[{pid}]: Invalid user admin{b} from 203.0.{a}.{b} port {port}",
        "Nov 18 10:{m:02d}:{s:02d} web sshd[{pid}]: Connection closed by authenticating user root 203.0.{a}.{b} port {port} [preauth]",
        "Nov 18 10:{m:02d}:{s:02d} web sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.{a}.{b}  user=root",
        "Nov 18 10:{m:02d}:{s:02d} web sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl status nginx",
        "Nov 18 10:{m:02d}:{s:02d} web sshd[{pid}]: Accepted publickey for deploy from 198.51.100.{b} port {port} ssh2: ED25519 SHA256:abc",
        "Nov 18 10:{m:02d}:{s:02d} web CRON[{pid}]: pam_unix(cron:session): session closed for user root",
    ]
    out = []
    for i in range(n):
        t = templates[i % len(templates)]
        out.append(t.format(m=(i // 60) % 60, s=i % 60, pid=1000 + i, a=(i // 250) % 250,
                            b=i % 250, port=1024 + i % 60000))
    return out


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def bench_parse(lines: list[str]) -> tuple[float, float, float]:
    """lines/s: parse only, parse + join, parse + join + detector (best of 3)."""
    parse_s = join_s = detect_s = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        events = [parse_syslog_line(l, now=NOW, tz=timezone.utc) for l in lines]
        parse_s = min(parse_s, time.perf_counter() - t)
        joiner = SshdJoiner()
        t = time.perf_counter()
        joined = [j for ev in events if ev is not None for j in joiner.push(ev, ev.ts)]
        joined += joiner.drain()
        join_s = min(join_s, time.perf_counter() - t)
        det = SshBruteforceDetector()
        t = time.perf_counter()
        for ev in joined:
            det.on_event(ev)
        detect_s = min(detect_s, time.perf_counter() - t)
    n = len(lines)
    return rate(n, parse_s), rate(n, parse_s + join_s), rate(n, parse_s + join_s + detect_s)


def detection(i: int) -> Detection:
    ev = Event(type="auth.ssh_failed", ts=int((NOW + i) * 1e9), source="auth",
               args={"src_ip": f"203.0.113.{i % 250}", "user": "root", "src_port": 40000},
               proc=Process(name="sshd", pid=1000 + i), raw="Failed password for root ...")
    return Detection(kind="detector", name="ssh_bruteforce", rule_id="ssh_bruteforce.attempt",
                     priority=Priority.NOTICE, output=f"SSH failed login {i}", ts=ev.ts,
                     entity=Entity(ip=ev.args["src_ip"], user="root"), evidence=[ev])


def bench_trail(n: int, fsync_each: bool) -> float:
    dets = [detection(i) for i in range(n)]
    with tempfile.TemporaryDirectory() as d:
        with AuditTrail(d) as trail:
            t = time.perf_counter()
            for det in dets:
                trail.record_incident(det)
                if fsync_each:
                    trail.flush()
            trail.flush()
            return rate(n, time.perf_counter() - t)


def main() -> None:
    lines = make_lines(N_LINES)
    parse_rate, join_rate, pipeline_rate = bench_parse(lines)
    print(f"parse only:          {parse_rate:>12,.0f} lines/s  (ratio 1.00)")
    print(f"parse + join:        {join_rate:>12,.0f} lines/s  (ratio {join_rate / parse_rate:.2f})")
    print(f"parse + join + det.: {pipeline_rate:>12,.0f} lines/s  (ratio {pipeline_rate / parse_rate:.2f})")
    buffered = bench_trail(N_RECORDS, fsync_each=False)
    synced = bench_trail(N_RECORDS // 10, fsync_each=True)
    print(f"audit, one fsync:    {buffered:>12,.0f} records/s (ratio 1.00)")
    print(f"audit, fsync each:   {synced:>12,.0f} records/s (ratio {synced / buffered:.3f})")


if __name__ == "__main__":
    main()
