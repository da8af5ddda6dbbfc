"""Loading Falco rules: read → collect → expand (lists, macros, exceptions) → compile.

`load_rules()` is the one entry point. It never raises on bad rules: problems come back in
`RuleSet.errors` / `RuleSet.warnings`, each with file, line and item, and `RuleSet.ok` says
whether the set may be used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from vigil.events.fields import DEFAULT_FIELDS, FieldRegistry
from vigil.priority import Priority
from vigil.rules.ast import (
    And, Compare, FieldRef, FieldValue, Ident, ListValue, Node, Not, Or, Value, walk,
)
from vigil.rules.compiler import CompileError, CompiledCondition, compile_condition
from vigil.rules.names import NameTable
from vigil.rules.suggest import closest, field_hint
from vigil.rules.falco.collector import ExceptionDef, RuleCollector, RuleDef
from vigil.rules.falco.output import OutputError, OutputFormat
from vigil.rules.falco.parser import (
    LIST_OPS, QUANTIFIERS, STR_OPS, FilterSyntaxError, TRANSFORMERS, _Parser, parse_condition,
    unescape,
)
from vigil.rules.falco.reader import (
    Problem, RawItem, expand_rule_paths, read_rules_file, read_rules_text,
)

#: event sources whose rules Vigil evaluates
SUPPORTED_SOURCES = frozenset({"syscall", "auth"})
_STR_OP_NAMES = frozenset(o.strip() for o in STR_OPS)
_LISTY_OPS = frozenset(LIST_OPS)
#: an unquoted list item that looks like a list name (a misspelt one is kept as a literal)
_LIST_NAME_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+$")
_TRANSFORMER_VALUE = re.compile(
    r"^(%s)\(([a-zA-Z][a-zA-Z0-9_]*(?:\.[a-zA-Z][a-zA-Z0-9_]*)+(?:\[[^\]\s]*\])?)\)$"
    % "|".join(TRANSFORMERS))


@dataclass
class CompiledRule:
    """A rule ready for the engine."""

    name: str
    desc: str
    priority: Priority
    source: str
    tags: list[str]
    enabled: bool
    #: the condition text after appends/overrides (before macro expansion)
    condition_text: str
    #: the condition after list, macro and exception expansion
    condition: Node
    compiled: CompiledCondition
    output: OutputFormat
    index: int
    file: str
    line: int
    capture: bool = False
    capture_duration: int = 0


@dataclass
class AppendOutput:
    """Falco's `append_output`: extra output text for rules matching source/tags/rule."""

    extra_output: str = ""
    source: str | None = None
    tags: list[str] = field(default_factory=list)
    rule: str | None = None

    def matches(self, rule: RuleDef) -> bool:
        """True when this entry applies to `rule`."""
        if self.source and rule.source != self.source:
            return False
        if self.rule and rule.name != self.rule:
            return False
        if self.tags and not set(self.tags) <= set(rule.tags):
            return False
        return True


@dataclass
class RuleSet:
    """The result of loading: compiled rules plus every problem found."""

    rules: list[CompiledRule] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    lists: dict[str, list[str]] = field(default_factory=dict)
    macros: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    #: the domain names conditions compare with (`fd.sip.name = ...`); engines share it
    names: NameTable = field(default_factory=NameTable)

    @property
    def ok(self) -> bool:
        """No errors: the rules can be used."""
        return not self.errors

    @property
    def enabled_rules(self) -> list[CompiledRule]:
        """The rules that run, in definition order."""
        return [r for r in self.rules if r.enabled]

    def rule(self, name: str) -> CompiledRule | None:
        """The compiled rule of that name."""
        return next((r for r in self.rules if r.name == name), None)


class _ExpandError(Exception):
    pass


def _item_value(item: str) -> Value:
    """A list item as a condition value: Falco pastes items into conditions as text, so an
    item written with quotes inside (`'"10.0.0.0/8"'`) is a quoted string there."""
    if len(item) >= 2 and item[0] == item[-1] and item[0] in "'\"":
        try:
            return Value(unescape(item), True)
        except ValueError:
            return Value(item)
    return Value(item)


