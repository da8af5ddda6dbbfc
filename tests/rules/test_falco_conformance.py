"""Falco's own parser, compiler and rule-loader test cases (../shared/conformance/falco)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
from needs import requires_shared, shared_path

from vigil.events.fields import FieldDef, FieldType, build_default_registry
from vigil.events.model import Event
from vigil.rules.ast import And, Compare, Const, FieldRef, ListValue, Node, Not, Or, Value
from vigil.rules.compiler import CompileError, compile_condition
from vigil.rules.falco.loader import AppendOutput, load_rules
from vigil.rules.falco.parser import FilterSyntaxError, parse_condition

CONF = shared_path("conformance", "falco")
pytestmark = requires_shared("conformance", "falco")
#: what the case files hold when the shared data is missing (every test then skips)
_NO_CASES = {"parser": [], "compiler_run": [], "compiler_compile": []}


@lru_cache(maxsize=None)
def _cases(name: str):
    if not (CONF / name).is_file():
        return [] if name == "rule_loader_cases.json" else _NO_CASES
    return json.loads((CONF / name).read_text())


def _parser_cases():
    return _cases("filter_parser_cases.json")["parser"]


def test_conformance_case_counts():
    d = _cases("filter_parser_cases.json")
    assert len(d["parser"]) == 529
    assert len(_cases("rule_loader_cases.json")) == 108


@pytest.mark.parametrize("case", _parser_cases(), ids=lambda c: c["filter"][:60])
def test_parser_accepts_and_rejects_as_falco(case):
    if case["kind"] == "accept":
        parse_condition(case["filter"])
        return
    with pytest.raises(FilterSyntaxError) as exc:
        parse_condition(case["filter"])
    if case["kind"] == "reject_msg":
        assert case["msg"] in exc.value.message


# -- compiler cases: c.true / c.false are mock fields; mapped to constants as the
#    conformance README says, c.buffer is a bytes field, the quote fields hold fixed text.

def _mock_registry():
    r = build_default_registry()
    for name in ("c.true", "c.false"):
        r.add(FieldDef(name, FieldType.STR, lambda e, a: "x", "mock"))
    r.add(FieldDef("c.buffer", FieldType.BYTES, lambda e, a: b"x", "mock"))
    r.add(FieldDef("c.singlequote", FieldType.STR, lambda e, a: "hello 'quoted'", "mock"))
    r.add(FieldDef("c.doublequote", FieldType.STR, lambda e, a: 'hello "quoted"', "mock"))
    return r


MOCK = _mock_registry()


def _constants(node: Node) -> Node:
    if isinstance(node, Compare) and isinstance(node.field, FieldRef) \
            and node.field.name in ("c.true", "c.false"):
        return Const(node.field.name == "c.true")
    if isinstance(node, Not):
        return Not(_constants(node.child))
    if isinstance(node, (And, Or)):
        return type(node)(tuple(_constants(c) for c in node.children))
    return node


@pytest.mark.parametrize("case", _cases("filter_parser_cases.json")["compiler_run"],
                         ids=lambda c: c["filter"][:60])
def test_compiler_runs_as_falco(case):
    cond = compile_condition(_constants(parse_condition(case["filter"])), MOCK)
    assert cond.predicate(Event(type="open")) is case["expected"]


@pytest.mark.parametrize("case", _cases("filter_parser_cases.json")["compiler_compile"],
                         ids=lambda c: c["filter"][:60])
def test_compiler_accepts_rejects_and_warns_as_falco(case):
    try:
        cond = compile_condition(parse_condition(case["filter"]), MOCK)
    except (CompileError, FilterSyntaxError):
        assert case["expect_fail"], "Falco compiles this condition"
        return
    assert not case["expect_fail"], "Falco rejects this condition"
    assert len(cond.warnings) == case["expected_warnings"], cond.warnings


# -- rule loader cases

#: append_output settings of Falco's extra-output unit tests, which the JSON cases omit
APPEND_OUTPUT = {
    "extra_format_all": [AppendOutput("evt.type=%evt.type")],
    "extra_format_by_rule": [AppendOutput("evt.type=%evt.type", rule="legit_rule")],
    "extra_format_by_tag_rule": [AppendOutput("extra 1", tags=["tag1"]),
                                 AppendOutput("extra 2", rule="another_rule"),
                                 AppendOutput("extra 3", tags=["tag2"])],
}


def normalise(node: Node) -> Node:
    """Flatten nested and/or and forget quoting: Falco's printed condition vs ours."""
    if isinstance(node, (And, Or)):
        out: list[Node] = []
        for c in map(normalise, node.children):
            out.extend(c.children if type(c) is type(node) else [c])
        return type(node)(tuple(out))
    if isinstance(node, Not):
        return Not(normalise(node.child))
    if isinstance(node, Compare):
        v = node.value
        if isinstance(v, Value):
            v = Value(v.text)
        elif isinstance(v, ListValue):
            v = ListValue(tuple(Value(i.text) for i in v.items))
        return Compare(node.field, node.op, v, node.quantifier)
    return node


@pytest.mark.parametrize("case", _cases("rule_loader_cases.json"), ids=lambda c: c["test"])
def test_rule_loader_as_falco(case):
    rs = load_rules(texts=[("case.yaml", case["rules_yaml"])],
                    append_output=APPEND_OUTPUT.get(case["test"]))
    errors = " | ".join(e.message for e in rs.errors)
    warnings = " | ".join(w.message for w in rs.warnings)
    assert rs.ok == case["load_ok"], errors
    for text in case["errors_contain"]:
        assert rs.errors and text in errors
    for text in case["warnings_contain"]:
        assert rs.warnings and text in warnings
    for text in case["warnings_absent"]:
        assert not (rs.warnings if text == "" else text in warnings), warnings
    if case["has_warnings"] is not None:
        assert bool(rs.warnings) == case["has_warnings"], warnings
    if case["num_rules_enabled"] is not None and rs.ok:
        assert len(rs.enabled_rules) == case["num_rules_enabled"]
    for name, expected in case["compiled_conditions"].items():
        rule = rs.rule(name)
        assert rule is not None
        assert normalise(rule.condition) == normalise(parse_condition(expected))
    for name, expected in case["compiled_outputs"].items():
        assert rs.rule(name).output.template == expected


def test_problems_name_file_line_and_item():
    text = "- rule: r1\n  desc: d\n  condition: evt.type = open and nosuchmacro\n" \
           "  output: o\n  priority: INFO\n"
    rs = load_rules(texts=[("my_rules.yaml", text)])
    assert not rs.ok
    err = rs.errors[0]
    assert (err.file, err.line, err.item_type, err.item_name) == ("my_rules.yaml", 1, "rule", "r1")
    assert "Undefined macro 'nosuchmacro'" in str(err)
    assert str(err).startswith("my_rules.yaml:1: rule 'r1'")
