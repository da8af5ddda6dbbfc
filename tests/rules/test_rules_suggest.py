"""`vigil rules validate` names the closest field, macro or list for a misspelt one."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from vigil.commands import rules as rules_command
from vigil.events.fields import DEFAULT_FIELDS
from vigil.rules.falco.loader import load_rules
from vigil.rules.suggest import closest, closest_field

RULE = """- list: my_shells
  items: [bash, sh]
- macro: my_exec
  condition: evt.type in (execve, execveat)
- rule: r
  desc: d
  condition: {condition}
  output: {output}
  priority: INFO
"""


def _load(condition: str, output: str = "o %proc.name"):
    return load_rules(texts=[("local.yaml", RULE.format(condition=condition, output=output))])


@pytest.mark.parametrize("typo, meant", [
    ("proc.nmae", "proc.name"), ("proc.pnmae", "proc.pname"), ("fd.nmae", "fd.name"),
    ("proc.cmdlin", "proc.cmdline"), ("user.nam", "user.name"),
    ("evt.args.flags", "evt.arg.flags"), ("proc.anmae", "proc.aname"),
])
def test_a_misspelt_field_in_a_condition_names_the_closest_field(typo, meant) -> None:
    rs = _load(f"my_exec and {typo} = x")
    assert not rs.ok
    msg = str(rs.errors[0])
    assert f"unknown field {typo}" in msg
    assert msg.endswith(f"(did you mean {meant}?)"), msg
    assert rs.errors[0].line == 5


def test_a_field_far_from_every_name_gets_no_guess() -> None:
    rs = _load("my_exec and zzzz.qqqq = x")
    assert "unknown field zzzz.qqqq" in str(rs.errors[0])
    assert "did you mean" not in str(rs.errors[0])


def test_the_misspelt_field_is_the_one_named_in_the_error() -> None:
    rs = _load("my_exec and proc.name = x and fd.nmae = y")
    assert "(did you mean fd.name?)" in str(rs.errors[0])


def test_misspelt_fields_in_exceptions_and_outputs_are_named_too() -> None:
    text = RULE.format(condition="my_exec", output="o") + """  exceptions:
    - name: e
      fields: [proc.pnmae]
      values: [[x]]
"""
    rs = load_rules(texts=[("local.yaml", text)])
    assert "(did you mean proc.pname?)" in str(rs.errors[0])
    rs = _load("my_exec", output="started %proc.cmdlne by %user.name")
    assert "%proc.cmdlne: unknown field (did you mean %proc.cmdline?)" in str(rs.errors[0])


def test_an_undefined_macro_names_the_closest_macro() -> None:
    rs = _load("my_exce and proc.name = x")
    assert "Undefined macro 'my_exce' used in filter. Did you mean 'my_exec'?" \
        in str(rs.errors[0])
    rs = _load("completely_else and proc.name = x")
    assert "Did you mean" not in str(rs.errors[0])


def test_a_value_that_looks_like_a_misspelt_list_warns_with_the_list() -> None:
    rs = _load("my_exec and proc.name in (my_shels, zsh)")
    assert rs.ok  # Falco compares it as a literal: a warning, not an error
    msgs = [str(w) for w in rs.warnings]
    assert any("'my_shels' is not a defined list" in m and "did you mean list my_shells?" in m
               for m in msgs), msgs
    # ordinary literals and the list itself are not flagged
    rs = _load("my_exec and proc.name in (my_shells, zsh, bash_history)")
    assert not [w for w in rs.warnings if "not a defined list" in w.message]


def test_closest_is_case_insensitive_and_returns_the_known_spelling() -> None:
    assert closest("credential file READ by unexpected program",
                   ["Credential file read by unexpected program", "Debugfs started"]) \
        == "Credential file read by unexpected program"
    assert closest("x", []) is None
    assert closest_field("proc.name", DEFAULT_FIELDS) == "proc.name"


def test_validate_prints_the_suggestion_with_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "local.yaml"
    f.write_text(RULE.format(condition="my_exec and proc.nmae = nc", output="o"))
    app = typer.Typer()
    rules_command.register(app)
    res = CliRunner().invoke(app, ["rules", "validate", str(f)])
    assert res.exit_code == 1
    assert f"ERROR {f}:5: rule 'r': unknown field proc.nmae (did you mean proc.name?)" \
        in res.output
