"""Which event types a condition can match (Falco's event-type index, done on our AST).

A rule is only evaluated for events of the types its condition can match. The set is
computed as Falco does: `and` intersects, `or` unions, and `not` is handled by asking which
types can make the negated child *false* (so `not evt.type = open` is everything but open,
while `not (evt.type = open and proc.name = x)` can match any type).
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.rules.ast import And, Compare, Const, FieldRef, ListValue, Node, Not, Or, Value


@dataclass(frozen=True)
class TypeSet:
    """Either exactly `types` (`negated=False`) or every type except `types`."""

    types: frozenset[str]
    negated: bool = False

    @property
    def is_all(self) -> bool:
        """True when the set has no restriction at all."""
        return self.negated and not self.types

    @property
    def is_empty(self) -> bool:
        """True when no event type can match."""
        return not self.negated and not self.types

    def __and__(self, other: "TypeSet") -> "TypeSet":
        a, b = self, other
        if not a.negated and not b.negated:
            return TypeSet(a.types & b.types)
        if not a.negated:
            return TypeSet(a.types - b.types)
        if not b.negated:
            return TypeSet(b.types - a.types)
        return TypeSet(a.types | b.types, True)

    def __or__(self, other: "TypeSet") -> "TypeSet":
        a, b = self, other
        if not a.negated and not b.negated:
            return TypeSet(a.types | b.types)
        if not a.negated:
            return TypeSet(b.types - a.types, True)
        if not b.negated:
            return TypeSet(a.types - b.types, True)
        return TypeSet(a.types & b.types, True)

    def complement(self) -> "TypeSet":
        """Every type not in this set."""
        return TypeSet(self.types, not self.negated)


ALL = TypeSet(frozenset(), True)
NONE = TypeSet(frozenset())


def _is_never_true(node: Compare) -> bool:
    # `evt.num = 0` is Falco's idiom for a placeholder that never matches (never_true)
    f = node.field
    return (isinstance(f, FieldRef) and f.name == "evt.num" and not f.transformers
            and node.op in ("=", "==") and isinstance(node.value, Value)
            and node.value.text == "0")


def _compare_types(node: Compare) -> TypeSet:
    f = node.field
    if _is_never_true(node):
        return NONE
    if not (isinstance(f, FieldRef) and f.name == "evt.type" and not f.transformers
            and node.quantifier is None):
        return ALL
    v = node.value
    if node.op in ("=", "==") and isinstance(v, Value):
        return TypeSet(frozenset({v.text}))
    if node.op == "!=" and isinstance(v, Value):
        return TypeSet(frozenset({v.text}), True)
    if node.op in ("in", "intersects") and isinstance(v, ListValue):
        return TypeSet(frozenset(i.text for i in v.items))
    return ALL


def possible_types(node: Node, positive: bool = True) -> TypeSet:
    """The event types for which `node` can evaluate to `positive`."""
    if isinstance(node, Compare):
        t = _compare_types(node)
        if positive:
            return t
        # a never-true check is false everywhere; an evt.type check is false off its set
        if t is NONE:
            return ALL
        if t.is_all:
            return ALL
        return t.complement()
    if isinstance(node, Const):
        return ALL if node.value == positive else NONE
    if isinstance(node, Not):
        return possible_types(node.child, not positive)
    if isinstance(node, (And, Or)):
        # and-positive / or-negative need every child; the others need any child
        intersect = isinstance(node, And) == positive
        result = ALL if intersect else NONE
        for c in node.children:
            t = possible_types(c, positive)
            result = (result & t) if intersect else (result | t)
        return result
    return ALL
