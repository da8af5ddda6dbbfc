"""Bound how deep a recorded JSON line nests, before a recursive decoder sees it.

A recording is untrusted input: a line whose `proc.parent` is nested a thousand deep, or
whose `args` hold arrays in arrays, would make msgspec (and everything that walks the
result: the audit trail, Falco output) exhaust Python's recursion limit. This module scans
a line iteratively, without decoding it:

- the process ancestry (`proc`, `proc.parent`, `proc.parent.parent`, ...) is cut at
  `max_ancestry` parents (the live process table keeps as many): the ancestor past the
  last one kept becomes `null`, and the event is kept;
- any other nesting deeper than `max_nesting` levels refuses the line, with a message.

It looks at JSON's structure only (strings are skipped whole, escapes included); a line
that is not valid JSON is returned as it is, for the decoder to report.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

#: the next character that matters to the structure
_STRUCTURAL = re.compile(rb'["{}\[\]]')
#: the rest of a string after its opening quote
_STRING_REST = re.compile(rb'(?:[^"\\]|\\.)*"', re.DOTALL)
_SPACE = b" \t\r\n"


@dataclass(frozen=True)
class Bounded:
    """The line to decode (the ancestry cut if it was too long), or why it is refused."""

    line: bytes
    #: parents found beyond `max_ancestry` (0: nothing was cut)
    cut_ancestors: int = 0
    problem: str | None = None


def _key(raw: bytes) -> bytes:
    if b"\\" not in raw:
        return raw
    try:
        return json.loads(b'"' + raw + b'"').encode("utf-8", "surrogatepass")
    except ValueError:
        return raw


def bound_nesting(line: bytes, *, max_ancestry: int, max_nesting: int) -> Bounded:
    """Scan `line` (one JSON object); see the module docstring."""
    #: per open container: "{" or "[", and its level in the ancestry chain (-1: not in it;
    #: 0: `proc`; k: the k-th parent)
    stack: list[tuple[bytes, int]] = []
    pending_key: bytes | None = None
    cut: tuple[int, int] | None = None  # (start, depth) of the ancestor being cut
    cut_end = -1
    ancestors = 0
    deepest_other = 0
    pos = 0
    n = len(line)
    while True:
        m = _STRUCTURAL.search(line, pos)
        if m is None:
            break
        i = m.start()
        c = line[i:i + 1]
        if c == b'"':
            s = _STRING_REST.match(line, i + 1)
            if s is None:
                return Bounded(line)  # an unterminated string: the decoder says so
            j = s.end()
            while j < n and line[j] in _SPACE:
                j += 1
            is_key = j < n and line[j:j + 1] == b":" and stack and stack[-1][0] == b"{"
            pending_key = _key(line[i + 1:s.end() - 1]) if is_key else None
            pos = s.end()
            continue
        if c in b"{[":
            parent_level = stack[-1][1] if stack else -1
            level = -1
            if c == b"{":
                if len(stack) == 1 and pending_key == b"proc":
                    level = 0
                elif parent_level >= 0 and pending_key == b"parent":
                    level = parent_level + 1
            if level > max_ancestry and cut is None:
                cut = (i, len(stack))
            if level > 0:
                ancestors = max(ancestors, level)
            stack.append((c, level))
            if cut is None:
                chain = sum(1 for _c, lv in stack if lv >= 0)
                deepest_other = max(deepest_other, len(stack) - chain)
            pending_key = None
            pos = i + 1
            continue
        # a closing bracket
        if not stack:
            return Bounded(line)
        stack.pop()
        if cut is not None and len(stack) == cut[1] and cut_end < 0:
            cut_end = i + 1
        pending_key = None
        pos = i + 1
    if deepest_other > max_nesting:
        return Bounded(line, problem=f"nested deeper than {max_nesting} levels (outside the "
                                     "process ancestry): not an event")
    if cut is None or cut_end < 0:
        return Bounded(line)
    return Bounded(line[:cut[0]] + b"null" + line[cut_end:],
                   cut_ancestors=ancestors - max_ancestry)
