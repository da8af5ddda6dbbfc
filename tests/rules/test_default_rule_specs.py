"""The rule test specs shipped with Vigil's default rules: all pass, and every default rule
has an event that must fire it and a benign look-alike that must not."""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from vigil.config import BUILTIN_RULES_FILE
from vigil.rules.falco.reader import read_rules_file
from vigil.ruletest import BUILTIN_SPECS_DIR, spec_files
from vigil.ruletest.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
SPECS = sorted(BUILTIN_SPECS_DIR.glob("*.yaml"))


def _default_rule_names() -> list[str]:
    return [i.data["rule"] for i in read_rules_file(BUILTIN_RULES_FILE).items
            if i.kind == "rule"]


def test_vigil_rules_test_passes_on_every_shipped_spec() -> None:
    r = subprocess.run([sys.executable, "-m", "vigil", "rules", "test", "--json", "builtin"],
                       capture_output=True, text=True, timeout=300)
    doc = json.loads(r.stdout)
    failures = [(s["file"], t["name"], t["failures"]) for s in doc["specs"]
                for t in s["tests"] if not t["passed"]]
    errors = [e for s in doc["specs"] for e in s["errors"] + s["rule_errors"]]
    assert r.returncode == 0 and doc["ok"], (failures, errors)
    assert doc["summary"]["specs"] == len(SPECS) >= 6
    assert doc["summary"]["tests"] == doc["summary"]["passed"] >= 40


def test_builtin_names_the_shipped_spec_directory() -> None:
    files, missing = spec_files(["builtin"])
    assert files == SPECS and not missing


@pytest.mark.parametrize("rule", _default_rule_names())
def test_every_default_rule_has_an_attack_and_a_lookalike(rule: str) -> None:
    fire, not_fire = [], []
    for path in SPECS:
        spec = load_spec(path)
        assert spec.ok, [str(e) for e in spec.errors]
        for case in spec.cases:
            for exp in [case.expect] + [e.expect for e in case.events]:
                if exp is None:
                    continue
                fire += [(path.name, case.name) for f in exp.fire if f.rule.name == rule]
                not_fire += [(path.name, case.name) for n in exp.not_fire if n.name == rule]
    assert fire, f"no spec has an event that must fire {rule!r}"
    assert not_fire, f"no spec has a benign look-alike that must not fire {rule!r}"


def test_the_specs_are_package_data() -> None:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    globs = meta["tool"]["setuptools"]["package-data"]["vigil"]
    package = REPO / "src" / "vigil"
    for spec in SPECS:
        rel = spec.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(rel, g) for g in globs), f"{rel} is not package data"


def test_a_broken_default_rule_is_caught_by_its_spec(tmp_path: Path) -> None:
    """The specs can fail: the set-uid rule as it was before the lead's fix (a numeric
    comparison, which takes git's st_mode file type bits for set-uid) fails its spec."""
    text = BUILTIN_RULES_FILE.read_text()
    new = 'evt.arg.mode glob "0[2-7][0-7][0-7][0-7]"'
    assert new in text
    (tmp_path / "rules.yaml").write_text(text.replace(new, "evt.rawarg.mode >= 1024"))
    spec = (BUILTIN_SPECS_DIR / "privilege.yaml").read_text()
    (tmp_path / "privilege.yaml").write_text(
        spec.replace("rules: [builtin]", "rules: [rules.yaml]"))
    r = subprocess.run([sys.executable, "-m", "vigil", "rules", "test",
                        str(tmp_path / "privilege.yaml")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "FAIL" in r.stdout and "modes without set-uid or set-gid" in r.stdout
    assert "'Set-uid bit set on a file' fired but must not" in r.stdout
    assert "(mode=0644 file=/srv/app/.git/config.lock" in r.stdout