class _Expander:
    """Resolves list references and macros, with loop detection; records what was used."""

    def __init__(self, collector: RuleCollector) -> None:
        self.lists = collector.lists
        self.macros = collector.macros
        self.used_lists: set[str] = set()
        self.used_macros: set[str] = set()
        self._parsed: dict[str, Node | FilterSyntaxError] = {}
        self._list_cache: dict[str, list[str]] = {}
        #: unquoted values that are not lists but look like a misspelt list name:
        #: value -> the defined list it resembles (Falco compares them as literals)
        self.near_lists: dict[str, str] = {}

    def list_items(self, name: str, stack: tuple[str, ...] = ()) -> list[str]:
        if name in self._list_cache:
            self.used_lists.add(name)
            return self._list_cache[name]
        if name in stack:
            raise _ExpandError(f"reference loop in list '{name}'")
        self.used_lists.add(name)
        out: list[str] = []
        for item in self.lists[name].items:
            if item in self.lists and item != name:
                out.extend(self.list_items(item, stack + (name,)))
            else:
                out.append(item)
        self._list_cache[name] = out
        return out

    def macro_ast(self, name: str) -> Node:
        if name not in self._parsed:
            try:
                self._parsed[name] = parse_condition(self.macros[name].condition)
            except FilterSyntaxError as exc:
                self._parsed[name] = exc
        v = self._parsed[name]
        if isinstance(v, FilterSyntaxError):
            raise _ExpandError(f"Invalid condition of macro '{name}': {v}")
        return v

    def expand_values(self, value: Any) -> Any:
        if isinstance(value, ListValue):
            items: list[Value] = []
            for v in value.items:
                if not v.quoted and v.text in self.lists:
                    items.extend(_item_value(t) for t in self.list_items(v.text))
                else:
                    if not v.quoted:
                        self._note_near_list(v.text)
                    items.append(v)
            return ListValue(tuple(items))
        if isinstance(value, Value) and value.text in self.lists:
            return ListValue(tuple(_item_value(t) for t in self.list_items(value.text)))
        return value

    def _note_near_list(self, text: str) -> None:
        if text in self.near_lists or not _LIST_NAME_LIKE.match(text):
            return
        guess = closest(text, self.lists, cutoff=0.85)
        if guess is not None and guess != text:
            self.near_lists[text] = guess

    def expand(self, node: Node, stack: tuple[str, ...] = ()) -> Node:
        if isinstance(node, Ident):
            name = node.name
            if name not in self.macros:
                guess = closest(name, self.macros)
                raise _ExpandError(f"Undefined macro '{name}' used in filter."
                                   + (f" Did you mean '{guess}'?" if guess else ""))
            if name in stack:
                raise _ExpandError(f"reference loop in macro '{name}'")
            self.used_macros.add(name)
            return self.expand(self.macro_ast(name), stack + (name,))
        if isinstance(node, Compare):
            if node.op in _LISTY_OPS or node.quantifier is not None:
                return Compare(node.field, node.op, self.expand_values(node.value),
                               node.quantifier)
            return node
        if isinstance(node, Not):
            return Not(self.expand(node.child, stack))
        if isinstance(node, And):
            return And(tuple(self.expand(c, stack) for c in node.children))
        if isinstance(node, Or):
            return Or(tuple(self.expand(c, stack) for c in node.children))
        return node


# ---------------------------------------------------------------------------------------
# exceptions


def _parse_field_expr(text: str) -> Any:
    p = _Parser(text)
    p.blank()
    left = p.try_left()
    p.blank()
    if left is None or p.i != len(text):
        raise _ExpandError(f"'{text}' is not a valid field for an exception")
    return left


def _split_comp(comp: Any) -> tuple[str, str | None]:
    words = str(comp).split()
    if len(words) == 1 and words[0] not in QUANTIFIERS:
        return words[0], None
    if len(words) == 2 and words[1] in QUANTIFIERS and words[0] in _STR_OP_NAMES:
        return words[0], words[1]
    raise _ExpandError(f"'{' '.join(words) or comp}' is not a supported comparison operator")


def _exc_value(raw: Any, op: str, quant: str | None) -> Any:
    if isinstance(raw, list):
        return ListValue(tuple(Value(str(v)) for v in raw))
    text = "" if raw is None else str(raw)
    if op in _LISTY_OPS or quant is not None:
        return ListValue((Value(text),))
    if _TRANSFORMER_VALUE.match(text):
        m = _TRANSFORMER_VALUE.match(text)
        assert m is not None
        ref = _parse_field_expr(m.group(2))
        return FieldValue(FieldRef(ref.name, ref.arg, (m.group(1),)))
    return Value(text)


