"""Suggested fixes for noisy rules and detectors: the narrowest context that covers the
noise.

For one source, the context dimensions are tried from the narrowest (the process that
fired it, with its parent) to the broadest (a remote address); the first that explains at
least `coverage` of the source's detections with at most `max_values` values becomes the
suggestion. Each suggestion has the forms it can be written in:

- a scoped `[allowlist.rules] suppress` entry in vigil.toml (any rule or detector), with a
  reason placeholder to fill in;
- for a Falco rule, an `exceptions:` item appended to the rule in a new file of the local
  rules directory (third-party rule files are never edited).

A source that no narrow context explains (detections from many processes, users or
addresses: what an attack looks like, e.g. a brute force from many IPs) gets no
suggestion: silencing it would silence the attack. The report lists it for a person.

Sigma filter documents are not offered: Vigil does not load them; the vigil.toml entry
covers Sigma rules (by id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vigil.tuning.report import NoiseReport, SourceStats

REASON_PLACEHOLDER = "TODO: say why this is normal on this host"


@dataclass
class Suggestion:
    """One proposed fix."""

    number: int
    source: str
    kind: str
    #: what the entry names (a rule name, Sigma id or detector name)
    value: str
    #: (dimension, values) the fix is limited to; empty = the whole host
    scope: list[tuple[str, list[str]]]
    #: the source's detections the scope covers, and all of them
    covered: int
    total: int
    #: the `[allowlist.rules] suppress` entry (a TOML inline table)
    toml: str
    #: a Falco `exceptions` item for Falco rules (YAML), else None
    falco_yaml: str | None = None
    notes: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        """For `--json`."""
        return {"number": self.number, "source": self.source, "kind": self.kind,
                "value": self.value, "scope": {k: v for k, v in self.scope},
                "covered": self.covered, "total": self.total, "toml": self.toml,
                "falco_yaml": self.falco_yaml, "notes": self.notes}


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _narrowest(src: SourceStats, coverage: float, max_values: int
               ) -> tuple[list[tuple[str, list[str]]], int]:
    total = src.detections + src.shadow
    if total == 0:
        return [], 0
    ctx = src.context
    # the process together with its parent, when both are known: the narrowest
    for dim in ("processes", "parents", "paths", "users", "ips"):
        counter = ctx.get(dim)
        if not counter:
            continue
        values = [v for v, _ in counter.most_common(max_values)]
        covered = sum(counter[v] for v in values)
        if covered >= coverage * total:
            scope = [(dim, values)]
            if dim == "processes" and ctx.get("parents"):
                parents = [v for v, _ in ctx["parents"].most_common(max_values)]
                if sum(ctx["parents"][v] for v in parents) >= coverage * total:
                    scope.append(("parents", parents))
            return scope, min(covered, total)
    # nothing explains it narrowly: the best single dimension, with what it covers
    best: tuple[str, list[str], int] | None = None
    for dim, counter in ctx.items():
        if not counter:
            continue
        values = [v for v, _ in counter.most_common(max_values)]
        covered = sum(counter[v] for v in values)
        if best is None or covered > best[2]:
            best = (dim, values, covered)
    if best is None:
        return [], total
    return [(best[0], best[1])], min(best[2], total)


def _falco_exception(src: SourceStats, scope: list[tuple[str, list[str]]],
                     number: int) -> tuple[str | None, str | None]:
    """The Falco `exceptions` form of a scope, and a note when it differs from the
    vigil.toml form (None, why: when it cannot be written)."""
    if src.kind != "falco" or not scope:
        return None, None
    fields, values, note = [], [], None
    for dim, vals in scope:
        if dim == "parents":
            note = ("the Falco form leaves out the parent (its fields see one level up): "
                    "it is broader than the vigil.toml form")
            continue
        if dim == "processes":
            if all(v.startswith("/") for v in vals):
                fields.append("proc.exepath")
            elif not any(v.startswith("/") for v in vals):
                fields.append("proc.name")
            else:
                return None, "mixed program paths and names: use the vigil.toml form"
        elif dim == "users":
            fields.append("user.name")
        elif dim == "paths":
            fields.append("fd.name")
        elif dim == "ips":
            return None, "remote addresses: use the vigil.toml form"
        values.append(vals)
    if not fields:
        return None, "no field for this context: use the vigil.toml form"
    comps = ["pmatch" if f == "fd.name" else "in" for f in fields]
    lines = [f"- rule: {_yaml_str(src.name)}",
             "  exceptions:",
             f"    - name: vigil_tune_{number}",
             f"      fields: [{', '.join(fields)}]",
             f"      comps: [{', '.join(comps)}]",
             "      values:",
             "        - [" + ", ".join("[" + ", ".join(_yaml_str(v) for v in vals) + "]"
                                for vals in values) + "]",
             "  override:",
             "    exceptions: append"]
    return "\n".join(lines) + "\n", note


def _yaml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def suggest(report: NoiseReport, *, min_detections: int = 5, coverage: float = 0.9,
            max_values: int = 3, top: int = 10) -> list[Suggestion]:
    """Suggestions for the noisiest sources (at least `min_detections` unsuppressed or
    shadow detections), at most `top` of them, numbered from 1."""
    out: list[Suggestion] = []
    for src in report.ranked():
        total = src.detections + src.shadow
        if total < min_detections or len(out) >= top:
            continue
        scope, covered = _narrowest(src, coverage, max_values)
        if not scope or covered < coverage * total:
            # no narrow context explains it: a burst from many places (an attack looks
            # like this) gets no silencing suggestion; it is listed for a person to read
            continue
        parts = [f"value = {_toml_str(src.value)}"]
        for dim, values in scope:
            parts.append(f"{dim} = [" + ", ".join(_toml_str(v) for v in values) + "]")
        parts.append(f"reason = {_toml_str(REASON_PLACEHOLDER)}")
        n = len(out) + 1
        falco_yaml, falco_note = _falco_exception(src, scope, n)
        sug = Suggestion(number=n, source=src.key, kind=src.kind, value=src.value,
                         scope=scope, covered=covered, total=total,
                         toml="{ " + ", ".join(parts) + " }", falco_yaml=falco_yaml)
        if falco_note and src.kind == "falco":
            sug.notes.append(f"Falco form: {falco_note}")
        if covered < total:
            sug.notes.append(f"{total - covered} detection(s) of this source come from "
                             "elsewhere and stay")
        out.append(sug)
    return out
