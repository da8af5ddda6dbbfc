"""Rule test specs: reading and checking the YAML file `vigil rules test` runs.

A spec is one YAML mapping (docs/rules.md, "Rule tests"):

    rules: [builtin, ./local_rules.yaml]   # what to load (default: builtin)
    config: ./vigil.toml                   # or: rules, detectors and allowlist of a config
    detectors: false                       # also run the built-in detectors
    rule_matching: all                     # or first, as Falco's default
    tests:
      - name: cat reads the shadow file
        event: {type: openat, ...}         # or events: [...], or recording: file.jsonl
        expect:
          fire: [Credential file read by unexpected program]
          not_fire: [...]

Everything is checked before anything runs, and every problem is reported with its file,
line and place in the spec (`tests[2].expect.fire[0]`), so a typo can never make a test
pass for the wrong reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil.config import BUILTIN_RULES
from vigil.events.jsonl import BadLine, read_events
from vigil.events.model import Event
from vigil.priority import Priority
from vigil.rules.suggest import did_you_mean
from vigil.ruletest.events import EventSpecError, build_event
from vigil.ruletest.located import LocatedMap, LocatedSeq, LocatedYAMLError, load_located

SPEC_KEYS = ("rules", "config", "detectors", "rule_matching", "description", "anchors",
             "tests")
CASE_KEYS = ("name", "description", "event", "events", "recording", "expect")
EXPECT_KEYS = ("fire", "not_fire", "detect", "exclusive")
FIRE_KEYS = ("rule", "priority", "output", "count", "suppressed", "shadow")
#: a spec file larger than this is refused (specs are written by hand; recordings are
#: read from their own files)
MAX_SPEC_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class SpecError:
    """A problem in a spec file: where (file, line, place in the spec) and what."""

    file: str
    line: int | None
    message: str
    where: str = ""

    def __str__(self) -> str:
        loc = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{loc}: {self.where}: {self.message}" if self.where else f"{loc}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The error for `--json`."""
        return {"file": self.file, "line": self.line, "where": self.where,
                "message": self.message}


@dataclass(frozen=True)
class RuleRef:
    """A rule or detector named in an expectation, with its line."""

    name: str
    line: int


@dataclass(frozen=True)
class FireExpectation:
    """`fire:` item: this rule fires (with this priority, output, count, suppression)."""

    rule: RuleRef
    priority: Priority | None = None
    #: substrings the output must contain
    output: tuple[str, ...] = ()
    #: exact number of detections, when given
    count: int | None = None
    #: True: detected but silenced by suppression; False (default): reaches incidents
    suppressed: bool = False
    #: True / False: in shadow mode (audited, no alert) or not; None: either
    shadow: bool | None = None


@dataclass(frozen=True)
class Expectation:
    """What must (not) happen on one event or over a whole test."""

    line: int
    fire: tuple[FireExpectation, ...] = ()
    not_fire: tuple[RuleRef, ...] = ()
    #: False: nothing fires at all; True: something fires
    detect: bool | None = None
    #: nothing fires but the rules in `fire`
    exclusive: bool = False

    def named(self) -> list[RuleRef]:
        """Every rule this expectation names."""
        return [f.rule for f in self.fire] + list(self.not_fire)


@dataclass(frozen=True)
class SpecEvent:
    """One event of a test, where it was written, and its own expectation."""

    event: Event
    #: `spec.yaml:12` or `recording.jsonl:3`
    origin: str
    expect: Expectation | None = None


@dataclass(frozen=True)
class TestCase:
    """One test: events in order and what they must produce."""

    __test__ = False  # not a pytest class

    name: str
    line: int
    events: tuple[SpecEvent, ...]
    expect: Expectation | None = None
    description: str = ""