def exception_condition(ex: ExceptionDef) -> Node | None:
    """Falco's translation of one exception to `(f1 c1 v1 and ...) or ...` (None if empty)."""
    if not ex.values:
        return None
    if isinstance(ex.fields, str):
        comp = ex.comps if ex.comps is not None else "in"
        if not isinstance(comp, str) or comp.strip() not in _LISTY_OPS:
            raise _ExpandError(f"Rule exception item {ex.name}: comps must be one of in, "
                               f"pmatch, intersects when fields is a single value")
        field = _parse_field_expr(ex.fields)
        items = tuple(Value(str(v)) for v in ex.values)
        return Compare(field, comp.strip(), ListValue(items))
    if not isinstance(ex.fields, list) or not ex.fields:
        raise _ExpandError(f"Rule exception item {ex.name}: fields must be a sequence")
    fields = [_parse_field_expr(str(f)) for f in ex.fields]
    comps = ex.comps if ex.comps is not None else ["="] * len(fields)
    if not isinstance(comps, list) or len(comps) != len(fields):
        raise _ExpandError(f"Rule exception item {ex.name}: fields and comps lists must "
                           f"have equal length")
    ops = [_split_comp(c) for c in comps]
    alternatives: list[Node] = []
    for vals in ex.values:
        if not isinstance(vals, list) or len(vals) != len(fields):
            raise _ExpandError(f"Rule exception item {ex.name}: fields and values lists "
                               f"must have equal length")
        checks: list[Node] = [Compare(f, op, _exc_value(v, op, q), q)
                              for f, (op, q), v in zip(fields, ops, vals)]
        alternatives.append(checks[0] if len(checks) == 1 else And(tuple(checks)))
    return alternatives[0] if len(alternatives) == 1 else Or(tuple(alternatives))


# ---------------------------------------------------------------------------------------
# loading


def _problem(rule: RuleDef, message: str, code: str, snippet: str | None = None) -> Problem:
    return Problem(message, rule.origin.file, rule.origin.line, "rule", rule.name,
                   rule.origin.snippet if snippet is None else snippet, code)


def _uses_field(node: Node, name: str) -> bool:
    for n in walk(node):
        if isinstance(n, Compare) and isinstance(n.field, FieldRef) and n.field.name == name:
            return True
    return False


