"""Typed, strict reading of one TOML table: every value checked, every unknown key reported.

`TableReader` wraps the plain dict `tomllib` returns for one table and knows its dotted
key (`allowlist.detectors.webshell`). Each getter checks the type and names the full key
in its `ConfigError`; `finish()` reports keys nobody asked for, so a typo such as
`skip_binarys` is an error instead of a silently ignored setting. Positions (line and
column) are added later by `vigil.config`, which has the file text.
"""

from __future__ import annotations

import difflib
from typing import Any, Iterator, Mapping

from vigil.config_errors import ConfigError

_MISSING = object()


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


def join_key(parent: str, name: str | int) -> str:
    """The dotted key of `name` inside `parent` (`a.b` + `c` -> `a.b.c`, + 2 -> `a.b[2]`)."""
    if isinstance(name, int):
        return f"{parent}[{name}]"
    return f"{parent}.{name}" if parent else name


class TableReader:
    """Read the values of one TOML table by name, with types checked."""

    def __init__(self, data: Mapping[str, Any], key: str = "") -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(key, f"must be a table, not {_type_name(data)}")
        self.data = data
        self.key = key
        self._read: set[str] = set()

    def key_of(self, name: str | int) -> str:
        """The full dotted key of a value in this table."""
        return join_key(self.key, name)

    def error(self, name: str | int, message: str) -> ConfigError:
        """A `ConfigError` about one value of this table."""
        return ConfigError(self.key_of(name), message)

    def has(self, name: str) -> bool:
        """True when the table sets `name`."""
        return name in self.data

    def raw(self, name: str, default: Any = None) -> Any:
        """The value as written (marked as read), or `default`."""
        self._read.add(name)
        return self.data.get(name, default)

    def _typed(self, name: str, default: Any, types: tuple[type, ...], what: str) -> Any:
        self._read.add(name)
        value = self.data.get(name, _MISSING)
        if value is _MISSING:
            return default
        # bool is an int subclass; TOML keeps them apart, and so do we
        if isinstance(value, bool) and bool not in types:
            raise self.error(name, f"must be {what}, not a boolean")
        if not isinstance(value, types):
            raise self.error(name, f"must be {what}, not {_type_name(value)}")
        return value

    def get_str(self, name: str, default: str) -> str:
        """A string value."""
        return self._typed(name, default, (str,), "a string")

    def get_opt_str(self, name: str) -> str | None:
        """A string value, or None when absent."""
        return self._typed(name, None, (str,), "a string")

    def get_bool(self, name: str, default: bool) -> bool:
        """A boolean value."""
        return self._typed(name, default, (bool,), "a boolean (true or false)")

    def get_int(self, name: str, default: int, *, minimum: int | None = None) -> int:
        """An integer value, optionally at least `minimum`."""
        value = self._typed(name, default, (int,), "an integer")
        if minimum is not None and value < minimum:
            raise self.error(name, f"must be at least {minimum}, not {value}")
        return value

    def get_float(self, name: str, default: float, *, minimum: float | None = None) -> float:
        """A number (integer or float), optionally greater than `minimum`."""
        value = float(self._typed(name, default, (int, float), "a number"))
        if minimum is not None and value <= minimum:
            raise self.error(name, f"must be greater than {minimum:g}, not {value:g}")
        return value

    def get_str_list(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        """An array of strings."""
        value = self._typed(name, _MISSING, (list,), "an array of strings")
        if value is _MISSING:
            return default
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise ConfigError(join_key(self.key_of(name), i),
                                  f"must be a string, not {_type_name(item)}")
        return tuple(value)

    def get_int_list(self, name: str, default: tuple[int, ...] = (), *, minimum: int,
                     maximum: int) -> tuple[int, ...]:
        """An array of integers between `minimum` and `maximum`."""
        value = self._typed(name, _MISSING, (list,), "an array of integers")
        if value is _MISSING:
            return default
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, int):
                raise ConfigError(join_key(self.key_of(name), i),
                                  f"must be an integer, not {_type_name(item)}")
            if not minimum <= item <= maximum:
                raise ConfigError(join_key(self.key_of(name), i),
                                  f"must be between {minimum} and {maximum}, not {item}")
        return tuple(value)

    def table(self, name: str) -> "TableReader":
        """A sub-table (an empty one when absent)."""
        value = self._typed(name, {}, (dict,), "a table")
        return TableReader(value, self.key_of(name))

    def sub_tables(self) -> Iterator[tuple[str, "TableReader"]]:
        """Every value of this table, each of which must be a table (named sub-tables)."""
        for name in self.data:
            yield name, self.table(name)

    def finish(self) -> None:
        """Raise a `ConfigError` for the first key of the table that nobody read."""
        unknown = [name for name in self.data if name not in self._read]
        if not unknown:
            return
        name = unknown[0]
        known = sorted(self._read)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else (
            f" (expected one of: {', '.join(known)})" if known else "")
        more = f"; also unknown: {', '.join(unknown[1:])}" if len(unknown) > 1 else ""
        raise self.error(name, f"unknown key{hint}{more}")
