"""pySigma's parsed condition trees -> `vigil.rules.ast` nodes.

pySigma resolves a rule's condition (`1 of selection_* and not filter`) into a tree of
`ConditionAND`/`ConditionOR`/`ConditionNOT` whose leaves are `field = value` expressions
with the modifiers already applied to the values (a `contains` value is the string with
`*` on both sides, `re` a `SigmaRegularExpression`, `cidr` a `SigmaCIDRExpression` ...).
This module walks that tree once, at load time, and builds the same syntax tree a Falco
condition parses into, so both kinds of rules compile to the same predicate form.

Sigma matches strings case-insensitively unless `|cased` is given; the translation uses
the internal `iequals`/`icontains`/`istartswith`/`iendswith`/`iregex` operators for that,
and Falco's own operators for cased values. A value that cannot be translated raises
`UnsupportedRule` with the reason; nothing is dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sigma.conditions import (ConditionAND, ConditionFieldEqualsValueExpression,
                              ConditionIdentifier, ConditionNOT, ConditionOR,
                              ConditionValueExpression)
from sigma.rule import SigmaRule
from sigma.types import (CompareOperators, SigmaBool, SigmaCasedString, SigmaCIDRExpression,
                         SigmaCompareExpression, SigmaExists, SigmaExpansion,
                         SigmaFieldReference, SigmaNull, SigmaNumber, SigmaRegularExpression,
                         SigmaRegularExpressionFlag, SigmaString, SpecialChars)

from vigil.events.fields import FieldType, UnknownFieldError
from vigil.rules.ast import (And, Compare, Const, FieldRef, FieldValue, Node, Not, Or, Value)
from vigil.rules.sigma.auditd import AUDITED_RECORDS, RuleAudit, RuleScan
from vigil.rules.sigma.logsource import (AUDIT_RECORD_TYPES, LogsourceRoute, LogsourceRouter,
                                         UnsupportedLogsource)
from vigil.rules.sigma.mapping import TEXT_FIELD, SigmaFieldMapping

_MULTI = SpecialChars.WILDCARD_MULTI
_SINGLE = SpecialChars.WILDCARD_SINGLE
_NUMERIC = (FieldType.INT, FieldType.PORT)
_CMP_OPS = {CompareOperators.LT: "<", CompareOperators.LTE: "<=",
            CompareOperators.GT: ">", CompareOperators.GTE: ">="}
#: (case-insensitive op, cased op) for equals / contains / startswith / endswith / regex
_OPS = {"eq": ("iequals", "="), "contains": ("icontains", "contains"),
        "startswith": ("istartswith", "startswith"), "endswith": ("iendswith", "endswith"),
        "regex": ("iregex", "sregex")}


class UnsupportedRule(ValueError):
    """A rule (or one of its values) cannot run on Vigil's events; the message says why."""


@dataclass(frozen=True)
class Translation:
    """A rule's detection as a syntax tree, with where it runs and what was approximated."""

    #: the rule's detection, guard not included
    condition: Node
    route: LogsourceRoute
    #: approximations made (auditd record types Vigil does not produce, ...)
    notes: tuple[str, ...] = ()

    def full_condition(self) -> Node:
        """The condition to compile: the logsource guard and the detection."""
        return simplify(And((self.route.guard, self.condition)))


def translate_rule(rule: SigmaRule, mapping: SigmaFieldMapping | None = None,
                   router: LogsourceRouter | None = None) -> Translation:
    """Translate one parsed rule; raises `UnsupportedRule` with the reason."""
    mapping = mapping or SigmaFieldMapping.default()
    router = router or LogsourceRouter()
    ls = rule.logsource
    try:
        route = router.route(ls.category, ls.product, ls.service)
    except UnsupportedLogsource as exc:
        raise UnsupportedRule(str(exc)) from None
    try:
        parsed = [c.parsed for c in rule.detection.parsed_condition]
    except Exception as exc:  # pySigma raises many types for a broken condition
        raise UnsupportedRule(f"condition: {exc}") from None
    audit = None
    if route.table == "auditd":
        audit = router.auditd.for_rule(scan_auditd_rule(rule, parsed))
    walker = _Walker(mapping, route, audit)
    if audit is not None:
        summary = audit.summary()
        if summary:
            walker.notes.append(summary)
        walker.notes.extend(audit.notes)
    trees = [walker.node(p) for p in parsed if p is not None]
    if not trees:
        raise UnsupportedRule("the detection has no condition")
    condition = simplify(trees[0] if len(trees) == 1 else Or(tuple(trees)))
    notes = tuple(dict.fromkeys(walker.notes))
    if condition == Const(False):
        why = "; ".join(notes) or "the condition can never be true"
        raise UnsupportedRule(f"never matches on Vigil's events: {why}")
    return Translation(condition, route, notes)