@dataclass
class RuleTestSpec:
    """A whole spec file: what to load and its tests (or the errors that stop it)."""

    path: Path
    #: rule files/dirs as written (`builtin`, or resolved paths); None: the default
    rules: list[str] | None = None
    rules_line: int | None = None
    config: Path | None = None
    config_line: int | None = None
    #: None: as the config says (on with a config, off without)
    detectors: bool | None = None
    rule_matching: str = "all"
    description: str = ""
    cases: list[TestCase] = field(default_factory=list)
    errors: list[SpecError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The spec can run."""
        return not self.errors


class _Reader:
    """Type and key checks that record located errors instead of stopping."""

    def __init__(self, spec: RuleTestSpec) -> None:
        self.spec = spec
        self.file = str(spec.path)

    def error(self, line: int | None, where: str, message: str) -> None:
        self.spec.errors.append(SpecError(self.file, line, message, where))

    def keys(self, m: LocatedMap, allowed: tuple[str, ...], where: str) -> None:
        for key in m:
            if key not in allowed:
                self.error(m.line_of(key), where, f"unknown key {key!r}"
                           f"{did_you_mean(str(key), allowed)} (expected one of: "
                           f"{', '.join(allowed)})")

    def typed(self, m: LocatedMap, key: str, types: tuple[type, ...], what: str,
              where: str) -> Any:
        """`m[key]` when it has one of `types`, else None (with an error)."""
        if key not in m:
            return None
        value = m[key]
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if not ok:
            self.error(m.line_of(key), f"{where}.{key}" if where else key,
                       f"must be {what}, not {_kind(value)}")
            return None
        return value

    def names(self, m: LocatedMap, key: str, where: str) -> list[RuleRef]:
        """A list of rule names (a single string is a list of one)."""
        value = m.get(key)
        here = f"{where}.{key}"
        if value is None:
            return []
        if isinstance(value, str):
            return [RuleRef(value, m.line_of(key))]
        if not isinstance(value, LocatedSeq):
            self.error(m.line_of(key), here, f"must be a list of rule names, not {_kind(value)}")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str) and item.strip():
                out.append(RuleRef(item, value.line_of(i)))
            else:
                self.error(value.line_of(i), f"{here}[{i}]",
                           f"must be a rule name, not {_kind(item)}")
        return out


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


# ------------------------------------------------------------------------- expectations

def _fire_item(r: _Reader, seq: LocatedSeq, i: int, where: str) -> FireExpectation | None:
    item, line, here = seq[i], seq.line_of(i), f"{where}[{i}]"
    if isinstance(item, str) and item.strip():
        return FireExpectation(RuleRef(item, line))
    if not isinstance(item, LocatedMap):
        r.error(line, here, f"must be a rule name or a mapping with 'rule', not {_kind(item)}")
        return None
    r.keys(item, FIRE_KEYS, here)
    name = r.typed(item, "rule", (str,), "a rule name", here)
    if "rule" not in item:
        r.error(item.line, here, "missing 'rule' (the rule or detector that must fire)")
    priority = None
    text = r.typed(item, "priority", (str,), "a priority name", here)
    if text is not None:
        try:
            priority = Priority.parse(text)
        except ValueError as exc:
            r.error(item.line_of("priority"), f"{here}.priority", str(exc))
    output: tuple[str, ...] = ()
    raw = item.get("output")
    if isinstance(raw, str):
        output = (raw,)
    elif isinstance(raw, LocatedSeq) and all(isinstance(x, str) for x in raw):
        output = tuple(raw)
    elif "output" in item:
        r.error(item.line_of("output"), f"{here}.output",
                f"must be a text (or a list of texts) the output contains, not {_kind(raw)}")
    count = r.typed(item, "count", (int,), "a number", here)
    if count is not None and count < 1:
        r.error(item.line_of("count"), f"{here}.count",
                "must be 1 or more (use not_fire for rules that must not fire)")
        count = None
    suppressed = r.typed(item, "suppressed", (bool,), "true or false", here)
    shadow = r.typed(item, "shadow", (bool,), "true or false", here)
    if not isinstance(name, str) or not name.strip():
        if "rule" in item and name is not None:
            r.error(item.line_of("rule"), f"{here}.rule", "must not be empty")
        return None
    return FireExpectation(RuleRef(name, item.line_of("rule")), priority, output, count,
                           bool(suppressed), shadow)


def _expectation(r: _Reader, value: Any, line: int, where: str) -> Expectation | None:
    if not isinstance(value, LocatedMap):
        r.error(line, where, f"must be a mapping with fire, not_fire, detect or exclusive, "
                             f"not {_kind(value)}")
        return None
    r.keys(value, EXPECT_KEYS, where)
    if not any(k in value for k in EXPECT_KEYS):
        r.error(value.line or line, where, "is empty: say what must fire (fire), what must "
                                           "not (not_fire), or detect: false")
        return None
    fire: list[FireExpectation] = []
    raw = value.get("fire")
    if isinstance(raw, str):
        fire.append(FireExpectation(RuleRef(raw, value.line_of("fire"))))
    elif isinstance(raw, LocatedSeq):
        for i in range(len(raw)):
            f = _fire_item(r, raw, i, f"{where}.fire")
            if f is not None:
                fire.append(f)
    elif "fire" in value and raw is not None:
        r.error(value.line_of("fire"), f"{where}.fire",
                f"must be a list of rule names or mappings, not {_kind(raw)}")
    not_fire = r.names(value, "not_fire", where)
    detect = r.typed(value, "detect", (bool,), "true or false", where)
    exclusive = r.typed(value, "exclusive", (bool,), "true or false", where)
    if detect is False and fire:
        r.error(value.line_of("detect"), f"{where}.detect",
                "detect: false contradicts the rules listed under fire")
    both = {f.rule.name for f in fire} & {n.name for n in not_fire}
    for name in sorted(both):
        r.error(value.line_of("not_fire"), f"{where}.not_fire",
                f"{name!r} is listed under both fire and not_fire")
    return Expectation(line=value.line or line, fire=tuple(fire), not_fire=tuple(not_fire),
                       detect=detect, exclusive=bool(exclusive))


# ------------------------------------------------------------------------- events

def _inline_events(r: _Reader, case: LocatedMap, where: str
                   ) -> list[SpecEvent] | None:
    out: list[SpecEvent] = []
    previous: int | None = None
    if "event" in case:
        items = [(case["event"], case.line_of("event"), f"{where}.event", None)]
    else:
        seq = case["events"]
        if not isinstance(seq, LocatedSeq) or not seq:
            r.error(case.line_of("events"), f"{where}.events",
                    "must be a non-empty list of events" if isinstance(seq, LocatedSeq)
                    else f"must be a list of events, not {_kind(seq)}")
            return None
        items = []
        for i, item in enumerate(seq):
            expect = None
            here = f"{where}.events[{i}]"
            if isinstance(item, LocatedMap) and "expect" in item:
                expect = _expectation(r, item["expect"], item.line_of("expect"),
                                      f"{here}.expect")
                item = _without(item, "expect")
            items.append((item, seq.line_of(i), here, expect))
    ok = True
    for item, line, here, expect in items:
        try:
            ev = build_event(item, line, previous)
        except EventSpecError as exc:
            for p in exc.problems:
                r.error(p.line, f"{here}.{p.where}" if p.where else here, p.message)
            ok = False
            continue
        previous = ev.ts
        out.append(SpecEvent(ev, f"{r.file}:{line}", expect))
    return out if ok else None


def _without(m: LocatedMap, key: str) -> LocatedMap:
    out = LocatedMap((k, v) for k, v in m.items() if k != key)
    out.line = m.line
    out.key_lines = {k: v for k, v in m.key_lines.items() if k != key}
    return out


def _recording(r: _Reader, case: LocatedMap, where: str) -> list[SpecEvent] | None:
    rel = r.typed(case, "recording", (str,), "a path to a JSONL recording", where)
    if rel is None:
        return None
    path = (r.spec.path.parent / rel) if not Path(rel).is_absolute() else Path(rel)
    line = case.line_of("recording")
    if not path.is_file():
        r.error(line, f"{where}.recording", f"no such file: {path}")
        return None
    out: list[SpecEvent] = []
    bad = 0
    try:
        for item in read_events(path):
            if isinstance(item, BadLine):
                bad += 1
                r.spec.errors.append(SpecError(str(path), item.lineno,
                                               f"malformed event: {item.error}",
                                               f"recording of {where} ({r.file}:{line})"))
                continue
            out.append(SpecEvent(item, f"{path} event {len(out) + 1}"))
    except OSError as exc:
        r.error(line, f"{where}.recording", f"cannot read {path}: {exc.strerror or exc}")
        return None
    if bad:
        return None
    if not out:
        r.error(line, f"{where}.recording", f"{path} holds no events")
        return None
    return out


# ------------------------------------------------------------------------- cases

def _case(r: _Reader, value: Any, line: int, index: int, names: dict[str, int]
          ) -> TestCase | None:
    where = f"tests[{index}]"
    if not isinstance(value, LocatedMap):
        r.error(line, where, f"must be a mapping with name, event(s) and expect, not "
                             f"{_kind(value)}")
        return None
    before = len(r.spec.errors)
    r.keys(value, CASE_KEYS, where)
    name = r.typed(value, "name", (str,), "a text", where)
    if "name" not in value:
        r.error(value.line, where, "missing 'name'")
    elif name is not None:
        if name in names:
            r.error(value.line_of("name"), f"{where}.name",
                    f"duplicate test name {name!r} (first at line {names[name]})")
        names.setdefault(name, value.line_of("name"))
    description = r.typed(value, "description", (str,), "a text", where) or ""
    sources = [k for k in ("event", "events", "recording") if k in value]
    events: list[SpecEvent] | None = None
    if not sources:
        r.error(value.line, where, "missing events: give 'event' (one inline event), "
                                   "'events' (a list) or 'recording' (a JSONL file)")
    elif len(sources) > 1:
        r.error(value.line_of(sources[1]), where,
                f"give only one of event, events and recording (found {', '.join(sources)})")
    elif sources[0] == "recording":
        events = _recording(r, value, where)
    else:
        events = _inline_events(r, value, where)
    expect = None
    if "expect" in value:
        expect = _expectation(r, value["expect"], value.line_of("expect"), f"{where}.expect")
    has_event_expect = events is not None and any(e.expect is not None for e in events)
    if "expect" not in value and not has_event_expect and events is not None:
        r.error(value.line, where, "nothing to check: add 'expect' (to the test or to one "
                                   "of its events)")
    if len(r.spec.errors) > before or events is None or not isinstance(name, str):
        return None
    return TestCase(name=name, line=value.line, events=tuple(events), expect=expect,
                    description=description)


def _rule_paths(r: _Reader, m: LocatedMap) -> None:
    raw = m.get("rules")
    if raw is None:
        if "rules" in m:
            r.error(m.line_of("rules"), "rules", "is empty (leave it out for builtin)")
        return
    items: list[tuple[Any, int]]
    if isinstance(raw, str):
        items = [(raw, m.line_of("rules"))]
    elif isinstance(raw, LocatedSeq) and raw:
        items = [(v, raw.line_of(i)) for i, v in enumerate(raw)]
    else:
        r.error(m.line_of("rules"), "rules",
                "must be a list of rule files or directories (or builtin)")
        return
    out: list[str] = []
    for i, (value, line) in enumerate(items):
        if not isinstance(value, str) or not value.strip():
            r.error(line, f"rules[{i}]", f"must be a path or builtin, not {_kind(value)}")
            continue
        if value == BUILTIN_RULES:
            out.append(value)
            continue
        p = Path(value) if Path(value).is_absolute() else r.spec.path.parent / value
        if not p.exists():
            r.error(line, f"rules[{i}]", f"no such file or directory: {p}")
            continue
        out.append(str(p))
    r.spec.rules = out
    r.spec.rules_line = m.line_of("rules")


def parse_spec(text: str, path: Path) -> RuleTestSpec:
    """Read and check one spec; problems are in `.errors` (never raised)."""
    spec = RuleTestSpec(path=path)
    r = _Reader(spec)
    try:
        data = load_located(text)
    except LocatedYAMLError as exc:
        r.error(exc.line, "", exc.message)
        return spec
    if not isinstance(data, LocatedMap):
        r.error(getattr(data, "line", 1) or 1, "",
                "a rule test spec is a mapping with 'tests' (and optionally rules, config, "
                f"detectors, rule_matching), not {_kind(data)}")
        return spec
    r.keys(data, SPEC_KEYS, "")
    _rule_paths(r, data)
    cfg = r.typed(data, "config", (str,), "a path to a vigil.toml", "")
    if cfg is not None:
        p = Path(cfg) if Path(cfg).is_absolute() else path.parent / cfg
        if not p.is_file():
            r.error(data.line_of("config"), "config", f"no such file: {p}")
        spec.config, spec.config_line = p, data.line_of("config")
    spec.detectors = r.typed(data, "detectors", (bool,), "true or false", "")
    matching = r.typed(data, "rule_matching", (str,), "all or first", "")
    if matching is not None:
        if matching not in ("all", "first"):
            r.error(data.line_of("rule_matching"), "rule_matching",
                    f"must be all or first, not {matching!r}")
        else:
            spec.rule_matching = matching
    spec.description = r.typed(data, "description", (str,), "a text", "") or ""
    tests = data.get("tests")
    if "tests" not in data:
        r.error(data.line, "", "missing 'tests' (the list of tests)")
    elif not isinstance(tests, LocatedSeq) or not tests:
        r.error(data.line_of("tests"), "tests", "must be a non-empty list of tests")
    else:
        names: dict[str, int] = {}
        for i, item in enumerate(tests):
            case = _case(r, item, tests.line_of(i), i, names)
            if case is not None:
                spec.cases.append(case)
    return spec


def load_spec(path: str | Path) -> RuleTestSpec:
    """Read one spec file (errors in `.errors`, never raised)."""
    p = Path(path)
    spec = RuleTestSpec(path=p)
    try:
        size = p.stat().st_size
        if size > MAX_SPEC_BYTES:
            spec.errors.append(SpecError(str(p), None, f"spec file too large ({size} bytes; "
                                                       f"put events in a recording)"))
            return spec
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        spec.errors.append(SpecError(str(p), None, f"cannot read the spec: {reason}"))
        return spec
    return parse_spec(text, p)
