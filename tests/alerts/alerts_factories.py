"""Detections for the alert tests: SSH failures like the ssh_bruteforce detector emits."""

from __future__ import annotations

import random

from vigil.detections import Detection, Entity
from vigil.priority import Priority

#: 2026-11-26T12:00:00Z
T0 = 1795694400.0
TOP_ATTACKER = "185.220.101.23"


def ssh_failure(ip: str, ts: float, *, user: str = "root",
                priority: Priority = Priority.WARNING) -> Detection:
    """One failed SSH login as an incident of the ssh_bruteforce detector."""
    return Detection(kind="detector", name="ssh_bruteforce", rule_id="ssh_bruteforce.failed",
                     priority=priority, output=f"Failed password for {user} from {ip} port 22",
                     entity=Entity(ip=ip, user=user), ts=int(ts * 1e9), tags=["network", "ssh"],
                     data={"title": "SSH brute force", "unit": "attempts"}, hostname="web-1")


def bruteforce_burst(t0: float = T0) -> list[Detection]:
    """49 failures from 12 IPs inside 60 s; the top attacker has 23 of them.

    The other 26 come from 11 IPs (4 with 3 attempts, 7 with 2). The order is shuffled
    with a fixed seed, but the first one is the top attacker's.
    """
    ips = [TOP_ATTACKER] * 22
    ips += [f"203.0.113.{n}" for n in range(1, 5) for _ in range(3)]
    ips += [f"198.51.100.{n}" for n in range(1, 8) for _ in range(2)]
    random.Random(5).shuffle(ips)
    ips.insert(0, TOP_ATTACKER)
    assert len(ips) == 49 and len(set(ips)) == 12 and ips.count(TOP_ATTACKER) == 23
    return [ssh_failure(ip, t0 + i * 1.2) for i, ip in enumerate(ips)]


def anomaly(name: str, ts: float, priority: Priority = Priority.CRITICAL,
            output: str = "anomaly") -> Detection:
    """A one-off incident of another detector."""
    return Detection(kind="detector", name=name, priority=priority, output=output,
                     ts=int(ts * 1e9), hostname="web-1")
