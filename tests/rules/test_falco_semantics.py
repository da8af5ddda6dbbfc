"""Behaviour of compiled conditions, pinned against what Falco does."""

from __future__ import annotations

import pytest

from vigil.events.model import Event, FdInfo, Process
from vigil.priority import Priority
from vigil.rules.compiler import CompileError, PathPrefixes, compile_condition
from vigil.rules.evttypes import possible_types
from vigil.rules.falco.engine import FalcoEngine, detection_to_falco_json
from vigil.rules.falco.loader import load_rules
from vigil.rules.falco.parser import parse_condition


def run(cond: str, event: Event) -> bool:
    return compile_condition(parse_condition(cond)).predicate(event)


@pytest.fixture
def shell_event() -> Event:
    init = Process(pid=1, name="systemd", exepath="/usr/lib/systemd/systemd")
    sshd = Process(pid=100, name="sshd", exepath="/usr/sbin/sshd", parent=init)
    bash = Process(pid=200, name="bash", exe="-bash", exepath="/usr/bin/bash", args=[],
                   parent=sshd, uid=0, user="root", tty=34816)
    cat = Process(pid=300, name="cat", exe="cat", exepath="/usr/bin/cat",
                  args=["-n", "/etc/shadow"], parent=bash, uid=0, user="root", cwd="/root/")
    return Event(type="openat", ts=1_700_000_000_123_456_789, res=3,
                 args={"flags": 0o2000000, "name": "/etc/shadow"}, proc=cat,
                 fd=FdInfo(num=3, type="file", name="/etc/shadow"))


def test_missing_value_makes_every_comparison_false(shell_event):
    # container.privileged has no value on the host: = and != are both false (Falco)
    assert not run("container.privileged = true", shell_event)
    assert not run("container.privileged != true", shell_event)
    assert not run("proc.env contains X", Event(type="open"))
    assert not run("fd.name != /etc/passwd", Event(type="open"))
    assert run("not fd.name = /etc/passwd", Event(type="open"))
    assert not run("fd.name exists", Event(type="open"))


def test_string_operators(shell_event):
    e = shell_event
    assert run("fd.name = /etc/shadow and fd.name == /etc/shadow", e)
    assert run("proc.cmdline contains shadow and proc.cmdline icontains SHADOW", e)
    assert run("fd.name startswith /etc and fd.name endswith dow", e)
    assert run("fd.name glob '/etc/*ad*' and fd.name iglob '/ETC/SH?DOW'", e)
    assert run("fd.name regex '/etc/s.*w'", e)
    assert not run("fd.name regex 'etc'", e)  # regex is a full match, as RE2::FullMatch
    assert run("fd.name in (/etc/passwd, /etc/shadow)", e)
    assert run("fd.directory = /etc and fd.filename = shadow", e)
    assert run("evt.arg.flags contains O_CLOEXEC and evt.is_open_read = true", e)
    assert not run("evt.is_open_write = true", e)


def test_pmatch_uses_path_prefixes(shell_event):
    assert run("fd.name pmatch (/usr, /etc)", shell_event)
    assert not run("fd.name pmatch (/et, /usr/bin)", shell_event)
    p = PathPrefixes(["/var/lib/", "/opt"])
    assert p("/var/lib/x/y") and p("/opt") and not p("/optx") and not p("/var")


def test_numbers_and_booleans(shell_event):
    assert run("fd.num >= 0 and fd.num < 4 and proc.pid = 300 and proc.tty != 0",
               Event(type="openat", fd=FdInfo(num=3), proc=Process(pid=300, tty=1)))
    assert run("evt.rawres in (0, 1, 3)", shell_event)
    with pytest.raises(CompileError):
        compile_condition(parse_condition("proc.pid contains 3"))


def test_ancestor_fields(shell_event):
    e = shell_event
    assert run("proc.aname[1] = bash and proc.aname[2] = sshd and proc.aname[3] = systemd", e)
    assert run("proc.aname = sshd and proc.aname in (foo, systemd)", e)  # any ancestor
    assert not run("proc.aname = cat", e)  # without an index: ancestors, not itself
    assert run("proc.aname[0] = cat and proc.pname = bash and proc.apid[2] = 100", e)
    assert run("proc.pcmdline = bash and proc.pexepath = /usr/bin/bash", e)
    assert not run("proc.aname[9] exists", e)


