"""Reading Falco rules files: YAML documents into items that remember where they came from.

Each top-level element of a rules file becomes a `RawItem` with its file, line and source
snippet, so every error and warning further down can name the place it is about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # the C loader is ~10x faster; fall back when PyYAML was built without libyaml
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe YAML loader that reads a bare `=` as the string "=" (YAML 1.1 calls it the
    `value` tag; Falco rules use it as an operator in exception `comps`)."""


_Loader.add_constructor("tag:yaml.org,2002:value",
                        lambda loader, node: loader.construct_scalar(node))


@dataclass
class Problem:
    """An error or warning found while loading rules, with where it is."""

    message: str
    file: str = ""
    line: int | None = None
    item_type: str = ""
    item_name: str = ""
    snippet: str = ""
    #: short machine-readable kind (Falco's LOAD_ERR_* / LOAD_* codes, lower-cased)
    code: str = ""

    def where(self) -> str:
        """`file:line` (or what is known of it)."""
        loc = self.file or "<rules>"
        if self.line is not None:
            loc += f":{self.line}"
        return loc

    def __str__(self) -> str:
        item = f" {self.item_type} '{self.item_name}'" if self.item_name else ""
        return f"{self.where()}:{item}: {self.message}"


@dataclass
class RawItem:
    """One top-level element of a rules file."""

    data: Any
    file: str
    line: int
    snippet: str

    @property
    def kind(self) -> str:
        """`rule`, `macro`, `list`, `required_engine_version`, ... or `` when unknown."""
        if isinstance(self.data, dict):
            for k in ("rule", "macro", "list", "required_engine_version",
                      "required_plugin_versions"):
                if k in self.data:
                    return k
        return ""


@dataclass
class ReadResult:
    """The items of one file, or the error that stopped reading it."""

    items: list[RawItem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)


def read_rules_text(text: str, name: str = "<rules>") -> ReadResult:
    """Parse the text of a rules file into items; YAML errors become `Problem`s with a line."""
    result = ReadResult()
    if not text.strip():
        return result
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return result
        if not isinstance(root, yaml.SequenceNode):
            result.errors.append(Problem(
                "Rules content is not yaml array of objects", name,
                root.start_mark.line + 1, code="load_err_yaml_validate"))
            return result
        for node in root.value:
            data = loader.construct_object(node, deep=True)
            start, end = node.start_mark.index, node.end_mark.index
            result.items.append(RawItem(data, name, node.start_mark.line + 1, text[start:end]))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        msg = getattr(exc, "problem", None) or str(exc)
        result.errors.append(Problem(f"Invalid YAML: {msg}", name, line, code="load_err_yaml_parse"))
    finally:
        loader.dispose()
    return result


def read_rules_file(path: str | Path) -> ReadResult:
    """Read one rules file from disk."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return ReadResult(errors=[Problem(f"Could not read rules file: {exc}", str(p),
                                          code="load_err_file_read")])
    return read_rules_text(text, str(p))


def expand_rule_paths(paths: list[str | Path]) -> list[Path]:
    """Files in load order: each file as given; a directory gives its `*.yaml`/`*.yml`
    files sorted by name (Falco's `rules.d` convention)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(x for x in p.iterdir()
                              if x.suffix in (".yaml", ".yml") and x.is_file()))
        else:
            out.append(p)
    return out
