"""Named sets of path patterns: exact paths, directory prefixes and shell-style globs.

A pattern ending in `/` matches everything under that directory; one containing `*`, `?`
or `[` is an `fnmatch` glob (where `*` also crosses `/`, so `*/.ssh/id_*` matches any home);
anything else must match exactly. `match` returns the category and pattern that matched,
so outputs and suppression entries can say why a path counted.

Matching runs on every file open, so it avoids regular expressions where it can: exact
paths are a dict lookup, prefixes and `*<literal>` suffix globs one `startswith`/`endswith`
call on a tuple, and the other globs are only tried when the path has their literal head,
tail and longest literal run.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Iterable, Mapping

_GLOB = frozenset("*?[")


def _literals(pattern: str) -> tuple[str, str, str]:
    """Literal text the pattern requires: before its first and after its last glob
    character, and its longest literal run (all three may be empty)."""
    first = min(pattern.index(c) for c in _GLOB if c in pattern)
    last = max(pattern.rindex(c) for c in _GLOB if c in pattern)
    tail = pattern[last + 1:]
    if "[" in pattern[:last + 1] and "]" in tail:  # a bracket class closes in the tail
        tail = tail[tail.rindex("]") + 1:]
    inner = "[" not in pattern and max(re.split(r"[*?]", pattern), key=len) or ""
    return pattern[:first], tail, inner


class PathPatterns:
    """Categories of path patterns, compiled once for fast matching."""

    def __init__(self, categories: Mapping[str, Iterable[str]]) -> None:
        self._exact: dict[str, tuple[str, str]] = {}
        self._prefixes: list[tuple[str, str, str]] = []
        self._suffixes: list[tuple[str, str, str]] = []
        self._globs: list[tuple[str, str, str, str, str, re.Pattern[str]]] = []
        for category, patterns in categories.items():
            for pat in patterns:
                if _GLOB.isdisjoint(pat):
                    if pat.endswith("/"):
                        self._prefixes.append((pat, category, pat))
                    else:
                        self._exact[pat] = (category, pat)
                elif pat.startswith("*") and _GLOB.isdisjoint(pat[1:]):
                    self._suffixes.append((pat[1:], category, pat))
                else:
                    head, tail, inner = _literals(pat)
                    self._globs.append((head, tail, inner, category, pat,
                                        re.compile(fnmatch.translate(pat))))
        self._prefix_tuple = tuple(p for p, _c, _pat in self._prefixes)
        self._suffix_tuple = tuple(s for s, _c, _pat in self._suffixes)
        # one scan for "does the path contain any glob's required literal run"
        inners = [g[2] for g in self._globs]
        self._glob_gate = re.compile("|".join(re.escape(i) for i in inners)) \
            if inners and all(inners) else None

    def match(self, path: str | None) -> tuple[str, str] | None:
        """`(category, pattern)` of the first pattern matching `path`, or None."""
        if not path or not isinstance(path, str):
            return None
        hit = self._exact.get(path)
        if hit is not None:
            return hit
        if self._prefix_tuple and path.startswith(self._prefix_tuple):
            for prefix, category, pat in self._prefixes:
                if path.startswith(prefix):
                    return category, pat
        if self._suffix_tuple and path.endswith(self._suffix_tuple):
            for suffix, category, pat in self._suffixes:
                if path.endswith(suffix):
                    return category, pat
        if self._glob_gate is not None and self._glob_gate.search(path) is None:
            return None
        for head, tail, inner, category, pat, rx in self._globs:
            if path.startswith(head) and path.endswith(tail) and inner in path \
                    and rx.match(path):
                return category, pat
        return None