class _Walker:
    """One rule's translation: mapping lookups and the notes gathered on the way."""

    def __init__(self, mapping: SigmaFieldMapping, route: LogsourceRoute,
                 audit: RuleAudit | None = None) -> None:
        self.mapping = mapping
        self.route = route
        #: the audit rules an auditd rule assumes (its records exist only where they say)
        self.audit = audit
        self.notes: list[str] = []

    def node(self, c: Any) -> Node:
        if isinstance(c, ConditionAND):
            return And(tuple(self.node(a) for a in c.args))
        if isinstance(c, ConditionOR):
            return Or(tuple(self.node(a) for a in c.args))
        if isinstance(c, ConditionNOT):
            return Not(self.node(c.args[0]))
        if isinstance(c, ConditionFieldEqualsValueExpression):
            return self.leaf(c.field, c.value, c)
        if isinstance(c, ConditionValueExpression):
            return self.leaf(None, c.value, c)
        raise UnsupportedRule(f"unexpected condition element {type(c).__name__}")

    # --- leaves ----------------------------------------------------------------------

    def leaf(self, sigma_field: str | None, value: Any, cond: Any) -> Node:
        if isinstance(value, SigmaExpansion):  # base64offset, windash: any of the variants
            return Or(tuple(self.leaf(sigma_field, v, cond) for v in value.values)) \
                if len(value.values) > 1 else self.leaf(sigma_field, value.values[0], cond)
        if self.route.table == "auditd" and sigma_field is not None:
            special = self._auditd_special(sigma_field, value)
            if special is not None:
                return special
        if sigma_field is None:
            ref = FieldRef(TEXT_FIELD)
            if isinstance(value, SigmaString):  # keywords match anywhere in the text
                value = _as_contains(value)
        else:
            auditd = self.route.table == "auditd"
            records = _record_types(cond) if auditd else frozenset()
            found = self.mapping.lookup(self.route.table, sigma_field, records)
            if found is None and (why := self.mapping.unavailable(self.route.table,
                                                                  sigma_field)):
                self.notes.append(why)
                return Const(False)  # as on a log without the field
            if found is None:
                raise UnsupportedRule(f"field {sigma_field!r} has no mapping for logsource "
                                      f"{self.route.table!r} (add it under "
                                      f"[rules.sigma_fields.{self.route.table}])")
            if auditd and not records and found.name == "proc.argv":
                # only EXECVE records carry argv: a selection without `type` still means
                # an exec, not any syscall of a process with such arguments
                assert self.audit is not None
                return And((self.audit.record("EXECVE"),
                            self.compare(found, value, sigma_field)))
            ref = found
        return self.compare(ref, value, sigma_field or "<keyword>")

    def _auditd_special(self, sigma_field: str, value: Any) -> Node | None:
        name = sigma_field.lower()
        assert self.audit is not None
        if name == "type":
            rec = _plain(value).upper()
            if rec in AUDITED_RECORDS:
                return self.audit.record(rec)
            route = AUDIT_RECORD_TYPES.get(rec)
            if route is None:
                self.notes.append(f"auditd record type {rec} is not produced by Vigil")
                return Const(False)
            if route.note:
                self.notes.append(route.note)
            return Const(False) if route.condition is None else route.condition
        if name == "key":
            key = _plain(value)
            cond = self.audit.key(key)
            if cond is None:
                self.notes.append(f"auditd key {key!r}: no audit rule with this key is "
                                  "documented by the rule or known to Vigil")
                return Const(False)
            return cond
        return None

    def field_type(self, ref: FieldRef) -> FieldType:
        try:
            fdef, arg = self.mapping.registry.resolve(ref.name, ref.arg)
        except UnknownFieldError as exc:
            raise UnsupportedRule(str(exc)) from None
        return fdef.type_for(arg)

    def compare(self, ref: FieldRef, value: Any, sigma_field: str) -> Node:
        ftype = self.field_type(ref)
        if isinstance(value, SigmaExists):
            node: Node = Compare(ref, "exists")
            return node if value.exists else Not(node)
        if isinstance(value, SigmaNull):
            if ftype is FieldType.STR:
                return Or((Not(Compare(ref, "exists")), Compare(ref, "iequals", Value("", True))))
            return Not(Compare(ref, "exists"))
        if isinstance(value, SigmaCompareExpression):
            num = _num_text(value.number)
            if value.op is CompareOperators.NEQ:
                op = "=" if ftype in _NUMERIC else "iequals"
                return Not(Compare(ref, op, Value(num, True)))
            return Compare(ref, _CMP_OPS[value.op], Value(num, True))
        if isinstance(value, SigmaCIDRExpression):
            return Compare(ref, "cidr", Value(str(value.network), True))
        if isinstance(value, SigmaFieldReference):
            other = self.mapping.lookup(self.route.table, value.field)
            if other is None:
                raise UnsupportedRule(f"fieldref {value.field!r} has no mapping for logsource "
                                      f"{self.route.table!r}")
            op = "startswith" if value.starts_with else "endswith" if value.ends_with else "="
            return Compare(ref, op, FieldValue(other))
        if isinstance(value, SigmaRegularExpression):
            return self._regex(ref, value)
        if isinstance(value, SigmaBool):
            text = "true" if value.boolean else "false"
            return Compare(ref, "=" if ftype is FieldType.BOOL else "iequals", Value(text, True))
        if isinstance(value, SigmaNumber):
            op = "=" if ftype in _NUMERIC else "iequals"
            return Compare(ref, op, Value(_num_text(value), True))
        if isinstance(value, SigmaString):
            return self._string(ref, value, ftype, sigma_field)
        raise UnsupportedRule(f"value type {type(value).__name__} of {sigma_field!r} is not "
                              "supported")

    def _regex(self, ref: FieldRef, value: SigmaRegularExpression) -> Node:
        pattern = value.regexp.original if hasattr(value.regexp, "original") else \
            str(value.regexp)
        inline = "".join(f for flag, f in (
            (SigmaRegularExpressionFlag.MULTILINE, "m"),
            (SigmaRegularExpressionFlag.DOTALL, "s")) if flag in value.flags)
        if inline:
            pattern = f"(?{inline}){pattern}"
        try:
            re.compile(pattern)
        except re.error as exc:
            raise UnsupportedRule(f"regular expression {pattern!r}: {exc}") from None
        cased = SigmaRegularExpressionFlag.IGNORECASE not in value.flags
        return Compare(ref, _OPS["regex"][1 if cased else 0], Value(pattern, True))

    def _string(self, ref: FieldRef, value: SigmaString, ftype: FieldType,
                sigma_field: str) -> Node:
        parts = list(value.s)
        if any(not isinstance(p, (str, SpecialChars)) for p in parts):
            raise UnsupportedRule(f"placeholder in value of {sigma_field!r} (needs a "
                                  "processing pipeline to expand it)")
        cased = isinstance(value, SigmaCasedString)
        plain = all(isinstance(p, str) for p in parts)
        if ftype is not FieldType.STR:
            if not plain:
                raise UnsupportedRule(f"wildcard value {value.original!r} on non-text field "
                                      f"{ref.text()} ({sigma_field})")
            text = "".join(parts)  # type: ignore[arg-type]
            if ftype in _NUMERIC and not _is_int(text):
                raise UnsupportedRule(f"value {text!r} of {sigma_field!r} is not a number")
            if ftype is FieldType.BOOL:
                text = text.lower()
            return Compare(ref, "=", Value(text, True))
        if plain:
            return Compare(ref, _OPS["eq"][cased], Value("".join(parts), True))  # type: ignore
        core = parts
        lead = bool(core) and core[0] is _MULTI
        trail = len(core) > 1 and core[-1] is _MULTI
        core = core[int(lead): len(core) - int(trail)]
        if not core:  # "*": any value, so the field must be there
            return Compare(ref, "exists")
        if len(core) == 1 and isinstance(core[0], str):
            kind = "contains" if lead and trail else "endswith" if lead else "startswith"
            return Compare(ref, _OPS[kind][cased], Value(core[0], True))
        regex = Compare(ref, _OPS["regex"][cased], Value(_wildcard_regex(parts), True))
        # the literal pieces as cheap necessary checks first (and keys for the prefilter)
        pieces: list[Node] = []
        for i, p in enumerate(parts):
            if not isinstance(p, str):
                continue
            kind = "startswith" if i == 0 else "endswith" if i == len(parts) - 1 \
                else "contains"
            pieces.append(Compare(ref, _OPS[kind][cased], Value(p, True)))
        return And((*pieces, regex)) if pieces else regex


