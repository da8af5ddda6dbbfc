"""Printing rule test results: a readable diff for people, one JSON document for scripts.

Text from events (outputs, command lines, file names) is escaped for the terminal.
"""

from __future__ import annotations

from typing import Any, Iterable

from vigil.ruletest.results import CaseResult, Failure, Fired, SpecResult
from vigil.terminal import safe_text

#: detections listed under one failure before "... and N more"
MAX_GOT = 5


def _fired_line(f: Fired) -> str:
    name = f.name if f.rule_id is None or f.kind != "sigma" else f"{f.name} [{f.rule_id}]"
    if f.kind == "detector" and f.rule_id:
        name = f.rule_id
    text = f"{name} ({f.priority}): {f.output}"
    if f.suppressed is not None:
        text += f"  [suppressed: {f.suppressed}]"
    if f.shadow is not None:
        text += f"  [shadow: {f.shadow}]"
    return safe_text(text)


def _failure_lines(f: Failure, origins: list[str]) -> list[str]:
    lines = [f"    - {safe_text(f.message)}"]
    if not f.got:
        if "did not fire" in f.message or "not detected" in f.message:
            lines.append("      got: nothing fired")
        return lines
    for g in f.got[:MAX_GOT]:
        on = ""
        if len(origins) > 1 and f.event is None:
            at = origins[g.event] if g.event < len(origins) else "?"
            on = f" on event {g.event + 1} ({safe_text(at)})"
        lines.append(f"      got{on}: {_fired_line(g)}")
    if len(f.got) > MAX_GOT:
        lines.append(f"      ... and {len(f.got) - MAX_GOT} more")
    return lines


def case_lines(spec_path: str, case: CaseResult) -> list[str]:
    """The diff of one failed test."""
    out = [f"FAIL {spec_path}:{case.line}: {safe_text(case.name)}"]
    groups: dict[int | None, list[Failure]] = {}
    for f in case.failures:
        groups.setdefault(f.event, []).append(f)
    for event in sorted(groups, key=lambda e: (e is None, e or 0)):
        fails = groups[event]
        first = fails[0]
        if event is None:
            out.append("  over the whole test:")
        else:
            out.append(f"  event {event + 1} at {safe_text(first.origin or '?')} "
                       f"({safe_text(first.summary or '')}):")
        for f in fails:
            out.extend(_failure_lines(f, case.origins))
    return out


def text_report(results: Iterable[SpecResult], verbose: bool = False) -> list[str]:
    """Every failure and spec error, then one summary line."""
    results = list(results)
    out: list[str] = []
    for r in results:
        for e in r.errors:
            out.append(f"ERROR {safe_text(e)}")
        for e in r.rule_errors:
            out.append(f"ERROR {r.path}: rules: {safe_text(e)}")
        for c in r.cases:
            if c.passed:
                if verbose:
                    out.append(f"ok   {r.path}:{c.line}: {safe_text(c.name)}")
                continue
            out.extend(case_lines(r.path, c))
    out.append(summary_line(results))
    return out


def summary(results: list[SpecResult]) -> dict[str, int]:
    """Counts over all specs."""
    cases = [c for r in results for c in r.cases]
    return {"specs": len(results),
            "specs_with_errors": sum(1 for r in results if r.errors or r.rule_errors),
            "tests": len(cases), "passed": sum(1 for c in cases if c.passed),
            "failed": sum(1 for c in cases if not c.passed)}


def summary_line(results: list[SpecResult]) -> str:
    """`3 spec file(s), 40 test(s): 39 passed, 1 failed`."""
    s = summary(results)
    text = (f"{s['specs']} spec file(s), {s['tests']} test(s): {s['passed']} passed, "
            f"{s['failed']} failed")
    if s["specs_with_errors"]:
        text += f"; {s['specs_with_errors']} spec file(s) with errors"
    return text


def json_report(results: list[SpecResult]) -> dict[str, Any]:
    """The whole run as one JSON document."""
    s = summary(results)
    return {"ok": all(r.ok for r in results) and bool(results), "summary": s,
            "specs": [r.to_dict() for r in results]}


def exit_code(results: list[SpecResult]) -> int:
    """2 for malformed specs (usage errors), 1 for failed tests or broken rules, else 0."""
    if not results or any(r.errors for r in results):
        return 2
    return 0 if all(r.ok for r in results) else 1
