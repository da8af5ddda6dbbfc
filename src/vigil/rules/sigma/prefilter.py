"""Necessary-condition keys that let the engine skip rules that cannot match an event.

Most Sigma rules require one specific program: `Image|endswith: '/wget'`, auditd's
`a0: chmod`, `comm: split`. From a rule's compiled condition tree we derive, once, the set
of values one cheap event attribute must take for the rule to be able to match (a
*necessary* condition, never a sufficient one). At run time the engine looks the event's
attribute up in a dict and evaluates only the rules filed under it, plus the rules with no
key; the compiled predicate still decides every match. This is the Sigma counterpart of
Falco's event-type index, one level finer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from vigil.events.model import Event
from vigil.rules.ast import And, Compare, Const, FieldRef, ListValue, Node, Not, Or, Value

_EQ_OPS = frozenset({"=", "==", "iequals"})
_SUFFIX_OPS = frozenset({"endswith", "iendswith"})


def _basename(path: str | None) -> str:
    if not path:
        return ""
    return path.rsplit("/", 1)[-1].lower()


@dataclass(frozen=True)
class KeyKind:
    """One attribute the index can key on: how to read it and which comparisons imply it."""

    name: str
    #: the event's key (lowercased); must agree with `keys_of`
    event_key: Callable[[Event], str]
    #: the keys a comparison forces, or None when it forces nothing about this attribute
    keys_of: Callable[[Compare], frozenset[str] | None]


def _texts(c: Compare) -> list[str] | None:
    v = c.value
    if isinstance(v, Value):
        return [v.text]
    if isinstance(v, ListValue) and c.op == "in":
        return [i.text for i in v.items]
    return None


def _name_keys(c: Compare) -> frozenset[str] | None:
    if c.field != FieldRef("proc.name") or not (c.op in _EQ_OPS or c.op == "in"):
        return None
    texts = _texts(c)
    return None if texts is None else frozenset(t.lower() for t in texts)


def _exe_base_keys(c: Compare) -> frozenset[str] | None:
    if c.field != FieldRef("proc.exepath") or not isinstance(c.value, Value):
        return None
    text = c.value.text
    if c.op in _SUFFIX_OPS and "/" in text or c.op in _EQ_OPS:
        base = _basename(text)
        return frozenset({base}) if base else None
    return None


def _argv0_keys(c: Compare) -> frozenset[str] | None:
    if c.field != FieldRef("proc.argv", "0") or not (c.op in _EQ_OPS or c.op == "in"):
        return None
    texts = _texts(c)
    return None if texts is None else frozenset(t.lower() for t in texts)


KEY_KINDS: tuple[KeyKind, ...] = (
    KeyKind("proc.name", lambda e: (e.proc.name or "").lower(), _name_keys),
    KeyKind("exe_basename", lambda e: _basename(e.proc.exepath), _exe_base_keys),
    KeyKind("argv0", lambda e: (e.proc.exe or "").lower(), _argv0_keys),
)


def necessary_keys(node: Node, kind: KeyKind) -> frozenset[str] | None:
    """Values `kind`'s attribute must take for `node` to hold, or None if unconstrained."""
    if isinstance(node, Compare):
        return kind.keys_of(node)
    if isinstance(node, Const):
        return None if node.value else frozenset()
    if isinstance(node, And):
        best: frozenset[str] | None = None
        for c in node.children:
            k = necessary_keys(c, kind)
            if k is not None and (best is None or len(k) < len(best)):
                best = k
        return best
    if isinstance(node, Or):
        acc: set[str] = set()
        for c in node.children:
            k = necessary_keys(c, kind)
            if k is None:
                return None
            acc |= k
        return frozenset(acc)
    if isinstance(node, Not):
        return None
    return None


def best_key(node: Node) -> tuple[KeyKind, frozenset[str]] | None:
    """The most selective key kind for a condition (fewest values), or None."""
    best: tuple[KeyKind, frozenset[str]] | None = None
    for kind in KEY_KINDS:
        k = necessary_keys(node, kind)
        if k is not None and (best is None or len(k) < len(best[1])):
            best = (kind, k)
    return best
