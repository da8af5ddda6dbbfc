"""Rule-derived kernel filters: the necessary path conditions of rules on read-only opens."""

from __future__ import annotations

import pytest

from vigil.agent import build_pipeline
from vigil.config import load_config
from vigil.detectors.registry import build_detectors
from vigil.events.model import Event, Process
from vigil.rules.falco.parser import parse_condition
from vigil.rules.kernel_filters import (WRITES, PathNeed, path_need, pattern_need, plan_reads,
                                        plan_writes, quiet_bits, read_need)
from vigil.sensors.ebpf.lanes import ReadFilter
from needs import shared_path

STABLE = shared_path("rules", "falco", "falco_rules.yaml")


def need(text: str) -> PathNeed:
    return read_need(parse_condition(text))


def test_exact_paths_prefixes_and_directories():
    n = need("evt.type = openat and fd.name in (/etc/shadow, /etc/gshadow)")
    assert n.exact == {"/etc/shadow", "/etc/gshadow"} and not n.prefixes
    assert need("fd.name startswith /etc/ssh/").prefixes == {"/etc/ssh/"}
    n = need("fd.name pmatch (/root/.ssh)")
    assert n.exact == {"/root/.ssh"} and n.prefixes == {"/root/.ssh/"}
    assert need("fd.directory in (/etc/pam.d, /etc/cron.d)").prefixes == {"/etc/pam.d/",
                                                                          "/etc/cron.d/"}
    # an or is the union, an and the narrowest side
    n = need("(fd.name = /a or fd.name startswith /b/) and proc.name = cat")
    assert n.exact == {"/a"} and n.prefixes == {"/b/"}
    n = need("fd.name startswith /etc/ and fd.name in (/etc/shadow)")
    assert n.exact == {"/etc/shadow"} and not n.prefixes


def test_what_cannot_be_reduced_needs_every_read_and_says_why():
    n = need("evt.type = openat and fd.name contains id_rsa")
    assert n.everything and "contains" in n.why
    assert need("not fd.name startswith /tmp/").everything
    assert need("fd.name = /a or proc.name = cat").everything
    assert need("tolower(fd.name) = /etc/shadow").everything
    assert need("fd.filename = a/b").everything
    assert need("proc.name = cat").everything


def test_file_names_are_endings_and_hidden_ones_need_nothing_more():
    n = need("fd.filename in (id_rsa, id_ed25519, .bash_history)")
    assert n.suffixes == {"/id_rsa", "/id_ed25519"} and not n.exact and not n.prefixes
    assert need("fd.filename = .zsh_history").nothing


def test_writes_and_other_event_types_need_no_read():
    assert need("evt.is_open_write = true and fd.name startswith /").nothing
    assert need("evt.type = connect and fd.name contains x").nothing
    assert need("evt.type in (open, openat) and evt.is_open_read = false").nothing
    # the negation of a test every read passes
    assert need("not evt.is_open_read = true").nothing


def test_traversal_tests_and_hidden_directories_need_nothing_more():
    # the kernel always sends paths with "..", "/." or "//": a test only they pass costs
    # nothing, so Falco's traversal rule does not turn the filter off
    assert need("fd.nameraw contains ../ and fd.nameraw glob '*../*../*'").nothing
    assert pattern_need("*/.ssh/id_*").nothing
    assert pattern_need("/etc/ssh/ssh_host_*_key").prefixes == {"/etc/ssh/ssh_host_"}
    assert pattern_need("*.key").suffixes == {".key"}
    assert pattern_need("/etc/pam.d/").prefixes == {"/etc/pam.d/"}
    assert pattern_need("/etc/krb5.keytab").exact == {"/etc/krb5.keytab"}
    assert pattern_need("*/logs/*.txt").everything


def test_the_default_configuration_and_falco_stable_rules_are_filtered():
    built = build_pipeline(config=load_config(None), audit=False, alerts=False,
                           detectors=True)
    plan = plan_reads(built.falco, built.sigma, built.detectors)
    rf = plan.kernel_paths()
    # a detector reading opens must say which reads it needs (kernel_read_paths), or the
    # filter is off for everyone
    assert rf is not None and not plan.blockers(), plan.explain()[-1]
    assert "/etc/shadow" in rf.exact and ".key" in rf.suffixes
    assert any(p.startswith("/etc/sudoers") for p in rf.prefixes)
    assert "on —" in plan.explain()[-1]
    stable = build_pipeline(config=load_config(None), rule_paths=[str(STABLE)], audit=False,
                            alerts=False, detectors=True)
    splan = plan_reads(stable.falco, stable.sigma, stable.detectors)
    assert splan.kernel_paths() is not None
    assert any("Read sensitive file untrusted" in line for line in splan.explain())


def test_a_detector_without_a_declaration_needs_every_read():
    class Reader:
        name = "reader"
        event_types = frozenset({"openat"})

    plan = plan_reads(None, None, [Reader(), *build_detectors({}, None, None)])
    assert [c.name for c in plan.blockers()] == ["reader"]
    assert plan.kernel_paths() is None
    assert "does not say which reads it needs" in plan.explain()[0]
    assert "off — detector 'reader' needs every read-only open" in plan.explain()[-1]


@pytest.mark.parametrize("name, flags, kept", [
    ("/etc/shadow", 0, True), ("/var/cache/x", 0, False), ("/var/cache/x", 1, True),
    ("relative", 0, True), ("/etc/sudoers.d/x", 0, True), ("/tmp/" + "y" * 200, 0, True),
    ("/srv/tls/server.key", 0, True), ("/tmp/a/../b", 0, True)])
