"""The mechanical judgement of one scenario against its header's expectation.

An attack is **detected** when an incident attributed to it has a title containing one
of its `expect` keywords, **named_in_detection** when only a detection name or rule id of
such an incident contains one (the title names something else), **wrong_name** when it
raised incidents none of which names the behaviour, **missed** when it raised none. A
benign scenario **passes** with no incident and **fails** with any. A scenario that
exited non-zero is an **error** (77 means "cannot run here": **skipped**), whatever the
agent said, because it may not have done what its header claims.

Keywords and texts are compared case-insensitively with `_`, `-`, `.` and runs of
spaces all read as one space, so `reverse shell` matches `reverse_shell` and
`Reverse-shell`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from emulate.attribution import Attributed
from emulate.incidents import priority_rank
from emulate.scenario import Scenario

SKIP_EXIT = 77
_SEPARATORS = re.compile(r"[\s_.\-]+")

DETECTED, NAMED_IN_DETECTION, WRONG_NAME, MISSED = (
    "detected", "named_in_detection", "wrong_name", "missed")
PASSED, FAILED = "passed", "failed"
ERROR, SKIPPED, TIMEOUT = "error", "skipped", "timeout"


def normalise(text: str) -> str:
    """Lower case, separators folded to single spaces."""
    return _SEPARATORS.sub(" ", text.lower()).strip()


def matching_keyword(keywords: tuple[str, ...], text: str) -> str | None:
    """The first keyword contained in `text`, or None."""
    norm = normalise(text)
    for k in keywords:
        if normalise(k) and normalise(k) in norm:
            return k
    return None


@dataclass
class RunResult:
    """How a scenario's script ended."""

    exit_code: int | None
    timed_out: bool = False
    duration_s: float = 0.0
    output_tail: str = ""
    #: leftovers found after it ended (processes, files, namespaces)
    dirty: list[str] = field(default_factory=list)
    #: events the agent lost (kernel ring or queue full) during the window; None: unknown
    agent_lost: int | None = None


@dataclass
class IncidentSummary:
    """One incident as the scorecard shows it."""

    id: str
    title: str
    priority: str
    how: str
    joined: bool
    detections: list[str]


@dataclass
class Verdict:
    """The judgement of one scenario."""

    scenario: str
    kind: str
    status: str
    matched: str | None = None
    incidents: list[IncidentSummary] = field(default_factory=list)
    priority: str = ""
    note: str = ""

    @property
    def ok(self) -> bool:
        """Detected (attack) or quiet (benign)."""
        return self.status in (DETECTED, PASSED)


def _summaries(attributed: list[Attributed]) -> list[IncidentSummary]:
    out = []
    for a in attributed:
        names = []
        for d in a.detections or list(a.incident.detections.values()):
            label = d.name if not d.rule_id or d.rule_id == d.name else f"{d.name} ({d.rule_id})"
            if label not in names:
                names.append(label)
        out.append(IncidentSummary(id=a.incident.id, title=" / ".join(a.titles),
                                   priority=a.incident.priority, how=a.how,
                                   joined=a.joined, detections=names))
    return out


def _join(a: str, b: str) -> str:
    return f"{b}; {a}" if a else b


def judge(scenario: Scenario, run: RunResult, attributed: list[Attributed]) -> Verdict:
    """Judge one scenario from how its script ended and the incidents attributed to it."""
    summaries = _summaries(attributed)
    top = max((s.priority for s in summaries), key=priority_rank, default="")
    v = Verdict(scenario=scenario.name, kind=scenario.kind, status="", incidents=summaries,
                priority=top)
    if run.agent_lost:
        v.note = (f"the agent lost {run.agent_lost} events (ring or queue full) during this "
                  f"scenario: the verdict may not be the agent's real answer")
    if run.timed_out:
        v.status, v.note = TIMEOUT, _join(v.note, f"killed after {scenario.timeout:g} s")
        return v
    if run.exit_code == SKIP_EXIT:
        v.status, v.note = SKIPPED, run.output_tail.strip().splitlines()[-1:][0] \
            if run.output_tail.strip() else "cannot run here"
        return v
    if run.exit_code != 0:
        v.status, v.note = ERROR, _join(v.note, f"exit code {run.exit_code}")
        return v
    if not scenario.is_attack:
        v.status = FAILED if summaries else PASSED
        return v
    if not summaries:
        v.status = MISSED
        return v
    for a in attributed:
        for title in a.titles:
            k = matching_keyword(scenario.expect, title)
            if k is not None:
                v.status, v.matched = DETECTED, k
                return v
    for a in attributed:
        for d in a.detections or list(a.incident.detections.values()):
            k = matching_keyword(scenario.expect, f"{d.name} {d.rule_id or ''}")
            if k is not None:
                v.status, v.matched = NAMED_IN_DETECTION, k
                return v
    v.status = WRONG_NAME
    return v