class RulesLoader:
    """Loads rules from files and/or texts, in order, into one `RuleSet`."""

    def __init__(self, registry: FieldRegistry = DEFAULT_FIELDS, *,
                 min_priority: Priority = Priority.DEBUG,
                 sources: Iterable[str] = SUPPORTED_SOURCES,
                 append_output: list[AppendOutput] | None = None,
                 disabled: Iterable[str] = (),
                 names: NameTable | None = None) -> None:
        self.registry = registry
        self.names = names if names is not None else NameTable()
        self.min_priority = min_priority
        self.sources = frozenset(sources)
        self.append_output = append_output or []
        self.disabled = frozenset(disabled)
        self.collector = RuleCollector()
        self.files: list[str] = []
        self._read_errors: list[Problem] = []

    def add_file(self, path: str | Path) -> None:
        """Read one file and collect its items."""
        res = read_rules_file(path)
        self.files.append(str(path))
        self._collect(res.items, res.errors)

    def add_text(self, text: str, name: str = "<rules>") -> None:
        """Collect the items of a rules text (tests, embedded defaults)."""
        res = read_rules_text(text, name)
        self.files.append(name)
        self._collect(res.items, res.errors)

    def _collect(self, items: list[RawItem], errors: list[Problem]) -> None:
        self._read_errors.extend(errors)
        for item in items:
            self.collector.collect(item)

    def build(self) -> RuleSet:
        """Expand and compile everything collected so far."""
        col = self.collector
        rs = RuleSet(errors=list(self._read_errors) + list(col.errors),
                     warnings=list(col.warnings), files=list(self.files), names=self.names)
        exp = _Expander(col)
        for rule in sorted(col.rules.values(), key=lambda r: r.index):
            compiled = self._compile_rule(rule, exp, rs)
            if compiled is not None:
                rs.rules.append(compiled)
        # macros and lists are checked even when unused, so a typo is found before use
        for name, m in col.macros.items():
            try:
                exp.macro_ast(name)
            except _ExpandError as exc:
                rs.errors.append(Problem(str(exc), m.origin.file, m.origin.line, "macro", name,
                                         m.origin.snippet, "load_err_compile_condition"))
            if name not in exp.used_macros:
                rs.warnings.append(Problem("macro not referred to by any other rule/macro",
                                           m.origin.file, m.origin.line, "macro", name,
                                           m.origin.snippet, "load_unused_macro"))
        for name, lst in col.lists.items():
            if name not in exp.used_lists:
                rs.warnings.append(Problem("list not referred to by any other rule/macro/list",
                                           lst.origin.file, lst.origin.line, "list", name,
                                           lst.origin.snippet, "load_unused_list"))
        for name in col.lists:
            try:
                rs.lists[name] = exp.list_items(name)
            except _ExpandError:
                rs.lists[name] = list(col.lists[name].items)
        rs.macros = {n: m.condition for n, m in col.macros.items()}
        return rs

    def _compile_rule(self, rule: RuleDef, exp: _Expander, rs: RuleSet) -> CompiledRule | None:
        # as Falco: a disabled rule is not compiled, so it may name fields or lists that
        # this deployment does not have
        if not (rule.enabled and rule.priority.at_least(self.min_priority)
                and rule.name not in self.disabled):
            return None
        if rule.source not in self.sources:
            rs.warnings.append(_problem(rule, f"Rule source '{rule.source}' is not supported by "
                                              f"Vigil: rule skipped", "load_unknown_source"))
            return None
        near_before = set(exp.near_lists)
        try:
            node = exp.expand(parse_condition(rule.condition))
            exc_nodes = []
            for ex in rule.exceptions:
                n = exception_condition(ex)
                if n is not None:
                    # as in Falco, a list named in an exception's values is expanded
                    exc_nodes.append(Not(exp.expand(n)))
            if exc_nodes:
                node = And((node, *exc_nodes))
        except FilterSyntaxError as exc:
            rs.errors.append(_problem(rule, f"Invalid condition: {exc}",
                                      "load_err_compile_condition", rule.condition))
            return None
        except _ExpandError as exc:
            rs.errors.append(_problem(rule, str(exc), "load_err_compile_condition"))
            return None
        try:
            compiled = compile_condition(node, self.registry, rule.name, self.names)
        except CompileError as exc:
            if rule.skip_if_unknown_filter and "unknown field" in str(exc):
                rs.warnings.append(_problem(rule, f"Rule skipped: {exc}",
                                            "load_unknown_filter"))
                return None
            rs.errors.append(_problem(rule, str(exc) + field_hint(node, self.registry, str(exc)),
                                      "load_err_compile_condition"))
            return None
        for w in compiled.warnings:
            rs.warnings.append(_problem(rule, w, "load_compile_condition", rule.condition))
        for value, guess in exp.near_lists.items():
            if value not in near_before:
                rs.warnings.append(_problem(
                    rule, f"'{value}' is not a defined list, so it is compared as a literal "
                          f"string (did you mean list {guess}?)", "load_unknown_list",
                    rule.condition))
        if rule.warn_evttypes and (compiled.types.negated or len(compiled.types.types) > 100):
            rs.warnings.append(_problem(
                rule, "Rule matches too many evt.type values. This has a significant "
                      "performance penalty.", "load_no_evttype"))
        if _uses_field(node, "evt.dir"):
            rs.warnings.append(_problem(
                rule, "usage of deprecated field 'evt.dir' has been detected in the rule "
                      "condition", "load_deprecated_field", rule.condition))
        output_text = rule.output
        for ao in self.append_output:
            if ao.extra_output and ao.matches(rule):
                output_text = f"{output_text} {ao.extra_output}"
        try:
            output = OutputFormat(output_text, self.registry)
        except OutputError as exc:
            rs.errors.append(_problem(rule, str(exc), "load_err_compile_output"))
            return None
        if "evt.dir" in output.fields:
            rs.warnings.append(_problem(
                rule, "usage of deprecated field 'evt.dir' has been detected in the rule "
                      "output", "load_deprecated_field"))
        enabled = (rule.enabled and rule.priority.at_least(self.min_priority)
                   and rule.name not in self.disabled)
        return CompiledRule(
            name=rule.name, desc=rule.desc, priority=rule.priority, source=rule.source,
            tags=list(rule.tags), enabled=enabled, condition_text=rule.condition,
            condition=node, compiled=compiled, output=output, index=rule.index,
            file=rule.origin.file, line=rule.origin.line, capture=rule.capture,
            capture_duration=rule.capture_duration)


def load_rules(paths: Iterable[str | Path] = (), *, texts: Iterable[tuple[str, str]] = (),
               registry: FieldRegistry = DEFAULT_FIELDS,
               min_priority: Priority = Priority.DEBUG,
               append_output: list[AppendOutput] | None = None,
               disabled: Iterable[str] = (),
               names: NameTable | None = None) -> RuleSet:
    """Load rules files (directories expand to their sorted `*.yaml`) then texts, in order.

    `texts` are `(name, yaml_text)` pairs. The result carries every error and warning.
    `names` maps the domain names of `fd.sip.name`-style checks to addresses.
    """
    loader = RulesLoader(registry, min_priority=min_priority, append_output=append_output,
                         disabled=disabled, names=names)
    for p in expand_rule_paths(list(paths)):
        loader.add_file(p)
    for name, text in texts:
        loader.add_text(text, name)
    return loader.build()