def test_keeps_mirrors_the_kernel_decision(name, flags, kept):
    built = build_pipeline(config=load_config(None), audit=False, alerts=False,
                           detectors=True)
    plan = plan_reads(built.falco, built.sigma, built.detectors)
    ev = Event(type="openat", args={"name": name, "flags": flags}, proc=Process(pid=1))
    assert plan.keeps(ev) is kept


# ------------------------------------------------------------------ toolchain writes

def write_need(text: str) -> PathNeed:
    return path_need(parse_condition(text), True, WRITES)


def test_path_endings_are_file_name_endings_for_reads_and_writes():
    assert need("fd.name endswith release_agent").suffixes == {"release_agent"}
    assert write_need("proc.name = x or fd.name endswith .pem").everything
    assert write_need("evt.type = openat and fd.name endswith .pem").suffixes == {".pem"}
    assert need("fd.name endswith " + "x" * 40).everything


def test_write_needs_follow_the_write_event_types():
    # a rule on unlinks names a path: toolchain unlinks there must cross
    assert write_need("evt.type = unlinkat and evt.arg.name startswith /etc/").prefixes \
        == {"/etc/"}
    # a rule on connects needs no toolchain write
    assert write_need("evt.type = connect and fd.name contains x").nothing
    # no flag test is certain for writes and unlinks together
    assert write_need("evt.is_open_write = true and fd.name startswith /var/log/").prefixes \
        == {"/var/log/"}
    assert write_need("evt.is_open_write = true").everything


def test_falco_stable_and_the_default_detectors_leave_toolchain_writes_in_the_kernel():
    for paths in ([str(STABLE)], None):
        built = build_pipeline(config=load_config(None), rule_paths=paths, audit=False,
                               alerts=False, detectors=True)
        plan = plan_writes(built.falco, built.sigma, built.detectors)
        wf = plan.kernel_paths()
        assert wf is not None and not plan.blockers(), plan.explain()[-1]
        # the files sensitive_write and service_tamper watch cross whoever writes them
        assert "/etc/ld.so.preload" in wf.exact and "/etc/cron.d/" in wf.prefixes
        assert "/var/log/" in wf.prefixes and "/mem" in wf.suffixes
        assert "toolchain writes: on" in plan.explain()[-1]
    stable_plan = plan_writes(built.falco, built.sigma, built.detectors)
    assert stable_plan.kind is WRITES


def test_a_detector_judging_writes_without_a_declaration_needs_every_toolchain_write():
    class Writer:
        name = "writer"
        event_types = frozenset({"unlink"})

    plan = plan_writes(None, None, [Writer(), *build_detectors({}, None, None)])
    assert plan.kernel_paths() is None
    assert "does not say which toolchain writes it needs" in plan.explain()[0]


GCC = "/usr/bin/x86_64-linux-gnu-gcc-12"


@pytest.mark.parametrize("etype, path, flags, exe, kept", [
    ("openat", "/tmp/ccAb.s", 0o1101, GCC, False),          # the compiler's temporary file
    ("unlink", "/tmp/ccAb.s", None, GCC, False),
    ("openat", "/tmp/ccAb.s", 0o1101, "/usr/bin/python3", True),   # not a toolchain program
    ("openat", "/tmp/ccAb.s", 0o1101, "/tmp/gcc", True),            # a copy elsewhere
    ("openat", "/etc/cron.d/job", 0o1101, GCC, True),       # a watched path
    ("openat", "/home/u/.bashrc", 0o1101, GCC, True),       # hidden: always sent
    ("openat", "/tmp/ccAb.s", 0, GCC, True),                # a read: the read filter's
    ("creat", "/srv/a.o", None, GCC, False)])
def test_write_keeps_mirrors_the_kernel_decision(etype, path, flags, exe, kept):
    built = build_pipeline(config=load_config(None), audit=False, alerts=False,
                           detectors=True)
    plan = plan_writes(built.falco, built.sigma, built.detectors)
    args = {"name" if etype != "unlink" else "path": path}
    if flags is not None:
        args["flags"] = flags
    ev = Event(type=etype, args=args, proc=Process(pid=1, exepath=exe))
    assert plan.keeps(ev) is kept


def test_a_working_directory_is_quiet_when_no_wanted_path_can_lie_under_it():
    reads = ReadFilter(("/etc/shadow",), ("/root/.ssh/", "/srv/app/keys"), (".key",))
    writes = ReadFilter((), ("/etc/cron.d/",), ())
    assert quiet_bits("/home/u/src", reads, writes) == (3, 128 - len("/home/u/src") - 1)
    # a wanted path under it, or it under a wanted prefix: not quiet for that filter
    assert quiet_bits("/etc", reads, writes)[0] == 0
    assert quiet_bits("/root/.ssh", reads, None) == (0, 0)      # hidden: always sent
    assert quiet_bits("/srv/app", reads, writes)[0] == 2         # /srv/app/keys... below
    assert quiet_bits("/srv/app/keysafe", reads, writes)[0] == 2  # a string prefix
    assert quiet_bits("/etc/cron.d/x", None, writes)[0] == 0
    assert quiet_bits("/" + "d" * 130, reads, writes) == (0, 0)  # too long for a name
    assert quiet_bits("relative", reads, writes) == (0, 0)
