"""Rewrites of a translated Sigma condition that keep its meaning and make it cheaper.

Sigma lists become long chains: `Image|endswith: [a, b, c]` is `f iendswith a or f iendswith
b or ...`, and each comparison would read the field and lower-case it again. Here the
case-insensitive comparisons of one field inside one `or` (or `contains` inside one `and`)
are merged into a single comparison on `tolower(field)` against the lower-cased literals:

    f iequals a or f iequals b          ->  tolower(f) in (a, b)
    f icontains a or f icontains b      ->  tolower(f) contains anyof (a, b)
                                            (4 or more: tolower(f) sregex "a|b|c|d")
    f istartswith a or f istartswith b  ->  tolower(f) startswith anyof (a, b)
    f icontains a and f icontains b     ->  tolower(f) contains allof (a, b)

so the field is read and lower-cased once per group. The merged node takes the place of
the group's first member; evaluation order of the other children is unchanged.
"""

from __future__ import annotations

import re

from vigil.rules.ast import And, Compare, FieldRef, ListValue, Node, Not, Or, Value

#: case-insensitive op -> (merged op, quantifier) inside an `or`
_OR_MERGE = {"iequals": ("in", None), "icontains": ("contains", "anyof"),
             "istartswith": ("startswith", "anyof"), "iendswith": ("endswith", "anyof")}
#: inside an `and`
_AND_MERGE = {"icontains": ("contains", "allof")}
LOWER = "tolower"
#: from this many `contains` literals on, a group becomes one regular-expression search
REGEX_MIN = 4


def _mergeable(n: Node, table: dict[str, tuple[str, str | None]]) -> bool:
    return (isinstance(n, Compare) and n.op in table and isinstance(n.value, Value)
            and isinstance(n.field, FieldRef) and not n.field.transformers
            and n.quantifier is None)


def merge_literal_sets(node: Node) -> Node:
    """The condition with same-field case-insensitive comparisons merged (see module doc)."""
    if isinstance(node, Not):
        return Not(merge_literal_sets(node.child))
    if not isinstance(node, (And, Or)):
        return node
    kids = [merge_literal_sets(c) for c in node.children]
    table = _OR_MERGE if isinstance(node, Or) else _AND_MERGE
    groups: dict[tuple[FieldRef, str], list[Compare]] = {}
    for k in kids:
        if _mergeable(k, table):
            groups.setdefault((k.field, k.op), []).append(k)  # type: ignore[union-attr, arg-type]
    out: list[Node] = []
    done: set[tuple[FieldRef, str]] = set()
    for k in kids:
        if not _mergeable(k, table):
            out.append(k)
            continue
        key = (k.field, k.op)  # type: ignore[union-attr]
        group = groups[key]  # type: ignore[index]
        if len(group) == 1:
            out.append(k)
        elif key not in done:
            done.add(key)  # type: ignore[arg-type]
            out.append(_merged(group, table))
    if len(out) == 1:
        return out[0]
    return type(node)(tuple(out))


def _merged(group: list[Compare], table: dict[str, tuple[str, str | None]]) -> Compare:
    first = group[0]
    op, quantifier = table[first.op]
    texts = list(dict.fromkeys(c.value.text.lower() for c in group))  # type: ignore[union-attr]
    field = FieldRef(first.field.name, first.field.arg, (LOWER,))  # type: ignore[union-attr]
    if quantifier == "anyof" and op == "contains" and len(texts) >= REGEX_MIN:
        # one search for an alternation of literals beats a test per literal
        pattern = "|".join(re.escape(t) for t in texts)
        return Compare(field, "sregex", Value(pattern, True))
    return Compare(field, op, ListValue(tuple(Value(t, True) for t in texts)), quantifier)
