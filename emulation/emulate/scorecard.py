"""The scorecard: every verdict, the totals, the acceptance test, as JSON and as text."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from emulate.judge import (DETECTED, ERROR, FAILED, MISSED, NAMED_IN_DETECTION, PASSED,
                           SKIPPED, TIMEOUT, WRONG_NAME, RunResult, Verdict)
from emulate.scenario import Scenario

#: the issue's acceptance: share of attacks detected, benign scenarios with incidents
REQUIRED_DETECTION_PCT = 97.0
ALLOWED_BENIGN_FAILURES = 0


@dataclass
class ScenarioRecord:
    """One scenario: its header, how it ran, its verdict."""

    scenario: Scenario
    run: RunResult
    verdict: Verdict

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        sc = self.scenario
        return {
            "name": sc.name, "kind": sc.kind,
            "path": f"emulation/{sc.path.parent.name}/{sc.path.name}",
            "techniques": [{"id": t.id, "name": t.name} for t in sc.techniques],
            "tactics": list(sc.tactics), "what": sc.what, "report": sc.report,
            "expect": list(sc.expect),
            "run": {"exit_code": self.run.exit_code, "timed_out": self.run.timed_out,
                    "duration_s": round(self.run.duration_s, 2), "dirty": self.run.dirty,
                    "agent_lost_events": self.run.agent_lost},
            "verdict": {"status": self.verdict.status, "matched": self.verdict.matched,
                        "priority": self.verdict.priority, "note": self.verdict.note,
                        "incidents": [asdict(i) for i in self.verdict.incidents]},
        }


@dataclass
class Totals:
    """Counts and percentages over the verdicts."""

    attacks: int = 0
    attacks_ran: int = 0
    detected: int = 0
    named_in_detection: int = 0
    wrong_name: int = 0
    missed: int = 0
    benign: int = 0
    benign_ran: int = 0
    benign_passed: int = 0
    benign_failed: int = 0
    errors: int = 0
    timeouts: int = 0
    skipped: int = 0
    dirty: int = 0
    #: scenarios during which the agent lost events (their verdicts may be wrong)
    lossy: int = 0

    @property
    def detection_pct(self) -> float:
        """Detected attacks as a share of the attacks that ran (0 when none ran)."""
        return 100.0 * self.detected / self.attacks_ran if self.attacks_ran else 0.0

    @property
    def named_anywhere_pct(self) -> float:
        """Attacks named by a title or at least by one detection."""
        hits = self.detected + self.named_in_detection
        return 100.0 * hits / self.attacks_ran if self.attacks_ran else 0.0

    @property
    def benign_quiet_pct(self) -> float:
        """Benign scenarios without an incident, as a share of those that ran."""
        return 100.0 * self.benign_passed / self.benign_ran if self.benign_ran else 0.0

    @property
    def accepted(self) -> bool:
        """The issue's acceptance: ≥97 % detected, 0 benign incidents, every scenario ran."""
        return (self.attacks_ran > 0 and self.detection_pct >= REQUIRED_DETECTION_PCT
                and self.benign_failed <= ALLOWED_BENIGN_FAILURES
                and self.errors == 0 and self.timeouts == 0)


def totals(records: list[ScenarioRecord]) -> Totals:
    """Count the verdicts."""
    t = Totals()
    for r in records:
        status = r.verdict.status
        if r.run.dirty:
            t.dirty += 1
        if r.run.agent_lost:
            t.lossy += 1
        if status == ERROR:
            t.errors += 1
        elif status == TIMEOUT:
            t.timeouts += 1
        elif status == SKIPPED:
            t.skipped += 1
        if r.scenario.is_attack:
            t.attacks += 1
            if status in (DETECTED, NAMED_IN_DETECTION, WRONG_NAME, MISSED):
                t.attacks_ran += 1
            t.detected += status == DETECTED
            t.named_in_detection += status == NAMED_IN_DETECTION
            t.wrong_name += status == WRONG_NAME
            t.missed += status == MISSED
        else:
            t.benign += 1
            if status in (PASSED, FAILED):
                t.benign_ran += 1
            t.benign_passed += status == PASSED
            t.benign_failed += status == FAILED
    return t


@dataclass
class Scorecard:
    """A whole run."""

    records: list[ScenarioRecord]
    generated: str
    machine: dict[str, Any] = field(default_factory=dict)
    agent: dict[str, Any] = field(default_factory=dict)
    unattributed: list[dict[str, Any]] = field(default_factory=list)
    partial: bool = False

    @property
    def totals(self) -> Totals:
        """Counts over the records."""
        return totals(self.records)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (schema 1)."""
        t = self.totals
        return {
            "schema": 1, "generated": self.generated, "machine": self.machine,
            "agent": self.agent, "partial": self.partial,
            "totals": {**asdict(t), "detection_pct": round(t.detection_pct, 1),
                       "named_anywhere_pct": round(t.named_anywhere_pct, 1),
                       "benign_quiet_pct": round(t.benign_quiet_pct, 1),
                       "accepted": t.accepted},
            "scenarios": [r.to_dict() for r in self.records],
            "unattributed": self.unattributed,
        }

    def to_json(self) -> str:
        """Indented JSON text."""
        return json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n"


def grouped_titles(verdict: Verdict) -> list[str]:
    """The incidents of a verdict as `title ×N (priority)`, most frequent first; `joined`
    marks incidents opened earlier that this scenario's detections joined."""
    counts: dict[tuple[str, str, bool], int] = {}
    for i in verdict.incidents:
        key = (i.title, i.priority, i.joined)
        counts[key] = counts.get(key, 0) + 1
    out = []
    for (title, prio, joined), n in sorted(counts.items(), key=lambda kv: -kv[1]):
        text = title + (f" ×{n}" if n > 1 else "") + (f" ({prio})" if prio else "")
        out.append(text + (" [joined]" if joined else ""))
    return out


def render_text(card: Scorecard) -> str:
    """The scorecard for a terminal."""
    t = card.totals
    lines = [f"Vigil emulation scorecard — {card.generated}", ""]
    width = max((len(r.scenario.name) for r in card.records), default=10)
    for r in card.records:
        v = r.verdict
        titles = "; ".join(grouped_titles(v))
        extra = f" — {v.note}" if v.note else ""
        dirty = f" — LEFT BEHIND: {'; '.join(r.run.dirty)}" if r.run.dirty else ""
        lines.append(f"  {r.scenario.kind:6} {r.scenario.name:<{width}}  {v.status:<18} "
                     f"{titles}{extra}{dirty}")
    lines += ["", f"attacks: {t.detected}/{t.attacks_ran} detected ({t.detection_pct:.1f} %, "
                  f"required {REQUIRED_DETECTION_PCT:g} %); named only in a detection "
                  f"{t.named_in_detection}, wrong name {t.wrong_name}, missed {t.missed}",
              f"benign: {t.benign_failed}/{t.benign_ran} raised incidents (required 0)",
              f"errors {t.errors}, timeouts {t.timeouts}, skipped {t.skipped}, "
              f"left something behind {t.dirty}; agent lost events during {t.lossy}; "
              f"unattributed incidents {len(card.unattributed)}",
              f"acceptance: {'MET' if t.accepted else 'NOT MET'}"]
    return "\n".join(lines) + "\n"
