"""What running rule tests found: detections as a test saw them, failures, per test and
per spec file. Plain records, rendered by `vigil.ruletest.report`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vigil.detections import Detection
from vigil.events.model import Event
from vigil.ruletest.spec import SpecError


@dataclass(frozen=True)
class Fired:
    """One detection on one event of a test (suppressed ones included)."""

    kind: str
    name: str
    rule_id: str | None
    priority: str
    output: str
    #: 0-based index of the event it came on
    event: int
    #: `layer entry: reason` when suppression silenced it
    suppressed: str | None = None
    #: why it is in shadow mode (audited, no alert), when it is
    shadow: str | None = None

    @classmethod
    def of(cls, det: Detection, event: int) -> "Fired":
        """The test's view of a pipeline detection."""
        sup = det.suppressed
        how = None
        if sup is not None:
            how = f"{sup.layer} {sup.entry}" + (f": {sup.reason}" if sup.reason else "")
        shadow = str(det.data.get("shadow") or "shadow mode") if det.shadow else None
        return cls(det.kind, det.name, det.rule_id, det.priority.label, det.output, event,
                   how, shadow)

    def matches(self, name: str) -> bool:
        """Named by `name`: a rule name or Sigma title, a Sigma id, a detector or one of
        its kinds (`ptrace.inject`)."""
        return name == self.name or (self.rule_id is not None and name == self.rule_id)

    def to_dict(self) -> dict[str, Any]:
        """For `--json`."""
        out: dict[str, Any] = {"kind": self.kind, "rule": self.name,
                               "priority": self.priority, "output": self.output,
                               "event": self.event + 1}
        if self.rule_id is not None:
            out["rule_id"] = self.rule_id
        if self.suppressed is not None:
            out["suppressed"] = self.suppressed
        if self.shadow is not None:
            out["shadow"] = self.shadow
        return out


@dataclass(frozen=True)
class Failure:
    """One expectation that did not hold."""

    message: str
    #: 0-based event index, or None for an expectation over the whole test
    event: int | None = None
    #: where the event was written (`spec.yaml:16`, `rec.jsonl event 3`)
    origin: str | None = None
    #: what the event was (`openat by cat: /etc/shadow`)
    summary: str | None = None
    #: the detections that explain the failure (what fired instead, or what must not)
    got: tuple[Fired, ...] = ()
    #: the line of the expectation in the spec
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """For `--json`."""
        return {"message": self.message,
                "event": None if self.event is None else self.event + 1,
                "event_at": self.origin, "event_summary": self.summary,
                "expect_line": self.line, "got": [g.to_dict() for g in self.got]}


@dataclass
class CaseResult:
    """The outcome of one test."""

    name: str
    line: int
    events: int = 0
    failures: list[Failure] = field(default_factory=list)
    fired: list[Fired] = field(default_factory=list)
    #: where each event was written, by index
    origins: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every expectation held."""
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        """For `--json`."""
        return {"name": self.name, "line": self.line, "passed": self.passed,
                "events": self.events, "failures": [f.to_dict() for f in self.failures],
                "detections": [f.to_dict() for f in self.fired]}


@dataclass
class SpecResult:
    """The outcome of one spec file."""

    path: str
    #: the spec is malformed: nothing ran
    errors: list[SpecError] = field(default_factory=list)
    #: the rules it names do not load (errors with file, line and item)
    rule_errors: list[str] = field(default_factory=list)
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def failed(self) -> list[CaseResult]:
        """Tests that did not pass."""
        return [c for c in self.cases if not c.passed]

    @property
    def ok(self) -> bool:
        """Nothing wrong: well-formed, rules loaded, every test passed."""
        return not (self.errors or self.rule_errors or self.failed)

    def to_dict(self) -> dict[str, Any]:
        """For `--json`."""
        return {"file": self.path, "ok": self.ok,
                "errors": [e.to_dict() for e in self.errors],
                "rule_errors": list(self.rule_errors),
                "tests": [c.to_dict() for c in self.cases]}


def event_summary(ev: Event) -> str:
    """A few words saying what an event was: `openat by cat: /etc/shadow`."""
    who = ev.proc.name or (ev.proc.exepath or "?")
    what = ev.fd.name if ev.fd is not None and ev.fd.name else None
    if what is None:
        for key in ("name", "filename", "path", "pathname", "target", "oldpath"):
            v = ev.args.get(key)
            if isinstance(v, str) and v:
                what = v
                break
    if what is None and ev.type in ("execve", "execveat"):
        what = ev.proc.cmdline()
    text = f"{ev.type} by {who}"
    if what:
        text += f": {what}"
    if ev.res is not None and ev.res < 0:
        text += f" (res {ev.res})"
    return text
