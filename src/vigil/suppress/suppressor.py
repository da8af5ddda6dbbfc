"""The suppression stage: decide, for each detection, whether it becomes an incident.

Layers, in order: static (set by the detector itself, in code) → dynamic (`[allowlist]`
of `vigil.toml`) → baseline (learned on this host). The first layer that matches marks the
detection with a `Suppression` naming the layer, the entry and its reason. Nothing is
dropped: the caller writes every detection, suppressed or not, to the audit trail, and
only unsuppressed ones go on to the alerts.
"""

from __future__ import annotations

from collections import Counter

import msgspec

from vigil.config import VigilConfig
from vigil.detections import Detection, Suppression
from vigil.suppress.allowlist import Allowlist
from vigil.suppress.baseline import Baseline
from vigil.suppress.holder import AllowlistHolder

DYNAMIC_LAYER = "dynamic"


class Suppressor:
    """Detections in, the same detections out, with `suppressed` set where a layer matched.

    `allowlist_source` is an `AllowlistHolder` (hot-reloaded; read lock-free on every call)
    or a fixed `Allowlist`. `baseline`, when given, is consulted last.
    """

    def __init__(self, allowlist_source: AllowlistHolder | Allowlist,
                 baseline: Baseline | None = None) -> None:
        if isinstance(allowlist_source, Allowlist):
            allowlist_source = AllowlistHolder(allowlist_source)
        self._holder = allowlist_source
        self._baseline = baseline
        #: detections seen per outcome: "incident", "static", "dynamic", "baseline"
        self.counts: Counter[str] = Counter()

    @classmethod
    def from_config(cls, config: VigilConfig) -> "Suppressor":
        """The stage as `vigil.toml` sets it up: its allowlist in a fresh holder (give
        `suppressor.holder` to a `ConfigReloader` for hot reload) and, when
        `[baseline] enabled`, the baseline file."""
        baseline = (Baseline(config.baseline.path, config.baseline.learn_hours)
                    if config.baseline.enabled else None)
        return cls(AllowlistHolder(config.allowlist), baseline)

    @property
    def holder(self) -> AllowlistHolder:
        """The holder whose allowlist is consulted on every detection."""
        return self._holder

    @property
    def baseline(self) -> Baseline | None:
        """The baseline layer, if any (close it on shutdown)."""
        return self._baseline

    def process(self, det: Detection) -> Detection:
        """Return `det` unchanged (an incident, or already suppressed by its detector), or
        a copy with `suppressed` set by the dynamic allowlist or the baseline."""
        if det.suppressed is not None:
            self.counts[det.suppressed.layer] += 1
            return det
        entry = self._holder.current.match(det)
        if entry is not None:
            self.counts[DYNAMIC_LAYER] += 1
            return msgspec.structs.replace(det, suppressed=Suppression(
                layer=DYNAMIC_LAYER, entry=entry.label, reason=entry.reason))
        if self._baseline is not None:
            learned = self._baseline.check(det)
            if learned is not None:
                self.counts[learned.layer] += 1
                return msgspec.structs.replace(det, suppressed=learned)
        self.counts["incident"] += 1
        return det