def test_quantifiers(shell_event):
    e = shell_event
    assert run("fd.name startswith anyof (/usr, /etc)", e)
    assert run("fd.name contains allof (etc, shadow)", e)
    assert not run("fd.name contains allof (etc, passwd)", e)
    assert run("fd.name contains oneof (etc, passwd)", e)
    assert not run("fd.name contains oneof (etc, shadow)", e)


def test_transformers_join_getopt(shell_event):
    e = shell_event
    assert run("toupper(proc.name) = CAT and tolower(toupper(proc.name)) = cat", e)
    assert run("basename(proc.exepath) = cat and len(proc.name) = 3", e)
    assert run('join("-", (proc.name, proc.pid)) = cat-300', e)
    assert run('proc.name = val(fd.filename)', Event(type="openat", proc=Process(name="x"),
                                                     fd=FdInfo(type="file", name="/a/x")))
    assert run('getopt(proc.args, "nt:")[n] exists', e)
    b64 = Event(type="execve", proc=Process(name="sh", args=["aWQ="]))
    assert run("b64(proc.args) = id", b64)


def test_ip_and_networks():
    e = Event(type="connect", res=0, fd=FdInfo(type="ipv4", lip="10.1.2.3", lport=40000,
                                                 rip="93.184.216.34", rport=443, role="client",
                                                 l4proto="tcp"))
    assert run("fd.sip = 93.184.216.34 and fd.sport = 443 and fd.cip = 10.1.2.3", e)
    assert run("fd.snet != 10.0.0.0/8 and fd.cnet = 10.0.0.0/8", e)
    assert run('fd.snet in ("192.168.0.0/16", "93.184.0.0/16")', e)
    # a multi-valued field (either endpoint): != holds only when no endpoint is equal
    assert not run("fd.net != 10.0.0.0/8", e)
    assert run("fd.ip = 10.1.2.3 and fd.ip != 1.1.1.1", e)
    assert run("fd.ip = 10.1.2.3", e) and not run("fd.ip != 10.1.2.3", e)


def test_event_types_are_computed_like_falco():
    def types(c: str):
        t = possible_types(parse_condition(c))
        return (t.negated, set(t.types))
    assert types("evt.type = open and proc.name = x") == (False, {"open"})
    assert types("evt.type in (open, openat) or evt.type = execve") == (False, {"open", "openat", "execve"})
    assert types("evt.type = open and evt.type = close") == (False, set())
    assert types("not evt.type = open") == (True, {"open"})
    assert types("not (evt.type = open and proc.name = x)") == (True, set())
    assert types("proc.name = x") == (True, set())
    assert types("evt.num = 0") == (False, set())


RULES = """
- rule: first
  desc: d
  condition: evt.type = openat and fd.name startswith /etc
  output: "first %fd.name by %proc.name[%proc.pid] %proc.aname[2] %container.info"
  priority: WARNING
  tags: [a, b]
- rule: second
  desc: d
  condition: evt.type in (openat, execve) and proc.name = cat
  output: second %proc.cmdline %user.loginuid
  priority: NOTICE
- rule: untyped
  desc: d
  condition: proc.name = cat and not evt.type = execve
  output: untyped
  priority: DEBUG
  warn_evttypes: false
"""


def test_engine_first_match_and_all_matches(shell_event):
    rs = load_rules(texts=[("r.yaml", RULES)])
    assert rs.ok, rs.errors
    first = FalcoEngine(rs, rule_matching="first", hostname="h")
    dets = first.on_event(shell_event)
    assert [d.name for d in dets] == ["first"]
    d = dets[0]
    assert d.output == "first /etc/shadow by cat[300] sshd"
    assert d.priority is Priority.WARNING and d.entity.path == "/etc/shadow"
    every = FalcoEngine(rs, rule_matching="all")
    assert [r.name for r in every.match(shell_event)] == ["first", "second", "untyped"]
    exec_evt = Event(type="execve", proc=shell_event.proc)
    assert [r.name for r in every.match(exec_evt)] == ["second"]
    assert every.event_types is None  # the untyped rule needs every type
    assert second_output(every, shell_event) == "second cat -n /etc/shadow <NA>"


