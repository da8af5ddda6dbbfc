"""Comparing what fired with what a spec expected.

A rule or detector *fires* when it produced a detection that suppression let through (the
one that would become an incident). A suppressed detection fires nothing, but a `fire:`
item with `suppressed: true` expects exactly that: detected, and silenced.
"""

from __future__ import annotations

from vigil.ruletest.results import Failure, Fired
from vigil.ruletest.spec import Expectation, FireExpectation


def _quote(name: str) -> str:
    return f"'{name}'"


def _fire_failures(fe: FireExpectation, fired: list[Fired], live: list[Fired]
                   ) -> list[tuple[str, list[Fired]]]:
    name = fe.rule.name
    mine = [f for f in fired if f.matches(name)]
    silenced = [f for f in mine if f.suppressed is not None]
    loud = [f for f in mine if f.suppressed is None]
    if fe.suppressed:
        if loud:
            return [(f"{_quote(name)} fired, expected it to be suppressed", loud)]
        candidates = silenced
        if not candidates:
            return [(f"{_quote(name)} was not detected (expected a suppressed detection)",
                     live)]
    else:
        candidates = loud
        if not candidates:
            if silenced:
                return [(f"{_quote(name)} was detected but suppressed, expected it to fire",
                         silenced)]
            return [(f"{_quote(name)} did not fire", live)]
    wrong: list[str] = []
    if fe.priority is not None:
        want = fe.priority.label
        if not any(c.priority == want for c in candidates):
            got = ", ".join(sorted({c.priority for c in candidates}))
            wrong.append(f"with priority {got}, expected {want}")
    if fe.output:
        if not any(all(s in c.output for s in fe.output) for c in candidates):
            missing = [s for s in fe.output if not any(s in c.output for c in candidates)]
            text = ", ".join(repr(s) for s in (missing or fe.output))
            wrong.append(f"with an output that does not contain {text}")
    if fe.shadow is not None and not any((c.shadow is not None) == fe.shadow
                                         for c in candidates):
        wrong.append("in shadow mode, expected it to alert" if fe.shadow is False
                     else "and alerts, expected it in shadow mode")
    if fe.count is not None and len(candidates) != fe.count:
        wrong.append(f"{len(candidates)} time(s), expected {fe.count}")
    if not wrong:
        return []
    return [(f"{_quote(name)} fired " + "; and ".join(wrong), candidates)]


def check(expect: Expectation, fired: list[Fired]) -> list[tuple[str, list[Fired], int]]:
    """The failures of one expectation over these detections: (message, the detections
    that show it, the spec line of the failed part)."""
    live = [f for f in fired if f.suppressed is None]
    out: list[tuple[str, list[Fired], int]] = []
    for fe in expect.fire:
        for msg, got in _fire_failures(fe, fired, live):
            out.append((msg, got, fe.rule.line))
    for ref in expect.not_fire:
        hits = [f for f in live if f.matches(ref.name)]
        if hits:
            out.append((f"{_quote(ref.name)} fired but must not", hits, ref.line))
    if expect.detect is False and live:
        out.append(("expected nothing to fire (detect: false)", live, expect.line))
    if expect.detect is True and not live:
        out.append(("expected a detection (detect: true), nothing fired", [], expect.line))
    if expect.exclusive:
        allowed = [fe.rule.name for fe in expect.fire]
        others = [f for f in live if not any(f.matches(n) for n in allowed)]
        if others:
            names = ", ".join(sorted({_quote(f.name) for f in others}))
            out.append((f"{names} fired, but only the rules under fire may (exclusive)",
                        others, expect.line))
    return out


def failures_of(expect: Expectation, fired: list[Fired], event: int | None = None,
                origin: str | None = None, summary: str | None = None) -> list[Failure]:
    """`check` as `Failure` records for one event (or the whole test: `event` None)."""
    return [Failure(message=msg, event=event, origin=origin, summary=summary,
                    got=tuple(got), line=line)
            for msg, got, line in check(expect, fired)]
