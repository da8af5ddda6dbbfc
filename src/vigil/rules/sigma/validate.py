"""The Sigma part of `vigil rules validate` (and `vigil rules list`).

Every rule file and every rule ends up in the report with a status: `compiled` (with the
approximations made, if any), `unsupported` (with the reason) or `error` (the file or
document could not be parsed). Nothing is silently dropped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterable

from vigil.rules.sigma.ruleset import SigmaLoadResult, load_sigma_paths

COMPILED, UNSUPPORTED, ERROR = "compiled", "unsupported", "error"


@dataclass(frozen=True)
class SigmaRuleStatus:
    """One rule (or unparsable document) and what became of it."""

    status: str
    rule_id: str | None
    title: str
    path: str
    reason: str = ""
    notes: tuple[str, ...] = ()
    level: str | None = None
    logsource: str | None = None

    def line(self) -> str:
        """One human-readable line: `compiled  <id>  <title>  (<path>)` plus reason/notes."""
        head = f"{self.status:<11} {self.rule_id or '-'}  {self.title}  ({self.path})"
        if self.reason:
            head += f"\n            reason: {self.reason}"
        for n in self.notes:
            head += f"\n            note: {n}"
        return head


@dataclass
class SigmaValidationReport:
    """Per-rule statuses of a Sigma load, in load order (compiled, unsupported, errors)."""

    entries: list[SigmaRuleStatus] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every rule compiled."""
        return all(e.status == COMPILED for e in self.entries)

    def counts(self) -> dict[str, int]:
        """Number of entries per status."""
        out = {COMPILED: 0, UNSUPPORTED: 0, ERROR: 0}
        for e in self.entries:
            out[e.status] += 1
        return out

    def problems(self) -> list[SigmaRuleStatus]:
        """The unsupported rules and the errors."""
        return [e for e in self.entries if e.status != COMPILED]

    def lines(self, verbose: bool = False) -> list[str]:
        """Text lines: a summary, then the problems (and every rule when `verbose`)."""
        c = self.counts()
        out = [f"sigma: {c[COMPILED]} compiled, {c[UNSUPPORTED]} unsupported, "
               f"{c[ERROR]} errors"]
        out += [e.line() for e in (self.entries if verbose else self.problems())]
        return out

    def to_dicts(self) -> list[dict[str, Any]]:
        """The entries as plain data (for `--json` output)."""
        return [{"status": e.status, "id": e.rule_id, "title": e.title, "path": e.path,
                 "reason": e.reason, "notes": list(e.notes), "level": e.level,
                 "logsource": e.logsource} for e in self.entries]


def validate_sigma(result: SigmaLoadResult) -> SigmaValidationReport:
    """The report for an existing load result."""
    rep = SigmaValidationReport()
    for r in result.rules:
        rep.entries.append(SigmaRuleStatus(COMPILED, r.rule_id, r.title, r.path,
                                           notes=r.notes, level=r.level,
                                           logsource=r.route.table))
    for u in result.unsupported:
        rep.entries.append(SigmaRuleStatus(UNSUPPORTED, u.rule_id, u.title, u.path, u.reason))
    for e in result.errors:
        rep.entries.append(SigmaRuleStatus(ERROR, e.rule_id, "", e.path, e.message))
    return rep


def validate_sigma_paths(paths: Iterable[str | os.PathLike[str]],
                         **load_kw: Any) -> SigmaValidationReport:
    """Load `paths` and report on every rule (`load_kw` go to `load_sigma_paths`)."""
    return validate_sigma(load_sigma_paths(paths, **load_kw))
