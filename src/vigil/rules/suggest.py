"""“Did you mean …?”: the closest known name to a misspelt one.

Used wherever a user names something that must exist: fields in conditions and outputs
(against the field registry), macros and lists in rule files, rule names in rule tests and
in `vigil.toml`. Matching is difflib's ratio (stdlib, good enough for typos and swapped
letters in names of a few dozen characters); a name that is not close to anything gets no
suggestion rather than a wrong one.
"""

from __future__ import annotations

import difflib
from typing import Iterable

from vigil.events.fields import ArgMode, FieldRegistry
from vigil.rules.ast import Compare, FieldRef, FieldValue, Getopt, Join, Node, walk

#: how close a name must be to be suggested (difflib ratio)
CUTOFF = 0.75


def closest(name: str, known: Iterable[str], cutoff: float = CUTOFF) -> str | None:
    """The known name closest to `name` (case-insensitive), or None when none is close."""
    names = list(dict.fromkeys(known))
    if not names:
        return None
    if len(name) <= 5 and cutoff == CUTOFF:
        cutoff = 0.6  # one swapped letter costs a short name a large part of its ratio
    lowered: dict[str, str] = {}
    for n in names:
        lowered.setdefault(n.lower(), n)
    hit = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=cutoff)
    return lowered[hit[0]] if hit else None


def did_you_mean(name: str, known: Iterable[str], cutoff: float = CUTOFF) -> str:
    """` (did you mean X?)` for the closest known name, or `` when none is close."""
    hit = closest(name, known, cutoff)
    return f" (did you mean {hit}?)" if hit is not None and hit != name else ""


def closest_field(name: str, registry: FieldRegistry) -> str | None:
    """The registry field a misspelt field name most likely meant.

    `proc.nmae` → `proc.name`; the dotted argument form keeps its argument:
    `evt.args.flags` → `evt.arg.flags`.
    """
    names = [f.name for f in registry]
    hit = closest(name, names)
    parts = name.split(".")
    # a misspelt prefix of a field that takes its argument after a dot
    for i in range(len(parts) - 1, 1, -1):
        prefix, rest = ".".join(parts[:i]), ".".join(parts[i:])
        known = registry.get(prefix)
        if known is not None and known.arg is not ArgMode.NONE:
            break  # the name resolves up to here: its argument is the problem, not its name
        guess = closest(prefix, (f.name for f in registry if f.arg is not ArgMode.NONE))
        if guess is not None:
            candidate = f"{guess}.{rest}"
            if hit is None or difflib.SequenceMatcher(None, name, candidate).ratio() > \
                    difflib.SequenceMatcher(None, name, hit).ratio():
                hit = candidate
            break
    return hit


def _field_refs(left: object) -> Iterable[FieldRef]:
    if isinstance(left, FieldRef):
        yield left
    elif isinstance(left, Join):
        for item in left.items:
            yield from _field_refs(item)
    elif isinstance(left, Getopt):
        yield left.field
    elif isinstance(left, FieldValue):
        yield from _field_refs(left.field)


def unknown_fields(node: Node, registry: FieldRegistry) -> list[str]:
    """Field names used in a condition tree that the registry does not know, in order."""
    out: list[str] = []
    for n in walk(node):
        if not isinstance(n, Compare):
            continue
        for ref in (*_field_refs(n.field), *_field_refs(n.value)):
            if ref.name in out:
                continue
            if ref.name in registry:
                continue
            try:
                registry.resolve(ref.name, ref.arg)
            except KeyError:
                out.append(ref.name)
    return out


def field_hint(node: Node, registry: FieldRegistry, message: str = "") -> str:
    """` (did you mean proc.name?)` for the unknown field of a condition that `message`
    (the compiler's error) names — or the first unknown one — or `` without a guess."""
    unknown = unknown_fields(node, registry)
    named = [n for n in unknown if n in message.split()]
    for name in named or unknown[:1]:
        guess = closest_field(name, registry)
        if guess is not None:
            return f" (did you mean {guess}?)"
    return ""
