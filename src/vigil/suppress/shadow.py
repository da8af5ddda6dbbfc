"""Shadow mode: rules and detectors that run, are audited and make incidents, but wake
nobody — how a new rule set runs for a week before it may page anyone.

Configured in vigil.toml by `[rules] shadow` (Falco rule names, Sigma ids or titles, or
rule files and directories: every rule loaded from them) and `[detectors.<name>] mode =
"shadow"`. `ShadowPolicy.reason(det)` says why a detection is in shadow; the pipeline
marks it (`Detection.shadow`), the correlation stage marks an incident made only of such
detections as shadow, and the alert routes ignore shadow detections.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from vigil.detections import Detection
from vigil.suppress.allowlist import AllowEntry
from vigil.suppress.allowlist_match import TextPatterns


@dataclass(frozen=True)
class ShadowPolicy:
    """Which detections are in shadow mode, and why."""

    #: rule names / Sigma ids or titles (globs allowed), with reasons
    rules: tuple[AllowEntry, ...] = ()
    #: rule files and directories, with reasons
    paths: tuple[AllowEntry, ...] = ()
    #: detector names (or `<detector>.<subkind>`) in shadow mode
    detectors: frozenset[str] = frozenset()
    _rules: TextPatterns = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rules", TextPatterns((str(e.value), e) for e in self.rules))

    @classmethod
    def from_config(cls, config) -> "ShadowPolicy":
        """The policy of a `VigilConfig`: `[rules] shadow` and detectors in shadow mode.
        Entries that name an existing file or directory are paths; others are names."""
        names, paths = [], []
        for e in getattr(config.rules, "shadow", ()):
            text = str(e.value)
            (paths if text.startswith("/") and Path(text).exists() else names).append(e)
        detectors = frozenset(n for n, d in config.detectors.items()
                              if getattr(d, "mode", "alert") == "shadow")
        return cls(rules=tuple(names), paths=tuple(paths), detectors=detectors)

    def __bool__(self) -> bool:
        return bool(self.rules or self.paths or self.detectors)

    def reason(self, det: Detection) -> str | None:
        """Why `det` is in shadow mode (the entry, and its reason), or None."""
        if det.kind == "detector":
            if det.name in self.detectors or (det.rule_id or "") in self.detectors:
                return f"detectors.{det.name}.mode=shadow"
            return None
        hit = self._rules.find(det.name) or (
            self._rules.find(det.rule_id) if det.rule_id is not None else None)
        if hit is not None:
            return _label(hit)
        source = det.data.get("rule_file") or det.data.get("path")
        if isinstance(source, str) and self.paths:
            for e in self.paths:
                root = str(e.value).rstrip("/")
                if source == root or source.startswith(root + "/"):
                    return _label(e)
        return None

    def mark(self, det: Detection) -> Detection:
        """`det`, marked shadow when the policy says so."""
        why = self.reason(det)
        if why is None:
            return det
        return msgspec.structs.replace(det, shadow=True, data={**det.data, "shadow": why})


def _label(e: AllowEntry) -> str:
    text = f"rules.shadow={e.value}"
    return f"{text} ({e.reason})" if e.reason else text


def shadowed(dets: Iterable[Detection]) -> int:
    """How many of `dets` are in shadow mode."""
    return sum(1 for d in dets if d.shadow)