def test_prepared_buckets_match_like_lazily_compiled_ones(shell_event):
    """`prepare` (the live agent compiles before events arrive) changes when the work is
    done, not what matches; a prepared type is not compiled twice."""
    rs = load_rules(texts=[("r.yaml", RULES)])
    lazy = FalcoEngine(rs, rule_matching="all")
    ready = FalcoEngine(rs, rule_matching="all")
    assert ready.prepare({"openat", "execve", "connect"}) == 3
    assert ready.prepare({"openat", "execve"}) == 0
    exec_evt = Event(type="execve", proc=shell_event.proc)
    for ev in (shell_event, exec_evt, Event(type="connect", proc=shell_event.proc)):
        assert [r.name for r in ready.match(ev)] == [r.name for r in lazy.match(ev)]
    assert [r.name for r in ready.match(shell_event)] == ["first", "second", "untyped"]


def second_output(engine, event):
    return [d.output for d in engine.on_event(event) if d.name == "second"][0]


def test_min_priority_and_disabled(shell_event):
    rs = load_rules(texts=[("r.yaml", RULES)], min_priority=Priority.NOTICE,
                    disabled=["first"])
    assert [r.name for r in rs.enabled_rules] == ["second"]


def test_falco_json_output(shell_event):
    rs = load_rules(texts=[("r.yaml", RULES)])
    det = FalcoEngine(rs, hostname="web1").on_event(shell_event)[0]
    doc = detection_to_falco_json(det)
    assert doc["rule"] == "first" and doc["priority"] == "Warning"
    assert doc["source"] == "syscall" and doc["tags"] == ["a", "b"] and doc["hostname"] == "web1"
    assert doc["time"] == "2023-11-14T22:13:20.123456789Z"
    assert doc["output"].startswith("22:13:20.123456789: Warning first /etc/shadow")
    assert doc["output_fields"]["fd.name"] == "/etc/shadow"
    assert doc["output_fields"]["proc.aname[2]"] == "sshd"


def test_malformed_event_values_do_not_crash_the_engine():
    rs = load_rules(texts=[("r.yaml", RULES)])
    eng = FalcoEngine(rs, rule_matching="all")
    bad = Event(type="openat", fd=FdInfo(type="file", name=42))  # type: ignore[arg-type]
    assert eng.on_event(bad) == []
    assert eng.errors >= 1


def test_domain_name_fields_compare_resolved_addresses():
    from vigil.rules.names import NameTable
    conn = Event(type="connect", res=0, fd=FdInfo(type="ipv4", lip="10.0.0.2", lport=5000,
                                                    rip="10.96.0.1", rport=443, role="client"))
    table = NameTable({"kubernetes.default.svc.cluster.local": ["10.96.0.1"]})

    def check(cond: str, names=table) -> bool:
        return compile_condition(parse_condition(cond), names=names).predicate(conn)
    assert check('fd.sip.name = "kubernetes.default.svc.cluster.local"')
    assert check("fd.sip.name in (example.org, kubernetes.default.svc.cluster.local)")
    assert not check("fd.sip.name = example.org")
    assert check("fd.sip.name != example.org")
    assert not check('fd.cip.name = "kubernetes.default.svc.cluster.local"')
    # without a table entry (nothing resolved yet) a name matches nothing
    assert not check('fd.sip.name = "kubernetes.default.svc.cluster.local"', NameTable())


def test_name_table_resolves_in_the_background():
    import time

    from vigil.rules.names import NameTable
    table = NameTable(resolve=True)
    compile_condition(parse_condition("fd.sip.name = localhost"), names=table)
    table.start()
    try:
        deadline = time.monotonic() + 10
        while not table.addresses("localhost") and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        table.stop()
    assert "127.0.0.1" in table.addresses("localhost")
