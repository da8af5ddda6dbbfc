"""Find where a dotted configuration key is written in a TOML file (line and column).

`tomllib` gives values without positions, so a validation error ("`ports[2]` must be an
integer") could not otherwise point at the file. This module scans the TOML text for its
structure only — table headers, keys, array elements, inline tables — and records the
position of every key path it meets. Values are skipped, never interpreted.

It runs after `tomllib` accepted the file, so it may assume well-formed input; on
anything it does not understand it stops and keeps what it found so far.
"""

from __future__ import annotations

import re

KeyPath = tuple[str | int, ...]
Position = tuple[int, int]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_KEY_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_SCALAR_END = ",]}#\n\r"


class _ScanStop(Exception):
    """The scanner met something it does not understand."""


class _StructureScanner:
    """One pass over a TOML text, recording the position of each key path."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.found: dict[KeyPath, Position] = {}
        #: array-of-tables path (with indices of enclosing arrays) -> current index
        self.table_arrays: dict[KeyPath, int] = {}

    def position(self, pos: int) -> Position:
        line = self.text.count("\n", 0, pos) + 1
        col = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return line, col

    def record(self, path: KeyPath, pos: int) -> None:
        """Record `path` and its implicitly defined parents (`[a.b]` defines `a`)."""
        where = self.position(pos)
        for n in range(1, len(path) + 1):
            # the first occurrence wins: that is where the key was defined
            self.found.setdefault(path[:n], where)

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos:self.pos + n]

    def skip_blank(self, newlines: bool) -> None:
        text = self.text
        while self.pos < len(text):
            c = text[self.pos]
            if c in " \t" or (newlines and c in "\r\n"):
                self.pos += 1
            elif c == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                return

    def skip_string(self) -> str:
        """Skip a string at `pos`; return its raw contents (escapes left as written)."""
        text = self.text
        for quote in ('"""', "'''", '"', "'"):
            if text.startswith(quote, self.pos):
                break
        else:
            raise _ScanStop
        start = self.pos + len(quote)
        i = start
        while i < len(text):
            if quote[0] == '"' and text[i] == "\\":
                i += 2
                continue
            if text.startswith(quote, i):
                # a multi-line string may end with up to two extra quote characters
                while len(quote) == 3 and text.startswith(quote, i + 1):
                    i += 1
                self.pos = i + len(quote)
                return text[start:i]
            i += 1
        raise _ScanStop

    def key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self.skip_blank(newlines=False)
            if self.peek() in ('"', "'"):
                parts.append(self.skip_string())
            else:
                m = _BARE_KEY.match(self.text, self.pos)
                if not m:
                    raise _ScanStop
                parts.append(m.group())
                self.pos = m.end()
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return tuple(parts)
            self.pos += 1

    def resolve(self, parts: tuple[str, ...]) -> KeyPath:
        """Insert the current index after each enclosing array of tables."""
        resolved: KeyPath = ()
        for part in parts:
            resolved += (part,)
            if resolved in self.table_arrays:
                resolved += (self.table_arrays[resolved],)
        return resolved

    def expect(self, token: str) -> None:
        self.skip_blank(newlines=False)
        if not self.text.startswith(token, self.pos):
            raise _ScanStop
        self.pos += len(token)

    def value(self, path: KeyPath) -> None:
        self.skip_blank(newlines=False)
        c = self.peek()
        if c == "[":
            self.pos += 1
            index = 0
            while True:
                self.skip_blank(newlines=True)
                if self.peek() == "]":
                    self.pos += 1
                    return
                self.record(path + (index,), self.pos)
                self.value(path + (index,))
                self.skip_blank(newlines=True)
                if self.peek() == ",":
                    self.pos += 1
                index += 1
        elif c == "{":
            self.pos += 1
            while True:
                self.skip_blank(newlines=True)
                if self.peek() == "}":
                    self.pos += 1
                    return
                start = self.pos
                sub = path + self.key()
                self.record(sub, start)
                self.expect("=")
                self.value(sub)
                self.skip_blank(newlines=True)
                if self.peek() == ",":
                    self.pos += 1
        elif c in ('"', "'"):
            self.skip_string()
        else:
            start = self.pos
            while self.pos < len(self.text) and self.text[self.pos] not in _SCALAR_END:
                self.pos += 1
            if self.pos == start:
                raise _ScanStop

    def run(self) -> dict[KeyPath, Position]:
        table: KeyPath = ()
        try:
            while True:
                self.skip_blank(newlines=True)
                if self.pos >= len(self.text):
                    break
                start = self.pos
                if self.peek(2) == "[[":
                    self.pos += 2
                    parts = self.key()
                    self.expect("]]")
                    array = self.resolve(parts[:-1]) + (parts[-1],)
                    self.table_arrays[array] = self.table_arrays.get(array, -1) + 1
                    table = array + (self.table_arrays[array],)
                    self.record(array, start)
                    self.record(table, start)
                elif self.peek() == "[":
                    self.pos += 1
                    table = self.resolve(self.key())
                    self.expect("]")
                    self.record(table, start)
                else:
                    path = table + self.key()
                    self.record(path, start)
                    self.expect("=")
                    self.value(path)
        except (_ScanStop, IndexError):
            pass
        return self.found


def key_positions(text: str) -> dict[KeyPath, Position]:
    """Every key path written in `text` -> (line, column), both 1-based."""
    return _StructureScanner(text).run()


def parse_key(key: str) -> KeyPath:
    """`"alerts.routes[1].min_priority"` -> `("alerts", "routes", 1, "min_priority")`."""
    return tuple(int(m.group(2)) if m.group(2) is not None else m.group(1)
                 for m in _KEY_PART.finditer(key))


def locate_key(text: str, key: str) -> Position | None:
    """Where `key` (or its nearest written ancestor) is in `text`; None if nowhere."""
    found = key_positions(text)
    path = parse_key(key)
    for n in range(len(path), 0, -1):
        if path[:n] in found:
            return found[path[:n]]
    return None
