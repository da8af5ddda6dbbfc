"""Real kernel: a vfork child's fork record rides on its exec record.

A vfork parent (posix_spawn, a compiler driver running its passes) sleeps until its child
execs or exits, so the kernel holds the fork record back and the exec record carries it
(F_FORKED, with the fork's time and the parent); any other record of the child first, or
its exit, sends the held fork record on its own. Both BPF objects; the children are
spawned from a fresh, single-threaded Python (a multi-threaded parent's forks are never
held: its other threads keep running).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from ebpf_harness import requires_bpf

from vigil.sensors.ebpf import decode as D
from vigil.sensors.ebpf import syscalls as sc
from vigil.sensors.ebpf.sensor import OBJECT_ENV, EbpfSensor

pytestmark = requires_bpf

SPAWN = """
import os, sys
plain = os.posix_spawn('/bin/true', ['true', 'plain'], {})
os.waitpid(plain, 0)
r, w = os.pipe()
acted = os.posix_spawn('/bin/true', ['true', 'acted'], {},
                       file_actions=[(os.POSIX_SPAWN_DUP2, r, 0)])
os.waitpid(acted, 0)
forked = os.fork()
if forked == 0:
    os.execv('/bin/true', ['true', 'forked'])
os.waitpid(forked, 0)
print(plain, acted, forked)
"""


def _records(sensor: EbpfSensor, rounds: int = 10) -> list[tuple]:
    out = []
    for _ in range(rounds):
        out += [D.HEADER.unpack_from(r) for r in sensor.read_records(0.1)]
    return out


@pytest.mark.parametrize("kind", ["full", "compat"])
def test_a_vfork_childs_fork_rides_on_its_exec(kind, monkeypatch):
    monkeypatch.delenv(OBJECT_ENV, raising=False)
    sensor = EbpfSensor(event_types={"execve", "dup2"}, bpf_object=kind)
    sensor.start()
    try:
        if "vigil_clone" not in sensor.optional_attached:
            pytest.fail("task_newtask could not be attached: forks are never held")
        out = subprocess.run([sys.executable, "-c", SPAWN], capture_output=True, text=True,
                             check=True).stdout
        recs = _records(sensor)
    finally:
        sensor.stop()
    plain, acted, forked = map(int, out.split())
    forks = {h[3] for h in recs if h[22] == sc.EV_FORK}          # a0: the child
    execs = {h[15]: h for h in recs if h[22] == 59 and h[2] == 0}
    # posix_spawn without file actions: no fork record, the exec says it all
    assert plain not in forks
    assert execs[plain][23] & D.F_FORKED and execs[plain][7] == execs[plain][17]  # a4: parent
    assert execs[plain][6] <= execs[plain][0]                      # a3: the fork's time
    # a dup2 of the child before its exec: the fork record first, then the dup2
    order = [(h[22], h[15] if h[22] != sc.EV_FORK else h[3]) for h in recs]
    assert (sc.EV_FORK, acted) in order
    assert order.index((sc.EV_FORK, acted)) < order.index((33, acted))
    assert not execs[acted][23] & D.F_FORKED
    # a plain fork: its own record, as before
    assert forked in forks and not execs[forked][23] & D.F_FORKED


@pytest.mark.parametrize("kind", ["full", "compat"])
def test_the_process_table_learns_a_merged_fork_as_a_fork(kind, monkeypatch):
    monkeypatch.delenv(OBJECT_ENV, raising=False)
    sensor = EbpfSensor(event_types={"execve"}, bpf_object=kind)
    sensor.start()
    try:
        parent = subprocess.Popen([sys.executable, "-c", SPAWN], stdout=subprocess.PIPE,
                                  text=True)
        out, _ = parent.communicate(30)
        events = []
        for _ in range(10):
            events += sensor.read(0.1)
    finally:
        sensor.stop()
    plain = int(out.split()[0])
    ev = next(e for e in events if e.type == "execve" and e.proc.pid == plain)
    assert ev.proc.ppid == parent.pid and ev.proc.parent is not None
    assert ev.proc.parent.pid == parent.pid and ev.proc.parent.name.startswith("python")
    assert 0 < ev.proc.start_ts <= ev.ts   # the fork's time, not the exec's
    assert ev.proc.args == ["plain"]
