"""Named sets of path patterns: exact paths, directory prefixes and shell-style globs.

A pattern ending in `/` matches everything under that directory; one containing `*`, `?`
or `[` is an `fnmatch` glob (where `*` also crosses `/`, so `*/.ssh/id_*` matches any home);
anything else must match exactly. `match` returns the category and pattern that matched,
so outputs and suppression entries can say why a path counted.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Iterable, Mapping

_GLOB = frozenset("*?[")


class PathPatterns:
    """Categories of path patterns, compiled once for fast matching."""

    def __init__(self, categories: Mapping[str, Iterable[str]]) -> None:
        self._exact: dict[str, tuple[str, str]] = {}
        self._prefixes: list[tuple[str, str, str]] = []
        globs: list[tuple[str, str, re.Pattern[str]]] = []
        for category, patterns in categories.items():
            for pat in patterns:
                if not _GLOB.isdisjoint(pat):
                    globs.append((category, pat, re.compile(fnmatch.translate(pat))))
                elif pat.endswith("/"):
                    self._prefixes.append((pat, category, pat))
                else:
                    self._exact[pat] = (category, pat)
        self._globs = globs

    def match(self, path: str | None) -> tuple[str, str] | None:
        """`(category, pattern)` of the first pattern matching `path`, or None."""
        if not path:
            return None
        hit = self._exact.get(path)
        if hit is not None:
            return hit
        for prefix, category, pat in self._prefixes:
            if path.startswith(prefix):
                return category, pat
        for category, pat, rx in self._globs:
            if rx.match(path):
                return category, pat
        return None
