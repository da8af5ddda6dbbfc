"""Vigil's own default rules on events (issue 12's root causes pinned by regression tests)."""

from __future__ import annotations

import pytest

from vigil.config import BUILTIN_RULES_FILE
from vigil.events.model import Event, Process
from vigil.rules.falco.engine import FalcoEngine
from vigil.rules.falco.loader import load_rules


@pytest.fixture(scope="module")
def engine() -> FalcoEngine:
    rs = load_rules([BUILTIN_RULES_FILE])
    assert rs.ok, rs.errors
    return FalcoEngine(rs, rule_matching="all")


def fired(engine: FalcoEngine, ev: Event) -> set[str]:
    return {d.name for d in engine.on_event(ev)}


GIT = Process(pid=700, name="git", exepath="/usr/bin/git", args=["init", "-q"], uid=0,
              user="root")


@pytest.mark.parametrize("etype, mode, setid", [
    # what git and chpasswd really pass: st_mode with the file type bits (S_IFREG 0100000)
    ("chmod", 0o100644, False), ("fchmodat", 0o100744, False), ("fchmod", 0o100444, False),
    ("fchmod", 0o100640, False), ("chmod", 0o1777, False),  # sticky only
    ("chmod", 0o755, False),
    ("chmod", 0o4755, True), ("fchmodat", 0o2755, True), ("fchmod", 0o6711, True),
    ("chmod", 0o104755, True), ("chmod", 0o3777, True),
])
def test_setuid_rule_reads_the_permission_bits_only(engine, etype, mode, setid) -> None:
    args = {"mode": mode, "filename": "/tmp/f"} if etype != "fchmod" else {"mode": mode}
    ev = Event(type=etype, res=0, proc=GIT, args=args)
    assert ("Set-uid bit set on a file" in fired(engine, ev)) is setid