def _wildcard_regex(parts: list[Any]) -> str:
    """A Sigma wildcard string as an anchored regular expression."""
    out = []
    for p in parts:
        out.append(".*" if p is _MULTI else "." if p is _SINGLE else re.escape(p))
    return "(?s)^" + "".join(out) + "$"


def _as_contains(value: SigmaString) -> SigmaString:
    parts = list(value.s)
    if not parts or parts[0] is not _MULTI:
        parts.insert(0, _MULTI)
    if parts[-1] is not _MULTI:
        parts.append(_MULTI)
    out = value.__class__.__new__(value.__class__)
    out.__dict__.update(value.__dict__)
    out.s = parts
    return out


_ARGV_NAME = re.compile(r"a\d+")


def scan_auditd_rule(rule: SigmaRule, parsed: list[Any]) -> RuleScan:
    """What an auditd rule asks of the records: record types, syscalls and keys it names,
    and whether it reads argv outside an EXECVE selection (see `auditd.RuleScan`)."""
    types: set[str] = set()
    syscalls: set[str] = set()
    keys: set[str] = set()
    typeless_argv = False
    stack = [p for p in parsed if p is not None]
    while stack:
        c = stack.pop()
        if isinstance(c, (ConditionAND, ConditionOR, ConditionNOT)):
            stack.extend(c.args)
            continue
        if not isinstance(c, ConditionFieldEqualsValueExpression):
            continue
        name = c.field.lower()
        values = c.value.values if isinstance(c.value, SigmaExpansion) else [c.value]
        plain = [str(v) for v in values
                 if isinstance(v, SigmaString) and not v.contains_special()]
        if name == "type":
            types.update(v.upper() for v in plain)
        elif name == "syscall":
            syscalls.update(v.lower() for v in plain)
        elif name == "key":
            keys.update(plain)
        elif _ARGV_NAME.fullmatch(name) and not _record_types(c):
            typeless_argv = True
    ls = rule.logsource
    return RuleScan(title=rule.title or "", description=rule.description or "",
                    definition=getattr(ls, "definition", None) or "",
                    rule_id=str(rule.id) if rule.id is not None else (rule.title or ""),
                    record_types=frozenset(types), syscalls=frozenset(syscalls),
                    keys=frozenset(keys), typeless_argv=typeless_argv)


