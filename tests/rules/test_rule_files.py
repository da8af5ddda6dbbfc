"""The shared Falco rules files and Vigil's own default rules load, alone and together."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from needs import needs_shared, shared_path

from vigil.config import BUILTIN_RULES_FILE
from vigil.events.model import Event, FdInfo, Process
from vigil.rules.falco.engine import FalcoEngine
from vigil.rules.falco.loader import load_rules

FALCO = shared_path("rules", "falco")
FILES = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"]


def vigil(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vigil", *args], capture_output=True,
                          text=True, timeout=120)


@needs_shared("rules", "falco")
@pytest.mark.parametrize("name", FILES)
def test_validate_each_shared_file_exits_0(name):
    r = vigil("rules", "validate", str(FALCO / name))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ERROR" not in r.stdout
    assert " 0 error(s)" in r.stdout


@needs_shared("rules", "falco")
def test_all_three_files_load_together():
    rs = load_rules([FALCO / f for f in FILES])
    assert rs.ok, [str(e) for e in rs.errors]
    assert len(rs.rules) >= 70
    stable = load_rules([FALCO / "falco_rules.yaml"])
    engine = FalcoEngine(stable)
    # the 19 syscall event types the stable rules need: what the kernel filter lets through
    assert len(engine.event_types) == 19


def test_validate_reports_errors_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("- macro: m\n  condition: evt.type = open\n\n"
                   "- rule: r\n  desc: d\n  condition: m and proc.nme = x\n"
                   "  output: o\n  priority: INFO\n")
    r = vigil("rules", "validate", str(bad))
    assert r.returncode == 1
    assert f"{bad}:4: rule 'r'" in r.stdout and "proc.nme" in r.stdout


def test_validate_reports_yaml_syntax_errors(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("- rule: r\n  desc: [unclosed\n")
    r = vigil("rules", "validate", str(bad))
    assert r.returncode == 1 and "Invalid YAML" in r.stdout and str(bad) in r.stdout


@needs_shared("rules", "falco")
def test_rules_list_shows_priority_and_types():
    r = vigil("rules", "list", str(FALCO / "falco_rules.yaml"))
    assert r.returncode == 0
    line = next(l for l in r.stdout.splitlines() if l.startswith("Read sensitive file untrusted"))
    assert "Warning" in line and "open,openat,openat2" in line


@needs_shared("rules", "falco")
def test_default_rules_load_and_coexist_with_falco():
    rs = load_rules([BUILTIN_RULES_FILE])
    assert rs.ok and not rs.warnings, [str(w) for w in rs.warnings]
    both = load_rules([BUILTIN_RULES_FILE, FALCO / "falco_rules.yaml"])
    assert both.ok and len(both.rules) == len(rs.rules) + 25


def _proc(name: str, exepath: str, args: list[str], parent: Process | None = None,
          **kw) -> Process:
    return Process(pid=hash(name) % 30000 + 100, name=name, exe=name, exepath=exepath,
                   args=args, parent=parent, uid=0, user="root", **kw)


def test_default_rules_catch_shadow_read_and_memfd_exec():
    eng = FalcoEngine(load_rules([BUILTIN_RULES_FILE]), rule_matching="all")
    bash = _proc("bash", "/usr/bin/bash", [], _proc("sshd", "/usr/sbin/sshd", []))
    cat = _proc("cat", "/usr/bin/cat", ["/etc/shadow"], bash)
    read = Event(type="openat", res=3, args={"flags": 0, "name": "/etc/shadow"}, proc=cat,
                 fd=FdInfo(num=3, type="file", name="/etc/shadow"))
    assert [d.name for d in eng.on_event(read)] == ["Credential file read by unexpected program"]
    sshd_read = Event(type="openat", res=3, args={"flags": 0}, fd=read.fd,
                      proc=_proc("sshd", "/usr/sbin/sshd", []))
    assert eng.on_event(sshd_read) == []
    memfd = Event(type="execve", res=0, proc=_proc("x", "memfd:payload", [], bash,
                                                   exe_from_memfd=True))
    assert [d.name for d in eng.on_event(memfd)] == ["Fileless execution from memory"]
    plain = Event(type="execve", res=0, proc=_proc("ls", "/usr/bin/ls", [], bash))
    assert eng.on_event(plain) == []
