"""Collecting rules-file items into lists, macros and rules with Falco's semantics.

Items are applied in load order: definitions, redefinitions (a later definition replaces an
earlier one), the legacy `append: true`, and `override` (append or replace per key, checked
against Falco's tables of which keys may be appended to and which replaced).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from vigil.priority import Priority
from vigil.rules.falco.reader import Problem, RawItem

#: the engine version whose rule language Vigil implements (Falco's numbering)
ENGINE_VERSION = (0, 57, 0)

RULE_KEYS = frozenset({"rule", "desc", "condition", "output", "priority", "enabled", "tags",
                       "source", "exceptions", "warn_evttypes", "skip-if-unknown-filter",
                       "append", "override", "capture", "capture_duration"})
MACRO_KEYS = frozenset({"macro", "condition", "append", "override"})
LIST_KEYS = frozenset({"list", "items", "append", "override"})
RULE_APPENDABLE = frozenset({"condition", "output", "desc", "tags", "exceptions"})
RULE_REPLACEABLE = frozenset({"condition", "output", "desc", "priority", "tags", "exceptions",
                              "enabled", "warn_evttypes", "skip-if-unknown-filter", "capture",
                              "capture_duration"})
_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_DEFAULT_SOURCE = "syscall"


@dataclass
class Origin:
    """Where an item was defined."""

    file: str
    line: int
    snippet: str


@dataclass
class ListDef:
    """A `list` item after appends/overrides."""

    name: str
    items: list[str]
    origin: Origin
    index: int


@dataclass
class MacroDef:
    """A `macro` item after appends/overrides (condition still as text)."""

    name: str
    condition: str
    origin: Origin
    index: int


@dataclass
class ExceptionDef:
    """One entry of a rule's `exceptions`."""

    name: str
    fields: list[str] | str | None
    comps: list[str] | str | None
    values: list[Any]


@dataclass
class RuleDef:
    """A `rule` item after appends/overrides (condition and output still as text)."""

    name: str
    condition: str
    output: str
    desc: str
    priority: Priority
    source: str
    origin: Origin
    index: int
    enabled: bool = True
    tags: list[str] = field(default_factory=list)
    exceptions: list[ExceptionDef] = field(default_factory=list)
    warn_evttypes: bool = True
    skip_if_unknown_filter: bool = False
    capture: bool = False
    capture_duration: int = 0


class ItemError(Exception):
    """Raised inside the collector to report one error about the current item."""


def _as_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "true", "on", "no",
                                                             "false", "off"):
        return value.strip().lower() in ("yes", "true", "on")
    raise ItemError(f"Value of '{key}' must be a boolean")


def _as_str(value: Any, key: str) -> str:
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ItemError(f"Value of '{key}' must be a string")


