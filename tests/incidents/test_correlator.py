"""The correlation stage: which detections are one story, lifecycle, bounds, bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "detectors"))
from detector_factories import (T0, connect, execve, init, open_file, proc, sec,  # noqa: E402
                                syscall)

from vigil.detections import Detection, Entity, Suppression  # noqa: E402
from vigil.events.model import Event, Process  # noqa: E402
from vigil.incidents.correlator import Correlator, IncidentSettings, attack_of  # noqa: E402
from vigil.incidents.model import IncidentEventKind as K  # noqa: E402
from vigil.priority import Priority  # noqa: E402


def det(ev: Event, name: str = "rule", priority: Priority = Priority.WARNING, *,
        kind: str = "falco", ip: str | None = None, path: str | None = None,
        tags: list[str] | None = None, rule_id: str | None = None,
        evidence: list[Event] | None = None, data: dict | None = None) -> Detection:
    p = ev.proc
    return Detection(kind=kind, name=name, rule_id=rule_id, priority=priority,
                     output=f"{name} by {p.name}", ts=ev.ts, tags=tags or [],
                     entity=Entity(ip=ip, path=path, pid=p.pid, process=p.name, user=p.user),
                     evidence=evidence if evidence is not None else [ev],
                     data=data or {}, hostname=ev.hostname)


def started(p: Process, ts: int) -> Process:
    """The same process struct with a start time (pid + start identify a process)."""
    import msgspec
    return msgspec.structs.replace(p, start_ts=ts)


def tree():
    """systemd → sshd listener → sshd session → bash (alice) → python → sh"""
    sshd = started(proc("/usr/sbin/sshd", pid=400, parent=init(), name="sshd"), sec(-100))
    session = started(proc("/usr/sbin/sshd", pid=410, parent=sshd, name="sshd"), sec(-50))
    bash = started(proc("/usr/bin/bash", pid=420, parent=session, name="bash", uid=1000,
                        user="alice"), sec(-49))
    py = started(proc("/usr/bin/python3", "x.py", pid=430, parent=bash, name="python3"),
                 sec(-10))
    sh = started(proc("/usr/bin/dash", "-c", "id", pid=440, parent=py, name="sh"), sec(-5))
    return sshd, session, bash, py, sh


def add(c: Correlator, d: Detection, now: float | None = None):
    corr, closed = c.add(d, d.ts / 1e9 if now is None else now)
    return corr


def test_descendants_join_by_pid_and_start_time() -> None:
    _, _, _, py, sh = tree()
    c = Correlator()
    a = add(c, det(execve(py, ts=sec(0)), "python reverse shell", Priority.CRITICAL))
    b = add(c, det(execve(sh, ts=sec(1)), "shell spawned"))
    assert a.kind is K.OPENED and b.kind is K.JOINED and a.incident_id == b.incident_id
    # the same pid started at another time is another process: not the story
    impostor = started(proc("/usr/bin/dash", pid=440, parent=started(
        proc("/usr/bin/python3", pid=430, name="python3"), sec(50)), name="sh"), sec(51))
    other = add(c, det(execve(impostor, ts=sec(52)), "shell spawned"))
    assert other.kind is K.OPENED and other.incident_id != a.incident_id


def test_identical_detections_are_counted_not_repeated() -> None:
    _, _, _, py, _ = tree()
    c = Correlator()
    for i in range(5):
        add(c, det(syscall(py, "dup2", ts=sec(i)), "stdio to socket"))
    inc = c.snapshot(c.open_ids()[0])
    assert inc.detection_count == 5 and len(inc.detections) == 1
    assert inc.detections[0].count == 5 and inc.detections[0].last_ts == sec(4)


def test_escalation_raises_priority_and_renames_the_story() -> None:
    _, _, _, py, sh = tree()
    c = Correlator()
    add(c, det(execve(py, ts=sec(0)), "Suspicious python", Priority.NOTICE))
    e = add(c, det(execve(sh, ts=sec(1)), "reverse_shell", Priority.CRITICAL, kind="detector",
                   data={"title": "Reverse shell"}))
    assert e.kind is K.ESCALATED and e.previous_priority is Priority.NOTICE
    inc = c.snapshot(e.incident_id)
    assert inc.priority is Priority.CRITICAL and inc.title == "Reverse shell"
    same = add(c, det(execve(sh, ts=sec(2)), "another", Priority.ERROR))
    assert same.kind is K.JOINED


def test_a_parent_reported_just_after_its_child_joins_later_it_does_not() -> None:
    _, _, bash, py, sh = tree()
    c = Correlator(IncidentSettings(target_window_secs=10))
    a = add(c, det(execve(sh, ts=sec(0)), "reverse shell", Priority.CRITICAL))
    b = add(c, det(execve(py, ts=sec(2)), "wrapper"))
    assert b.incident_id == a.incident_id
    # the grandparent (the user's shell) doing something else a minute later: its own story
    d = add(c, det(open_file(bash, "/etc/shadow", ts=sec(60)), "shadow read"))
    assert d.incident_id != a.incident_id


def test_service_roots_never_join_their_children() -> None:
    systemd = init()
    cron = started(proc("/usr/sbin/cron", pid=300, parent=systemd, name="cron"), sec(-500))
    job1 = started(proc("/usr/bin/dash", "-c", "backup", pid=301, parent=cron, name="sh"),
                   sec(0))
    job2 = started(proc("/usr/bin/dash", "-c", "report", pid=302, parent=cron, name="sh"),
                   sec(1))
    c = Correlator()
    a = add(c, det(execve(job1, ts=sec(0)), "r1"))
    # cron itself flagged: it must not become the root that swallows every job
    b = add(c, det(execve(cron, ts=sec(0.5)), "cron odd"))
    d = add(c, det(execve(job2, ts=sec(1)), "r2"))
    assert len({a.incident_id, b.incident_id, d.incident_id}) == 3


def test_login_session_joins_unrelated_trees_of_one_session() -> None:
    p1 = started(proc("/usr/bin/vi", pid=501, name="vi", loginuid=1000, sid=500, tty=34816),
                 sec(0))
    p2 = started(proc("/usr/bin/cat", pid=502, name="cat", loginuid=1000, sid=500, tty=34816),
                 sec(1))
    p3 = started(proc("/usr/bin/cat", pid=503, name="cat", loginuid=1000, sid=600, tty=34817),
                 sec(1))
    c = Correlator()
    a = add(c, det(open_file(p1, "/etc/sudoers", ts=sec(0)), "sudoers"))
    b = add(c, det(open_file(p2, "/etc/shadow", ts=sec(5)), "shadow"))
    d = add(c, det(open_file(p3, "/etc/shadow", ts=sec(6)), "shadow"))
    assert a.incident_id == b.incident_id != d.incident_id
    assert c.snapshot(a.incident_id).entities.sessions == ("1000:500",)


def test_remote_ip_joins_log_and_kernel_detections_loopback_never() -> None:
    c = Correlator()
    log = Event(type="auth.ssh_failed", ts=sec(0), source="auth",
                proc=Process(pid=7000, name="sshd"), args={"src_ip": "198.51.100.3"})
    a = add(c, det(log, "ssh_bruteforce", kind="detector", ip="198.51.100.3"))
    p = started(proc("/usr/bin/curl", pid=800, name="curl"), sec(9))
    b = add(c, det(connect(p, "198.51.100.3", 4444, ts=sec(10)), "outbound", ip="198.51.100.3"))
    assert a.incident_id == b.incident_id
    q = started(proc("/usr/bin/nc", pid=801, name="nc"), sec(20))
    r = started(proc("/usr/bin/nc", pid=802, name="nc"), sec(21))
    x = add(c, det(connect(q, "127.0.0.1", 80, ts=sec(20)), "loop", ip="127.0.0.1"))
    y = add(c, det(connect(r, "::ffff:127.0.0.1", 80, ts=sec(21)), "loop", ip="::ffff:127.0.0.1"))
    assert x.incident_id != y.incident_id


def test_a_login_line_anchors_the_processes_of_its_session() -> None:
    """A brute force, then a login from that IP, then what that session does."""
    c = Correlator()
    accepted = Event(type="auth.ssh_accepted", ts=sec(0), source="auth",
                     proc=Process(pid=7100, name="sshd"), args={"src_ip": "198.51.100.9"})
    a = add(c, det(accepted, "ssh_bruteforce", Priority.CRITICAL, kind="detector",
                   ip="198.51.100.9"))
    # the session's shell descends from that sshd (whose start time the log does not tell)
    sshd = started(proc("/usr/sbin/sshd", pid=7100, name="sshd", parent=started(
        proc("/usr/sbin/sshd", pid=400, name="sshd", parent=init()), sec(-900))), sec(-1))
    bash = started(proc("/usr/bin/bash", pid=7110, name="bash", parent=sshd), sec(1))
    wget = started(proc("/usr/bin/wget", "http://x/m", pid=7120, name="wget", parent=bash),
                   sec(5))
    b = add(c, det(execve(wget, ts=sec(5)), "download"))
    assert b.incident_id == a.incident_id


def test_same_target_file_within_seconds() -> None:
    p = started(proc("/usr/bin/tee", pid=900, name="tee"), sec(0))
    q = started(proc("/usr/bin/sed", pid=901, name="sed"), sec(0))
    r = started(proc("/usr/bin/sed", pid=902, name="sed"), sec(0))
    c = Correlator(IncidentSettings(target_window_secs=10))
    a = add(c, det(open_file(p, "/etc/cron.d/x", ts=sec(0)), "cron", path="/etc/cron.d/x"))
    b = add(c, det(open_file(q, "/etc/cron.d/x", ts=sec(3)), "cron", path="/etc/cron.d/x"))
    d = add(c, det(open_file(r, "/etc/cron.d/x", ts=sec(30)), "cron", path="/etc/cron.d/x"))
    assert a.incident_id == b.incident_id != d.incident_id


def test_two_unrelated_sensitive_writes_seconds_apart_are_two_incidents() -> None:
    w1 = started(proc("/usr/bin/tee", pid=910, name="tee", parent=init()), sec(0))
    w2 = started(proc("/usr/bin/cp", pid=911, name="cp", parent=init()), sec(1))
    c = Correlator()
    a = add(c, det(open_file(w1, "/etc/sudoers.d/x", ts=sec(0)), "sensitive_write",
                   kind="detector", path="/etc/sudoers.d/x"))
    b = add(c, det(open_file(w2, "/etc/cron.d/y", ts=sec(1)), "sensitive_write",
                   kind="detector", path="/etc/cron.d/y"))
    assert a.kind is b.kind is K.OPENED and a.incident_id != b.incident_id


def test_idle_and_maximum_duration_close_incidents() -> None:
    _, _, _, py, sh = tree()
    c = Correlator(IncidentSettings(idle_close_secs=300, max_duration_secs=600))
    a = add(c, det(execve(py, ts=sec(0)), "r"), now=T0 / 1e9)
    assert c.expire(T0 / 1e9 + 299) == []
    [closed] = c.expire(T0 / 1e9 + 300)
    assert closed.closed_reason == "idle" and closed.id == a.incident_id
    assert c.snapshot(a.incident_id) is None
    # an incident kept busy still closes at its maximum duration
    b = add(c, det(execve(sh, ts=sec(1000)), "r"), now=T0 / 1e9 + 1000)
    for t in range(1100, 1600, 100):
        add(c, det(execve(sh, ts=sec(t)), "r"), now=T0 / 1e9 + t)
    out = c.expire(T0 / 1e9 + 1600)
    assert [x.closed_reason for x in out] == ["max_age"] and out[0].id == b.incident_id
    after = add(c, det(execve(sh, ts=sec(1601)), "r"), now=T0 / 1e9 + 1601)
    assert after.kind is K.OPENED and after.incident_id != b.incident_id


def test_clock_going_backwards_closes_nothing_and_merges_nothing() -> None:
    """A replay whose recorded time jumps back (two recordings concatenated)."""
    _, _, _, py, _ = tree()
    other = started(proc("/usr/bin/perl", pid=999, name="perl", parent=init()), sec(0))
    c = Correlator(IncidentSettings(idle_close_secs=300))
    a = add(c, det(execve(py, ts=sec(3600)), "r"))
    b = add(c, det(execve(other, ts=sec(0)), "r"))  # an hour earlier
    assert b.kind is K.OPENED and a.incident_id != b.incident_id
    assert c.stats.clock_backwards == 1 and len(c) == 2
    # time continues from the latest clock: nothing closed until idle from there
    assert c.expire(T0 / 1e9 + 3600 + 299) == []
    assert len(c.expire(T0 / 1e9 + 3600 + 300)) == 2


def test_detection_without_process_or_entity_opens_its_own_incident() -> None:
    c = Correlator()
    bare = Detection(kind="sigma", name="x", priority=Priority.NOTICE, output="x", ts=sec(0))
    broken = Detection(kind="detector", name="y", priority=Priority.ERROR, output="y",
                       ts=sec(0), entity=None, evidence=[None])  # type: ignore[arg-type,list-item]
    a = add(c, bare)
    b = add(c, broken)
    d = add(c, bare)
    assert len({a.incident_id, b.incident_id, d.incident_id}) == 3
    assert c.stats.malformed == 1


def test_suppressed_detection_is_attached_not_counted() -> None:
    _, _, _, py, sh = tree()
    c = Correlator()
    a = add(c, det(execve(py, ts=sec(0)), "r"))
    quiet = det(execve(sh, ts=sec(1)), "noisy")
    quiet.suppressed = Suppression(layer="static", entry="x=y", reason="normal")
    assert c.attach(quiet) == a.incident_id
    assert c.snapshot(a.incident_id).detection_count == 1
    lonely = det(execve(started(proc("/usr/bin/ls", pid=5, name="ls"), 1), ts=sec(2)), "n")
    assert c.attach(lonely) is None


def test_programs_started_in_the_tree_are_the_incident_activity() -> None:
    _, _, bash, py, sh = tree()
    c = Correlator(IncidentSettings(max_activity=3))
    a = add(c, det(execve(py, ts=sec(0)), "r", Priority.CRITICAL))
    assert c.tracks_processes
    assert c.observe(execve(sh, ts=sec(1))) == a.incident_id
    child = started(proc("/usr/bin/id", pid=450, name="id", parent=sh), sec(2))
    assert c.observe(execve(child, ts=sec(2))) == a.incident_id
    unrelated = started(proc("/usr/bin/ls", pid=460, name="ls", parent=bash), sec(2))
    assert c.observe(execve(unrelated, ts=sec(2))) is None
    for i in range(3):
        c.observe(execve(started(proc("/usr/bin/w", pid=470 + i, name="w", parent=child),
                                 sec(3 + i)), ts=sec(3 + i)))
    inc = c.snapshot(a.incident_id)
    assert [x.name for x in inc.activity] == ["sh", "id", "w"]
    assert inc.activity_not_listed == 2
    # the grandchild's own detection later joins the story
    grand = started(proc("/usr/bin/w", pid=471, name="w", parent=child), sec(4))
    assert add(c, det(open_file(grand, "/etc/shadow", ts=sec(10)), "shadow")).incident_id \
        == a.incident_id


def test_bounded_state_evicts_the_least_recently_active() -> None:
    c = Correlator(IncidentSettings(max_open=100))
    ids = []
    for i in range(250):
        p = started(proc("/usr/bin/x", pid=10_000 + i, name="x", parent=init()), sec(i))
        ids.append(add(c, det(execve(p, ts=sec(i)), "r", ip=f"198.51.{i // 250}.{i % 250}"))
                   .incident_id)
    assert len(c) == 100 and c.stats.evicted == 150
    assert c.open_ids()[0] == ids[150]
    c.close_all()
    # every index is empty again: nothing of a closed story stays behind
    assert not any((c._by_proc, c._by_pid, c._by_near, c._by_session, c._by_ip,
                    c._by_target))


def test_ids_are_stable_for_the_same_input() -> None:
    def run() -> list[str]:
        _, _, _, py, sh = tree()
        c = Correlator()
        return [add(c, det(execve(p, ts=sec(i)), "r")).incident_id
                for i, p in enumerate([py, started(proc("/usr/bin/q", pid=2, name="q"), 0)])]
    assert run() == run()


@pytest.mark.parametrize("tags, want", [
    (["mitre_persistence", "T1098"], (("persistence",), ("T1098",))),
    (["attack.credential_access", "attack.t1003.008"], (("credential_access",), ("T1003.008",))),
    (["network", "T1110", "attack.initial-access"], (("initial_access",), ("T1110",))),
])
def test_attack_tags(tags, want) -> None:
    assert attack_of(tuple(tags)) == want