def _record_types(cond: Any) -> frozenset[str]:
    """auditd `type` values of the selection that `cond` came from (EXECVE, SYSCALL ...).

    pySigma links a leaf to the AND of its selection's items through `parent`; the `type`
    item is a sibling there (or an OR of siblings for `type: [A, B]`).
    """
    p = getattr(cond, "parent", None)
    while p is not None and not isinstance(p, ConditionIdentifier):
        if isinstance(p, ConditionAND):
            out: set[str] = set()
            for a in p.args:
                leaves = a.args if isinstance(a, ConditionOR) else [a]
                out.update(_plain(x.value).upper() for x in leaves
                           if isinstance(x, ConditionFieldEqualsValueExpression)
                           and x.field.lower() == "type")
            if out:
                return frozenset(out)
        p = getattr(p, "parent", None)
    return frozenset()


def _plain(value: Any) -> str:
    if isinstance(value, SigmaString):
        return str(value)
    if isinstance(value, SigmaNumber):
        return _num_text(value)
    if isinstance(value, SigmaBool):
        return "true" if value.boolean else "false"
    raise UnsupportedRule(f"expected a plain value, got {type(value).__name__}")


def _num_text(n: SigmaNumber) -> str:
    return str(n.number)


def _is_int(text: str) -> bool:
    try:
        int(text, 0)
    except ValueError:
        return False
    return True


def simplify(node: Node) -> Node:
    """Fold constants and flatten nested And/Or (`x and true` -> `x`, `x or true` -> true)."""
    if isinstance(node, Not):
        child = simplify(node.child)
        if isinstance(child, Const):
            return Const(not child.value)
        if isinstance(child, Not):
            return child.child
        return Not(child)
    if isinstance(node, (And, Or)):
        is_and = isinstance(node, And)
        kids: list[Node] = []
        for c in node.children:
            c = simplify(c)
            if isinstance(c, Const):
                if c.value is is_and:
                    continue  # neutral element
                return Const(not is_and)  # absorbing element
            if type(c) is type(node):
                kids.extend(c.children)  # type: ignore[union-attr]
            else:
                kids.append(c)
        if not kids:
            return Const(is_and)
        return kids[0] if len(kids) == 1 else type(node)(tuple(kids))
    return node
