"""Rule-derived kernel filters: the necessary path conditions of rules on read-only opens."""

from __future__ import annotations

import pytest

from vigil.agent import build_pipeline
from vigil.config import load_config
from vigil.detectors.registry import build_detectors
from vigil.events.model import Event, Process
from vigil.rules.falco.parser import parse_condition
from vigil.rules.kernel_filters import PathNeed, pattern_need, plan_reads, read_need
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
