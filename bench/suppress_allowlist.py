"""Benchmark: detections/s through the suppression stage, and vigil.toml load time.

Run: .venv/bin/python bench/suppress_allowlist.py
Prints detections/s with an empty allowlist, a realistic one (~40 entries) where most
detections match nothing (the worst case: every entry is tried), and one where they match
early; the ratio to the empty case; and the time to load and validate vigil.example.toml.
"""

from __future__ import annotations

import time
from pathlib import Path

from vigil.config import load_config
from vigil.detections import Detection, Entity
from vigil.events.model import Event, FdInfo, Process
from vigil.priority import Priority
from vigil.suppress.allowlist import Allowlist
from vigil.suppress.suppressor import Suppressor

REPO = Path(__file__).resolve().parents[1]
N = 50_000

REALISTIC = {
    "processes": [f"/opt/tool{i}/bin/run" for i in range(10)] + ["make", "ninja"],
    "users": ["deploy", "backup", {"value": "ci-*", "reason": "CI runners"}],
    "ips": [f"192.0.2.{i}" for i in range(1, 9)],
    "cidrs": ["10.0.0.0/8", "fd00::/8"],
    "ports": [53, 123],
    "detectors": {
        "data_exfil": {"skip_binaries": ["cc", "gcc", "/usr/bin/ld"]},
        "sensitive_write": {"skip_paths": ["/etc/letsencrypt/", "/etc/pam.d/*.dpkg-new"]},
        "service_tamper": {"skip_services": ["nginx"], "skip_users": ["root"]},
    },
    "rules": {"suppress": ["Run shell untrusted", "4f5e2a10-1c2d-4e3f-8a9b-0c1d2e3f4a5b"]},
}


def make_detection(exe: str, name: str = "data_exfil", kind: str = "detector") -> Detection:
    proc = Process(pid=100, name=exe.rsplit("/", 1)[-1], exe=exe, exepath=exe, user="alice",
                   parent=Process(pid=1, exepath="/usr/bin/bash"))
    return Detection(kind=kind, name=name, priority=Priority.WARNING, output="x",
                     entity=Entity(process=exe, user="alice"),
                     evidence=[Event(type="openat", proc=proc,
                                     fd=FdInfo(type="file", name="/etc/shadow")),
                               Event(type="connect", proc=proc,
                                     fd=FdInfo(type="ipv4", rip="203.0.113.9", rport=443))])


def rate(sup: Suppressor, dets: list[Detection]) -> float:
    start = time.perf_counter()
    for det in dets:
        sup.process(det)
    return len(dets) / (time.perf_counter() - start)


def main() -> None:
    no_match = [make_detection("/usr/bin/curl")] * N
    early = [make_detection("/bin/sh", name="Run shell untrusted", kind="falco")] * N
    binary = [make_detection("/usr/bin/cc")] * N
    empty = rate(Suppressor(Allowlist()), no_match)
    realistic = Allowlist.from_dict(REALISTIC)
    print(f"allowlist entries: {len(realistic)}")
    print(f"empty allowlist            {empty:12,.0f} detections/s")
    for label, dets in (("realistic, no match", no_match),
                        ("realistic, rule match", early),
                        ("realistic, skip_binaries", binary)):
        r = rate(Suppressor(realistic), dets)
        print(f"{label:26} {r:12,.0f} detections/s   ratio to empty {r / empty:5.2f}")
    start = time.perf_counter()
    for _ in range(200):
        load_config(REPO / "vigil.example.toml")
    print(f"load_config(vigil.example.toml): {(time.perf_counter() - start) / 200 * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
