"""YAML that remembers where each value was written, so a spec error can name its line.

`load_located(text)` returns plain-looking dicts and lists (`LocatedMap`, `LocatedSeq`)
that also carry the 1-based line of the mapping or sequence and of each key or item.
Duplicate keys, which PyYAML would silently collapse, are errors here: in a test spec the
second `expect:` of a case would otherwise quietly replace the first.
"""

from __future__ import annotations

from typing import Any

import yaml

try:  # the C parser is much faster; the constructor below is Python either way
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


class LocatedMap(dict):
    """A YAML mapping with the line of itself and of each key."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        """The line of `key` (the mapping's own line when the key is absent)."""
        return self.key_lines.get(key, self.line)


class LocatedSeq(list):
    """A YAML sequence with the line of itself and of each item."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        """The line of item `index`."""
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


class LocatedYAMLError(ValueError):
    """A YAML text that cannot be read, with the line of the problem (None: unknown)."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loader building `LocatedMap`/`LocatedSeq`."""


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> LocatedMap:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            if key in seen:
                raise LocatedYAMLError(f"duplicate key {key!r} (first at line {seen[key]})",
                                       line)
        except TypeError:
            raise LocatedYAMLError("a mapping key must be a plain value", line) from None
        seen[key] = line
    loader.flatten_mapping(node)  # YAML merge keys (`<<: *defaults`)
    out = LocatedMap()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> LocatedSeq:
    out = LocatedSeq(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


#: values a document may hold once its aliases are expanded (a "billion laughs" document
#: is a few lines that expand to billions)
MAX_EXPANDED_VALUES = 1_000_000


def _expanded_size(value: Any, memo: dict[int, int]) -> int:
    """How many values `value` holds with aliases expanded; shared parts are counted once
    per use but computed once (memo by identity), so this is linear in the document."""
    if not isinstance(value, (dict, list)):
        return 1
    key = id(value)
    if key in memo:
        return memo[key]
    items = value.values() if isinstance(value, dict) else value
    total = 1
    for v in items:
        total += _expanded_size(v, memo)
        if total > MAX_EXPANDED_VALUES:
            break
    memo[key] = total
    return total


def load_located(text: str) -> Any:
    """Parse one YAML document; raises `LocatedYAMLError` with a line on bad YAML."""
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
        if _expanded_size(data, {}) > MAX_EXPANDED_VALUES:
            raise LocatedYAMLError(f"the document expands to more than "
                                   f"{MAX_EXPANDED_VALUES} values (YAML aliases)", None)
        return data
    except LocatedYAMLError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        msg = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        raise LocatedYAMLError(f"invalid YAML: {msg}" + (f" ({context})" if context else ""),
                               line) from None
    except RecursionError:
        raise LocatedYAMLError("invalid YAML: nested too deeply", None) from None
    finally:
        loader.dispose()


def plain(value: Any) -> Any:
    """The same data as built-in dicts and lists (for msgspec and JSON)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
