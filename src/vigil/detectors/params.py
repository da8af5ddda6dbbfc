"""Reading a detector's `[detectors.<name>]` table into its `Params` dataclass.

Every detector declares its parameters as a frozen dataclass; `read_params` walks the
dataclass fields and reads each one with the type its annotation names, through the
strict `TableReader`, so an unknown key, a wrong type or an out-of-range value raises a
`ConfigError` naming `detectors.<name>.<key>`. Per-field limits come from field metadata
(`minimum`), so each `Params` stays a plain declaration.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Mapping, TypeVar

from vigil.config_errors import ConfigError
from vigil.config_reader import TableReader, join_key

P = TypeVar("P")


def minimum(value: float) -> dict[str, Any]:
    """Field metadata: the smallest accepted value (exclusive for floats)."""
    return {"minimum": value}


def _read_int_tuple(reader: TableReader, name: str, default: tuple[int, ...],
                    low: int | None) -> tuple[int, ...]:
    value = reader.raw(name, None)
    if value is None:
        return default
    if not isinstance(value, list):
        raise reader.error(name, "must be an array of integers")
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, int):
            raise ConfigError(join_key(reader.key_of(name), i), "must be an integer")
        if low is not None and item < low:
            raise ConfigError(join_key(reader.key_of(name), i),
                              f"must be at least {low}, not {item}")
    return tuple(value)


def _read_field(reader: TableReader, f: dataclasses.Field, hint: Any) -> Any:
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
    low = f.metadata.get("minimum")
    if hint is bool:
        return reader.get_bool(f.name, default)
    if hint is int:
        return reader.get_int(f.name, default, minimum=low)
    if hint is float:
        return reader.get_float(f.name, default, minimum=low)
    if hint is str:
        return reader.get_str(f.name, default)
    if hint == tuple[str, ...]:
        return reader.get_str_list(f.name, default)
    if hint == tuple[int, ...]:
        return _read_int_tuple(reader, f.name, default, low)
    if hint == (tuple[str, ...] | None):
        return None if not reader.has(f.name) else reader.get_str_list(f.name, ())
    raise TypeError(f"unsupported parameter type {hint!r} for {f.name}")


def read_params(cls: type[P], data: Mapping[str, Any] | None, detector: str) -> P:
    """Build `cls` (a dataclass) from the `[detectors.<detector>]` table `data`."""
    reader = TableReader(data or {}, f"detectors.{detector}")
    hints = typing.get_type_hints(cls)
    values = {f.name: _read_field(reader, f, hints[f.name]) for f in dataclasses.fields(cls)}
    reader.finish()
    return cls(**values)
