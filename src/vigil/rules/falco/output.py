"""Rule output strings (`%field` substitution) and Falco's JSON alert format."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Callable

from vigil.events.fields import ArgMode, DEFAULT_FIELDS, FieldRegistry, UnknownFieldError
from vigil.events.model import Event
from vigil.priority import Priority
from vigil.rules.suggest import closest_field

_TOKEN = re.compile(r"%([a-zA-Z][a-zA-Z0-9_]*(?:\.[a-zA-Z0-9_]+)*)")
_ARG = re.compile(r"\[([^\]\s]*)\]")
#: tokens Falco drops from outputs when they have no meaning for this deployment
_DROPPED_TOKENS = ("%container.info",)
NA = "<NA>"


class OutputError(ValueError):
    """An output template names a field the registry does not have."""


def _render_value(v: Any) -> str:
    if v is None:
        return NA
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ",".join(_render_value(x) for x in v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def _json_value(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v


class OutputFormat:
    """A compiled output template: literal text and field extractors, prepared once."""

    def __init__(self, template: str, registry: FieldRegistry = DEFAULT_FIELDS) -> None:
        for tok in _DROPPED_TOKENS:
            template = template.replace(tok, "")
        self.template = template.strip()
        self._parts: list[str | tuple[str, Callable[[Event], Any]]] = []
        self.fields: list[str] = []
        pos = 0
        text = self.template
        m = _TOKEN.search(text)
        while m is not None:
            name, end, arg = m.group(1), m.end(), None
            try:
                fd, _a = registry.resolve(name)
            except UnknownFieldError:
                fd = None
            am = _ARG.match(text, end)
            if am is not None and (fd is None or fd.arg is not ArgMode.NONE):
                arg, end = am.group(1), am.end()
            try:
                ex = registry.extractor(name, arg)
            except UnknownFieldError:
                token = name if arg is None else f"{name}[{arg}]"
                guess = closest_field(name, registry)
                hint = f" (did you mean %{guess}?)" if guess is not None else ""
                raise OutputError(f"invalid formatting token %{token}: unknown field{hint}") \
                    from None
            token = name if arg is None else f"{name}[{arg}]"
            self._parts.append(text[pos: m.start()])
            self._parts.append((token, ex))
            if token not in self.fields:
                self.fields.append(token)
            pos = end
            m = _TOKEN.search(text, end)
        self._parts.append(self.template[pos:])

    def render(self, event: Event) -> str:
        """The output text for one event; fields without a value print `<NA>`."""
        out = []
        for p in self._parts:
            if isinstance(p, str):
                out.append(p)
            else:
                out.append(_render_value(p[1](event)))
        return "".join(out)

    def render_with_values(self, event: Event) -> tuple[str, dict[str, Any]]:
        """The output text and `output_fields` together, extracting each field once."""
        out = []
        vals: dict[str, Any] = {}
        for p in self._parts:
            if isinstance(p, str):
                out.append(p)
            else:
                v = p[1](event)
                vals[p[0]] = _json_value(v)
                out.append(_render_value(v))
        return "".join(out), vals

    def field_values(self, event: Event) -> dict[str, Any]:
        """Falco's `output_fields`: each field of the template with its value."""
        vals: dict[str, Any] = {}
        for p in self._parts:
            if not isinstance(p, str):
                vals[p[0]] = _json_value(p[1](event))
        return vals


def format_time(ts_ns: int) -> str:
    """RFC 3339 time with nanoseconds, as Falco prints `time`."""
    secs, ns = divmod(ts_ns, 1_000_000_000)
    dt = datetime.fromtimestamp(secs, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ns:09d}Z"


def falco_json(*, ts: int, rule: str, priority: Priority, source: str, tags: list[str],
               output: str, output_fields: dict[str, Any], hostname: str | None) -> dict[str, Any]:
    """One alert in Falco's JSON output format (what Falcosidekick consumes)."""
    secs, ns = divmod(ts, 1_000_000_000)
    clock = datetime.fromtimestamp(secs, tz=timezone.utc).strftime("%H:%M:%S")
    return {
        "hostname": hostname or "",
        "output": f"{clock}.{ns:09d}: {priority.label} {output}",
        "priority": priority.label,
        "rule": rule,
        "source": source,
        "tags": sorted(tags),
        "time": format_time(ts),
        "output_fields": {"evt.time": ts, **output_fields},
    }
