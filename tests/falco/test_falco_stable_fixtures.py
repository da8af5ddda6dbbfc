"""Replay fixtures for every rule of Falco's stable rules file (falco_rules.yaml).

Each rule has `fixtures/stable/<rule-slug>.jsonl` (written by `make_stable_fixtures.py`):
events that must match the rule (`"expect": "<rule>"`), near-misses that must match no rule
of the file (`"expect": null`) and near-misses of the rule that legitimately match another
rule (`"expect_not": "<rule>"`). The rules file is read where it lies in ../shared; nothing
of it is copied here.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from needs import requires_shared, shared_path

from vigil.events.jsonl import BadLine, decode_event, read_events
from vigil.events.model import Event
from vigil.rules.falco.engine import FalcoEngine
from vigil.rules.falco.loader import RuleSet, load_rules
from vigil.rules.names import NameTable

HERE = Path(__file__).resolve().parent
REPO = Path(__file__).resolve().parents[2]
RULES_FILE = shared_path("rules", "falco", "falco_rules.yaml")
FIXTURE_DIR = HERE / "fixtures" / "stable"
GENERATOR = HERE / "fixtures" / "make_stable_fixtures.py"

pytestmark = requires_shared("rules", "falco", "falco_rules.yaml")

#: Rules whose positive fixture cannot match because of a known gap in Vigil's fields,
#: with the reason. The fixture stays correct; the test is a strict xfail until it's fixed.
ENGINE_GAPS: dict[str, str] = {}

#: The fixtures are recorded in a cluster whose DNS maps the API server's name to
#: 10.96.0.1: the name table stands for that resolver (`[rules.hosts]` in vigil.toml).
CLUSTER_HOSTS = {"kubernetes.default.svc.cluster.local": ["10.96.0.1"],
                 "kubernetes.default": ["10.96.0.1"]}


def _rule_names() -> list[str]:
    if not RULES_FILE.is_file():
        return []  # every test here skips (a failure under VIGIL_REQUIRE=shared)
    with open(RULES_FILE, "rb") as fh:
        items = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return [it["rule"] for it in items if isinstance(it, dict) and "rule" in it]


RULE_NAMES = _rule_names()


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_stable_fixtures", GENERATOR)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the module executes
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


GEN = _load_generator()


@dataclass(frozen=True)
class FixtureEvent:
    """One event of a fixture with its expectation."""

    file: str
    lineno: int
    note: str
    event: Event
    #: "match" (must match `rule`), "none" (must match nothing), "not" (must not match `rule`)
    kind: str
    rule: str | None

    @property
    def id(self) -> str:
        return f"{self.file}:{self.lineno}"


def fixture_path(rule: str) -> Path:
    """The fixture file of a rule."""
    return FIXTURE_DIR / f"{GEN.slug(rule)}.jsonl"


@lru_cache(maxsize=None)
def read_fixture(path: Path) -> tuple[FixtureEvent, ...]:
    """Parse a fixture: each event line with the `#` comment line above it."""
    out = []
    note = ""
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("#"):
            note = line[1:].strip()
            continue
        if not line.strip():
            continue
        head = json.loads(line)
        if "expect_not" in head:
            kind, rule = "not", head["expect_not"]
        elif "expect" in head:
            kind, rule = ("none", None) if head["expect"] is None else ("match", head["expect"])
        else:
            raise AssertionError(f"{path.name}:{lineno}: no 'expect' or 'expect_not' key")
        out.append(FixtureEvent(path.name, lineno, note, decode_event(line), kind, rule))
    return tuple(out)


def _all_fixture_events() -> list[FixtureEvent]:
    return [fe for p in sorted(FIXTURE_DIR.glob("*.jsonl")) for fe in read_fixture(p)]


def _event_params() -> list:
    params = []
    for fe in _all_fixture_events():
        marks = []
        if fe.kind == "match" and fe.rule in ENGINE_GAPS:
            marks.append(pytest.mark.xfail(strict=True, reason=ENGINE_GAPS[fe.rule]))
        params.append(pytest.param(fe, id=fe.id, marks=marks))
    return params


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_rules([RULES_FILE], names=NameTable(CLUSTER_HOSTS))


@pytest.fixture(scope="module")
def engine(ruleset: RuleSet) -> FalcoEngine:
    return FalcoEngine(ruleset, rule_matching="all", hostname="fixture-host")


def _matched(engine: FalcoEngine, event: Event) -> list[str]:
    return [r.name for r in engine.match(event)]


def test_stable_rules_file_loads_with_all_25_rules(ruleset: RuleSet):
    assert ruleset.ok, [str(e) for e in ruleset.errors]
    assert len(RULE_NAMES) == 25
    assert [r.name for r in ruleset.enabled_rules] == RULE_NAMES


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_rule_has_fixture_with_positive_and_near_miss(rule: str):
    path = fixture_path(rule)
    assert path.is_file(), f"no replay fixture for rule {rule!r}: expected {path}"
    bad = [b for b in read_events(path) if isinstance(b, BadLine)]
    assert not bad, f"{path.name}: lines that are not Vigil events: {bad}"
    events = read_fixture(path)
    positives = [fe for fe in events if fe.kind == "match" and fe.rule == rule]
    near_misses = [fe for fe in events if fe.kind == "none"
                   or (fe.kind == "not" and fe.rule == rule)]
    assert positives, f"{path.name}: no event expected to match {rule!r}"
    assert near_misses, f"{path.name}: no near-miss for {rule!r}"
    assert all(fe.note for fe in events), f"{path.name}: every event needs a comment line"


def test_fixtures_name_only_rules_of_the_file():
    expected_files = {fixture_path(r).name for r in RULE_NAMES}
    assert {p.name for p in FIXTURE_DIR.glob("*.jsonl")} == expected_files
    stray = [fe.id for fe in _all_fixture_events()
             if fe.rule is not None and fe.rule not in RULE_NAMES]
    assert not stray, f"expectations naming no rule of falco_rules.yaml: {stray}"


def test_fixture_files_are_the_generator_output():
    rendered = GEN.render_all()
    for name, text in rendered.items():
        assert (FIXTURE_DIR / name).read_text() == text, (
            f"{name} differs from make_stable_fixtures.py output: rerun the script")


@pytest.mark.parametrize("fe", _event_params())
def test_fixture_event_replays_as_expected(engine: FalcoEngine, fe: FixtureEvent):
    matched = _matched(engine, fe.event)
    if fe.kind == "match":
        assert fe.rule in matched, f"{fe.id} ({fe.note}) should match {fe.rule!r}; " \
                                   f"matched {matched}"
    elif fe.kind == "none":
        assert matched == [], f"{fe.id} ({fe.note}) is a near-miss but matched {matched}"
    else:
        assert fe.rule not in matched, f"{fe.id} ({fe.note}) must not match {fe.rule!r}"


def test_engine_gaps_are_rules_of_the_file():
    assert set(ENGINE_GAPS) <= set(RULE_NAMES)


def test_replay_cli_reports_the_engine_matches(tmp_path: Path, engine: FalcoEngine):
    """`vigil replay` over all fixtures (comments and `expect` keys included) reports exactly
    the rules the engine matches, event for event."""
    config = tmp_path / "vigil.toml"
    config.write_text(f'state_dir = "{tmp_path}"\n[rules]\nresolve_names = false\n'
                      "[rules.hosts]\n" + "".join(f'"{h}" = {a!r}\n'.replace("'", '"')
                                                   for h, a in CLUSTER_HOSTS.items()))
    combined = tmp_path / "stable.jsonl"
    combined.write_text("".join(p.read_text() for p in sorted(FIXTURE_DIR.glob("*.jsonl"))))
    events = _all_fixture_events()
    want = Counter(name for fe in events for name in _matched(engine, fe.event))
    proc = subprocess.run(
        [sys.executable, "-m", "vigil", "replay", str(combined), "--rules", str(RULES_FILE),
         "--config", str(config), "--rule-matching", "all", "--no-suppress", "--json",
         "--detections"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    docs = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    # with a config, replay also runs the built-in detectors: count the Falco rules only
    got = Counter(d["rule"] for d in docs if d.get("vigil", {}).get("kind", "falco") == "falco")
    assert got == want
    assert f"--- {len(events)} events (0 malformed lines skipped)" in proc.stderr
