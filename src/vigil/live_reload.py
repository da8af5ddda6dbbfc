"""Apply a reloaded `vigil.toml` to the running agent: what can change live does.

`vigil.suppress.reload.ConfigReloader` watches the file, validates it and applies the
allowlist itself; `LiveSettings` applies the rest that can change without a restart:

- `[rules]` (`disabled`, `min_priority`, the rule files, Sigma mappings and logsources,
  `hosts`, `resolve_names`): the engines are rebuilt with the new settings by the rules
  reloader's thread (where rule-file changes are built too, so the two do not race) and
  swapped in between two event batches;
- `[detectors]`: the detectors are rebuilt and swapped in likewise; their state (brute
  force counts, open connections) starts afresh, as after a restart.

Every other changed setting (`[sensors]`, `[alerts]`, `[audit]`, `[baseline]`,
`[metrics]`, `state_dir`, `hostname`, `nice`) is named by the reloader in a warning: it
takes effect at the next start.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

from vigil.agent import BuiltPipeline
from vigil.config import VigilConfig

log = logging.getLogger(__name__)

RULES, DETECTORS = "rules", "detectors"


class LiveSettings:
    """The `SettingsApplier` of the live agent (see the module docstring)."""

    sections = frozenset({RULES, DETECTORS})

    def __init__(self, built: BuiltPipeline, agent: Any, rules_reloader: Any) -> None:
        self.built = built
        self.agent = agent
        self.rules_reloader = rules_reloader

    def apply(self, config: VigilConfig, changed: frozenset[str]) -> list[str]:
        """Apply the `[rules]` and `[detectors]` of `config`; what was done, for the log."""
        done: list[str] = []
        rules = sorted(k for k in changed if k.split(".")[0] == RULES)
        detectors = sorted(k for k in changed if k.split(".")[0] == DETECTORS)
        if detectors:
            from vigil.detectors.registry import build_detectors
            new = build_detectors(config.detector_tables(), own_pid=os.getpid(),
                                  own_uid=os.getuid())
            self.built.config = dataclasses.replace(self.built.config,
                                                    detectors=config.detectors)
            self.agent.offer_detectors(new)
            done.append(f"detectors ({', '.join(detectors)}): {len(new)} running, their "
                        "state starts afresh")
        if any(k.startswith("rules.shadow") for k in rules) or detectors:
            from vigil.suppress.shadow import ShadowPolicy
            policy = ShadowPolicy.from_config(config)
            # one attribute rebind: the engine thread sees the old policy or the new one
            self.built.pipeline.shadow = policy or None
            done.append("shadow mode: " + (", ".join(
                [str(e.value) for e in policy.rules + policy.paths]
                + sorted(policy.detectors)) or "none"))
        if rules:
            self.built.config = dataclasses.replace(self.built.config, rules=config.rules)
            if not self.built.rules_from_cli:
                self.built.falco_paths = config.rules.falco_files()
                self.built.sigma_paths = config.rules.sigma_files()
            self.rules_reloader.rebuild_now()
            done.append(f"rules ({', '.join(rules)}): rebuilding the engines")
        return done


def start_config_reload(built: BuiltPipeline, agent: Any, rules_reloader: Any) -> Any:
    """Watch the agent's vigil.toml and apply what changes (None without a file)."""
    cfg = built.config
    if cfg.source is None or built.suppressor is None:
        return None
    from vigil.suppress.reload import ConfigReloader

    return ConfigReloader(cfg.source, built.suppressor.holder,
                          appliers=[LiveSettings(built, agent, rules_reloader)]).start()