def _as_str_list(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ItemError(f"Value of '{key}' must be a sequence")
    return [str(v) for v in value]


def _parse_priority(value: Any) -> Priority:
    try:
        return Priority.parse(str(value))
    except ValueError:
        raise ItemError(f"Invalid priority level: {value}") from None


def parse_engine_version(value: Any) -> tuple[int, int, int]:
    """`0.57.0` or a bare integer `26` (old style: minor version) as a version tuple."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (0, value, 0)
    text = str(value).strip()
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", text)
    if m:
        return tuple(int(x) for x in m.groups())  # type: ignore[return-value]
    if text.isdigit():
        return (0, int(text), 0)
    raise ItemError(f"Unable to parse engine version '{value}'")


def _parse_exceptions(value: Any, require_fields: bool) -> list[ExceptionDef]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ItemError("Value of 'exceptions' must be a sequence")
    out = []
    for ex in value:
        if not isinstance(ex, dict):
            raise ItemError("Each exception must be a mapping")
        if "name" not in ex:
            raise ItemError("Item has no mapping for key 'name'")
        if require_fields and "fields" not in ex:
            raise ItemError("Item has no mapping for key 'fields'")
        out.append(ExceptionDef(str(ex["name"]), ex.get("fields"), ex.get("comps"),
                                list(ex.get("values") or [])))
    return out


class RuleCollector:
    """Applies items in order and keeps the resulting definitions, errors and warnings."""

    def __init__(self) -> None:
        self.lists: dict[str, ListDef] = {}
        self.macros: dict[str, MacroDef] = {}
        self.rules: dict[str, RuleDef] = {}
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.required_plugins: list[dict[str, Any]] = []
        self._n = 0

    # -- reporting -------------------------------------------------------------------------

    def _problem(self, item: RawItem, message: str, code: str) -> Problem:
        data = item.data if isinstance(item.data, dict) else {}
        kind = item.kind
        name = str(data.get(kind, "")) if kind in ("rule", "macro", "list") else ""
        return Problem(message, item.file, item.line, kind, name, item.snippet, code)

    def error(self, item: RawItem, message: str, code: str = "load_err_validate") -> None:
        """Record an error about `item`."""
        self.errors.append(self._problem(item, message, code))

    def warn(self, item: RawItem, message: str, code: str = "load_warning") -> None:
        """Record a warning about `item`."""
        self.warnings.append(self._problem(item, message, code))

    # -- entry point -----------------------------------------------------------------------

    def collect(self, item: RawItem) -> None:
        """Apply one item."""
        if not isinstance(item.data, dict):
            self.error(item, "Unexpected element type. Each element should be a yaml "
                             "associative array.", "load_err_yaml_validate")
            return
        kind = item.kind
        try:
            if kind == "rule":
                self._rule(item)
            elif kind == "macro":
                self._macro(item)
            elif kind == "list":
                self._list(item)
            elif kind == "required_engine_version":
                self._engine_version(item)
            elif kind == "required_plugin_versions":
                self._plugins(item)
            else:
                self.warn(item, "Unknown top level object", "load_unknown_item")
        except ItemError as exc:
            self.error(item, str(exc))

    def _origin(self, item: RawItem) -> Origin:
        return Origin(item.file, item.line, item.snippet)

    def _next(self) -> int:
        self._n += 1
        return self._n

    def _unknown_keys(self, item: RawItem, allowed: frozenset[str]) -> None:
        for k in item.data:
            if k not in allowed:
                self.warn(item, f"Unknown key '{k}'. The key will be ignored.", "load_unknown_key")

    def _overrides(self, item: RawItem) -> dict[str, str] | None:
        ov = item.data.get("override")
        if ov is None:
            return None
        if not isinstance(ov, dict):
            raise ItemError("Value of 'override' must be a mapping")
        if item.data.get("append") is True:
            self.warn(item, "The 'append' key is deprecated: use 'override' instead",
                      "load_deprecated_item")
            raise ItemError("Keys 'override' and 'append: true' cannot be used together. Add "
                            "an 'append' entry (e.g. 'condition: append') under 'override' "
                            "instead.")
        out = {}
        for k, mode in ov.items():
            if mode not in ("append", "replace"):
                raise ItemError(f"Invalid override mode '{mode}' for key '{k}': must be "
                                f"'append' or 'replace'")
            out[str(k)] = mode
        return out

    # -- engine / plugins ------------------------------------------------------------------

    def _engine_version(self, item: RawItem) -> None:
        v = parse_engine_version(item.data["required_engine_version"])
        if v > ENGINE_VERSION:
            have = ".".join(map(str, ENGINE_VERSION))
            raise ItemError(f"Rules require engine version {'.'.join(map(str, v))}, but "
                            f"engine version is {have}")

    def _plugins(self, item: RawItem) -> None:
        value = item.data["required_plugin_versions"]
        if not isinstance(value, list):
            raise ItemError("Value of 'required_plugin_versions' must be a sequence")
        for p in value:
            if not isinstance(p, dict) or "name" not in p or "version" not in p:
                raise ItemError("Each required plugin needs 'name' and 'version'")
            self.required_plugins.append(p)

    # -- lists and macros ------------------------------------------------------------------

    def _list(self, item: RawItem) -> None:
        self._named_item(
            item, "list", LIST_KEYS, "items", _as_str_list, self.lists,
            make=lambda name, v: ListDef(name, v, self._origin(item), self._next()),
            append=lambda ex, v: ex.items.extend(v),
            replace=lambda ex, v: setattr(ex, "items", v))

    def _macro(self, item: RawItem) -> None:
        self._named_item(
            item, "macro", MACRO_KEYS, "condition", _as_str, self.macros,
            make=lambda name, v: MacroDef(name, v, self._origin(item), self._next()),
            append=lambda ex, v: setattr(ex, "condition", f"{ex.condition} {v}"),
            replace=lambda ex, v: setattr(ex, "condition", v))

    def _named_item(self, item: RawItem, kind: str, keys: frozenset[str], body: str,
                    parse: Callable[[Any, str], Any], table: dict[str, Any], *,
                    make: Callable[[str, Any], Any], append: Callable[[Any, Any], None],
                    replace: Callable[[Any, Any], None]) -> None:
        """Lists and macros: define, redefine, `append: true`, or `override` of their one
        body key (`items` / `condition`), with Falco's rules for each."""
        d = item.data
        title = kind.capitalize()
        name = _as_str(d[kind], kind)
        self._unknown_keys(item, keys)
        if not _NAME_RE.match(name):
            self.warn(item, f"{title} has an invalid name. {title} names should match a "
                            f"regular expression: {_NAME_RE.pattern}",
                      f"load_invalid_{kind}_name")
        if body not in d:
            raise ItemError(f"Item has no mapping for key '{body}'")
        value = parse(d[body], body)
        ov = self._overrides(item)
        existing = table.get(name)
        if ov is not None:
            for k in ov:
                if k != body:
                    raise ItemError(f"Key '{k}' cannot be overridden in a {kind}")
            if ov.get(body) == "append":
                if existing is None:
                    raise ItemError(f"{title} has 'override' key but no {kind} by that name "
                                    "already exists")
                append(existing, value)
            elif existing is None:
                # Falco accepts a replace before the definition: it defines the item
                table[name] = make(name, value)
            else:
                replace(existing, value)
            return
        if d.get("append") is True:
            self.warn(item, "The 'append' key is deprecated: use 'override' instead",
                      "load_deprecated_item")
            if existing is None:
                raise ItemError(f"{title} has 'append' key but no {kind} by that name "
                                "already exists")
            append(existing, value)
            return
        if existing is not None:
            replace(existing, value)
            existing.origin = self._origin(item)
        else:
            table[name] = make(name, value)

    # -- rules -----------------------------------------------------------------------------

    def _rule(self, item: RawItem) -> None:
        d = item.data
        name = _as_str(d["rule"], "rule")
        self._unknown_keys(item, RULE_KEYS)
        existing = self.rules.get(name)
        source = d.get("source")
        source = _as_str(source, "source").strip() if source is not None else ""
        if existing is not None and source and source != existing.source:
            raise ItemError("Rule has been re-defined with a different source")
        ov = self._overrides(item)
        if ov is not None:
            self._rule_override(item, name, existing, ov)
            return
        if d.get("append") is True:
            self._rule_append(item, name, existing)
            return
        keys = set(d) - {"rule", "append"}
        if existing is not None and keys == {"enabled"}:
            self.warn(item, "Enabling or disabling a rule by redefining it with only "
                            "'enabled' is deprecated: use 'override: {enabled: replace}'",
                      "load_deprecated_item")
            existing.enabled = _as_bool(d["enabled"], "enabled")
            return
        if existing is None and keys == {"enabled"}:
            raise ItemError("Rule has 'enabled' key but no rule by that name already exists")
        for k in ("condition", "output", "desc", "priority"):
            if k not in d:
                raise ItemError(f"Item has no mapping for key '{k}'")
        rule = RuleDef(
            name=name,
            condition=_as_str(d["condition"], "condition"),
            output=_as_str(d["output"], "output").strip(),
            desc=_as_str(d["desc"], "desc"),
            priority=_parse_priority(d["priority"]),
            source=source or _DEFAULT_SOURCE,
            origin=self._origin(item),
            index=existing.index if existing else self._next(),
        )
        self._apply_optional(rule, d)
        self.rules[name] = rule

    def _apply_optional(self, rule: RuleDef, d: dict[str, Any]) -> None:
        if "enabled" in d:
            rule.enabled = _as_bool(d["enabled"], "enabled")
        if "tags" in d:
            rule.tags = _as_str_list(d["tags"], "tags")
        if "exceptions" in d:
            rule.exceptions = _parse_exceptions(d["exceptions"], True)
            self._check_unique_exceptions(rule)
        if "warn_evttypes" in d:
            rule.warn_evttypes = _as_bool(d["warn_evttypes"], "warn_evttypes")
        if "skip-if-unknown-filter" in d:
            rule.skip_if_unknown_filter = _as_bool(d["skip-if-unknown-filter"],
                                                   "skip-if-unknown-filter")
        if "capture" in d:
            rule.capture = _as_bool(d["capture"], "capture")
        if "capture_duration" in d:
            cd = d["capture_duration"]
            if not isinstance(cd, int) or isinstance(cd, bool) or cd < 0:
                raise ItemError("Value of 'capture_duration' must be a non-negative integer")
            rule.capture_duration = cd

    def _check_unique_exceptions(self, rule: RuleDef) -> None:
        seen = set()
        for ex in rule.exceptions:
            if ex.name in seen:
                self.warnings.append(Problem(
                    f"Multiple definitions of exception '{ex.name}' in the same rule",
                    rule.origin.file, rule.origin.line, "rule", rule.name,
                    rule.origin.snippet, "load_exception_name_not_unique"))
            seen.add(ex.name)

    def _rule_append(self, item: RawItem, name: str, existing: RuleDef | None) -> None:
        d = item.data
        self.warn(item, "The 'append' key is deprecated: use 'override' instead",
                  "load_deprecated_item")
        if existing is None:
            raise ItemError("Rule has 'append' key but no rule by that name already exists")
        appended = False
        if "condition" in d:
            existing.condition = f"{existing.condition} {_as_str(d['condition'], 'condition')}"
            appended = True
        if "output" in d:
            existing.output = f"{existing.output} {_as_str(d['output'], 'output').strip()}"
        if "desc" in d:
            existing.desc = f"{existing.desc} {_as_str(d['desc'], 'desc')}"
        if "tags" in d:
            existing.tags.extend(_as_str_list(d["tags"], "tags"))
        if "exceptions" in d:
            self._append_exceptions(item, existing, d["exceptions"])
            appended = True
        if not appended and not any(k in d for k in ("output", "desc", "tags")):
            raise ItemError("Appended rule must have 'exceptions' or 'condition' property")

    def _append_exceptions(self, item: RawItem, rule: RuleDef, value: Any) -> None:
        for ex in _parse_exceptions(value, False):
            if not ex.values:
                self.warn(item, f"Overriding/appending exception with no values: "
                                f"'{ex.name}'", "load_exception_no_values")
            current = next((e for e in rule.exceptions if e.name == ex.name), None)
            if current is not None:
                current.values.extend(ex.values)
            else:
                if ex.fields is None:
                    raise ItemError("Item has no mapping for key 'fields'")
                rule.exceptions.append(ex)

    def _rule_override(self, item: RawItem, name: str, existing: RuleDef | None,
                       ov: dict[str, str]) -> None:
        d = item.data
        for k, mode in ov.items():
            if mode == "append" and k not in RULE_APPENDABLE:
                if k in RULE_REPLACEABLE:
                    raise ItemError(f"Key '{k}' cannot be appended to, use 'replace' instead")
                raise ItemError(f"Key '{k}' cannot be overridden")
            if mode == "replace" and k not in RULE_REPLACEABLE:
                raise ItemError(f"Key '{k}' cannot be replaced")
            if k not in d:
                article = "An append" if mode == "append" else "A replace"
                raise ItemError(f"{article} override for '{k}' was specified but '{k}' is "
                                f"not defined")
        for k in d:
            if k in ("rule", "override", "source", "append"):
                continue
            if k not in ov and k in RULE_KEYS:
                raise ItemError(f"Unexpected key '{k}': an override must be specified for it")
        if existing is None:
            raise ItemError("Rule has 'override' key but no rule by that name already exists")
        for k, mode in ov.items():
            value = d[k]
            if mode == "append":
                if k == "condition":
                    existing.condition = f"{existing.condition} {_as_str(value, k)}"
                elif k == "output":
                    existing.output = f"{existing.output} {_as_str(value, k).strip()}"
                elif k == "desc":
                    existing.desc = f"{existing.desc} {_as_str(value, k)}"
                elif k == "tags":
                    existing.tags.extend(_as_str_list(value, k))
                elif k == "exceptions":
                    self._append_exceptions(item, existing, value)
                continue
            if k == "condition":
                existing.condition = _as_str(value, k)
            elif k == "output":
                existing.output = _as_str(value, k).strip()
            elif k == "desc":
                existing.desc = _as_str(value, k)
            elif k == "priority":
                existing.priority = _parse_priority(value)
            elif k == "tags":
                existing.tags = _as_str_list(value, k)
            elif k == "exceptions":
                existing.exceptions = _parse_exceptions(value, True)
                for ex in existing.exceptions:
                    if not ex.values:
                        self.warn(item, f"Overriding/appending exception with no values: "
                                        f"'{ex.name}'", "load_exception_no_values")
            else:
                self._apply_optional(existing, {k: value})
