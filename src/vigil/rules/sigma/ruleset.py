"""Sigma rule files -> compiled rules, with every rule accounted for.

`load_sigma_paths` reads rule directories (a SigmaHQ checkout, the user's own rules) where
they live, translates each rule to the shared condition syntax tree and compiles it with
the same compiler as Falco conditions. A rule that cannot run is an `UnsupportedSigmaRule`
with its id, path and reason; a file that cannot be parsed is a `SigmaLoadError`. Nothing
is dropped silently: `vigil rules validate` prints all three lists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from vigil.events.fields import DEFAULT_FIELDS, FieldRegistry
from vigil.events.model import Event
from vigil.priority import Priority
from vigil.rules.ast import Node
from vigil.rules.sigma.loader import ParsedSigmaRule, SigmaLoadError, parse_paths
from vigil.rules.sigma.logsource import LogsourceRoute, LogsourceRouter
from vigil.rules.sigma.mapping import SigmaFieldMapping
from vigil.rules.sigma.optimize import merge_literal_sets
from vigil.rules.sigma.prefilter import required_event_types
from vigil.rules.sigma.translate import UnsupportedRule, translate_rule

#: Sigma `level` -> Falco priority
LEVEL_PRIORITY: dict[str, Priority] = {
    "informational": Priority.INFORMATIONAL,
    "low": Priority.NOTICE,
    "medium": Priority.WARNING,
    "high": Priority.ERROR,
    "critical": Priority.CRITICAL,
}
#: the priority of a rule without a level
DEFAULT_PRIORITY = Priority.WARNING


@dataclass(frozen=True)
class CompiledSigmaRule:
    """A Sigma rule ready to run: its metadata, where it runs and its predicate."""

    rule_id: str
    title: str
    path: str
    level: str | None
    priority: Priority
    tags: tuple[str, ...]
    author: str | None
    route: LogsourceRoute
    #: the full condition (logsource guard and detection); `predicate` evaluates it after
    #: `optimize.merge_literal_sets`
    condition: Node
    predicate: Callable[[Event], bool] = field(compare=False, repr=False)
    #: syscall event types the rule can match (None: any), from routing and condition
    event_types: frozenset[str] | None = None
    notes: tuple[str, ...] = ()
    #: the rule's `description` (for `vigil rules list`)
    description: str = ""


@dataclass(frozen=True)
class UnsupportedSigmaRule:
    """A rule that parsed but cannot run on Vigil's events, and why."""

    rule_id: str
    title: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path} [{self.rule_id}] {self.title}: {self.reason}"


@dataclass
class SigmaLoadResult:
    """Compiled rules, unsupported rules (with reasons) and parse errors of a load."""

    rules: list[CompiledSigmaRule] = field(default_factory=list)
    unsupported: list[UnsupportedSigmaRule] = field(default_factory=list)
    errors: list[SigmaLoadError] = field(default_factory=list)

    def by_id(self) -> dict[str, CompiledSigmaRule]:
        """The compiled rules by Sigma id."""
        return {r.rule_id: r for r in self.rules}


def load_sigma_paths(paths: Iterable[str | os.PathLike[str]],
                     mapping: SigmaFieldMapping | None = None,
                     router: LogsourceRouter | None = None,
                     registry: FieldRegistry = DEFAULT_FIELDS) -> SigmaLoadResult:
    """Load, translate and compile every Sigma rule under `paths` (files or directories)."""
    parsed = parse_paths(paths)
    out = SigmaLoadResult(errors=list(parsed.errors))
    mapping = mapping or SigmaFieldMapping.default()
    router = router or LogsourceRouter()
    for pr in parsed.rules:
        try:
            out.rules.append(compile_sigma_rule(pr, mapping, router, registry))
        except UnsupportedRule as exc:
            out.unsupported.append(UnsupportedSigmaRule(pr.rule_id, pr.rule.title or "",
                                                        pr.path, str(exc)))
    return out


def compile_sigma_rule(pr: ParsedSigmaRule, mapping: SigmaFieldMapping,
                       router: LogsourceRouter,
                       registry: FieldRegistry = DEFAULT_FIELDS) -> CompiledSigmaRule:
    """Translate and compile one parsed rule; raises `UnsupportedRule` with the reason."""
    from vigil.rules.compiler import compile_condition  # the shared Falco/Sigma compiler

    tr = translate_rule(pr.rule, mapping, router)
    node = tr.full_condition()
    try:
        compiled = compile_condition(merge_literal_sets(node), registry=registry)
    except Exception as exc:  # the compiler reports field/operator problems by raising
        raise UnsupportedRule(f"does not compile: {exc}") from None
    types = tr.route.event_types
    required = required_event_types(node)  # also sees Sigma's `iequals`
    for narrower in (compiled.event_types, required):
        if narrower is not None:
            types = frozenset(narrower) if types is None else types & frozenset(narrower)
    rule = pr.rule
    level = rule.level.name.lower() if rule.level is not None else None
    return CompiledSigmaRule(
        rule_id=pr.rule_id,
        title=rule.title or pr.rule_id,
        path=pr.path,
        level=level,
        priority=LEVEL_PRIORITY.get(level or "", DEFAULT_PRIORITY),
        tags=tuple(_tag_text(t) for t in rule.tags or ()),
        author=rule.author,
        route=tr.route,
        condition=node,
        predicate=compiled.predicate,
        event_types=None if types is None else frozenset(types),
        notes=tr.notes,
        description=rule.description or "",
    )


def _tag_text(tag: Any) -> str:
    ns, name = getattr(tag, "namespace", None), getattr(tag, "name", None)
    return f"{ns}.{name}" if ns and name else str(tag)
