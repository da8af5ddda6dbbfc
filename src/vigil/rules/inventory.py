"""What a configuration really runs: every rule and detector, and what silences it.

`build_inventory(config)` loads the configuration's Falco and Sigma rules the way the agent
does (`[rules]` files, `min_priority`, `disabled`) and lists each rule — enabled or not,
and why not — with its description, priority, event types and where it is defined; then
the built-in detectors with their state; and, for each, the `[allowlist.rules] suppress`
entries that silence it (everywhere, or in a scope: processes, parents, users, paths,
IPs) and whether it runs in shadow mode, each with its reason. Allowlist entries that name
nothing loaded are reported too: a misspelt rule name in `suppress` would otherwise
silence nothing, quietly. This is the data behind `vigil rules list -c vigil.toml`.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from vigil.config import VigilConfig
from vigil.rules.falco.loader import RulesLoader
from vigil.rules.falco.reader import expand_rule_paths
from vigil.rules.suggest import did_you_mean
from vigil.suppress.allowlist import AllowEntry
from vigil.suppress.allowlist_match import TextPatterns

ENABLED = "enabled"
DISABLED = "disabled"
SILENCED = "silenced"
#: runs, audited, makes (shadow) incidents, but no alert leaves (docs/tuning.md)
SHADOW = "shadow"
UNSUPPORTED = "unsupported"
#: the rule is in the files but does not compile (the load errors say why)
BROKEN = "error"


@dataclass(frozen=True)
class Silencing:
    """An allowlist entry that applies to a rule or detector, and why it is there."""

    entry: str
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.entry}: {self.reason}" if self.reason else self.entry

    def to_dict(self) -> dict[str, str]:
        """For `--json`."""
        return {"entry": self.entry, "reason": self.reason}


@dataclass
class InventoryItem:
    """One rule or detector as the configuration runs it."""

    kind: str
    name: str
    description: str = ""
    #: Falco's priority label; None for detectors (each detection carries its own)
    priority: str | None = None
    #: enabled, disabled, silenced (runs, every match suppressed), shadow (runs, no alert
    #: leaves), unsupported or error
    state: str = ENABLED
    #: what disabled it (`[rules] disabled`), or why it cannot run
    why: str = ""
    #: syscall event types it runs on (None: any; [] unknown, e.g. not compiled)
    event_types: list[str] | None = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    #: `file:line` of a Falco rule, the file of a Sigma rule, the module of a detector
    source: str = ""
    rule_id: str | None = None
    #: the `[allowlist.rules] suppress` entry that silences all of it
    silenced_by: Silencing | None = None
    #: `[allowlist.rules] suppress` entries that silence it in a scope (processes, ...)
    silenced_in: list[Silencing] = field(default_factory=list)
    #: the `[rules] shadow` entry or detector mode that puts it in shadow mode
    shadow: Silencing | None = None
    #: narrower allowlist entries of its own (`[allowlist.detectors.<name>]`, detector
    #: kinds in `suppress`)
    exceptions: list[Silencing] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """For `--json`."""
        return {"kind": self.kind, "name": self.name, "rule_id": self.rule_id,
                "description": self.description, "priority": self.priority,
                "state": self.state, "why": self.why,
                "event_types": self.event_types, "tags": self.tags, "source": self.source,
                "silenced_by": self.silenced_by.to_dict() if self.silenced_by else None,
                "silenced_in": [e.to_dict() for e in self.silenced_in],
                "shadow": self.shadow.to_dict() if self.shadow else None,
                "exceptions": [e.to_dict() for e in self.exceptions]}


@dataclass
class Inventory:
    """Everything a configuration loads, and the problems found while loading it."""

    config: str | None
    falco_files: list[str] = field(default_factory=list)
    sigma_paths: list[str] = field(default_factory=list)
    rules: list[InventoryItem] = field(default_factory=list)
    detectors: list[InventoryItem] = field(default_factory=list)
    #: allowlist entries that apply to every rule and detector (processes, users, ...)
    everywhere: list[Silencing] = field(default_factory=list)
    #: allowlist or `[rules] disabled` entries that name nothing loaded
    unmatched: list[str] = field(default_factory=list)
    #: rule loading errors (file, line, item)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """For `--json`."""
        return {"config": self.config, "falco_files": self.falco_files,
                "sigma_paths": self.sigma_paths,
                "rules": [r.to_dict() for r in self.rules],
                "detectors": [d.to_dict() for d in self.detectors],
                "allowlist_everywhere": [e.to_dict() for e in self.everywhere],
                "unmatched": self.unmatched, "errors": self.errors}


def _types(types: Iterable[str] | None) -> list[str] | None:
    return None if types is None else sorted(types)


def _one_line(text: str) -> str:
    return " ".join((text or "").split())


def _falco(cfg: VigilConfig, files: list[Path], inv: Inventory) -> None:
    loader = RulesLoader(min_priority=cfg.rules.min_priority, disabled=cfg.rules.disabled,
                         names=cfg.rules.name_table(False))
    for f in expand_rule_paths(list(files)):
        loader.add_file(f)
        inv.falco_files.append(str(f))
    rs = loader.build()
    inv.errors.extend(str(e) for e in rs.errors)
    compiled = {r.name: r for r in rs.rules}
    disabled = set(cfg.rules.disabled)
    for rd in sorted(loader.collector.rules.values(), key=lambda r: r.index):
        item = InventoryItem(kind="falco", name=rd.name, description=_one_line(rd.desc),
                             priority=rd.priority.label, tags=list(rd.tags),
                             source=f"{rd.origin.file}:{rd.origin.line}")
        cr = compiled.get(rd.name)
        if rd.name in disabled:
            item.state, item.why = DISABLED, "[rules] disabled"
        elif not rd.enabled:
            item.state, item.why = DISABLED, "`enabled: false` in its rules file"
        elif not rd.priority.at_least(cfg.rules.min_priority):
            item.state = DISABLED
            item.why = f"[rules] min_priority = {cfg.rules.min_priority.label}"
        elif rd.source not in ("syscall", "auth"):
            item.state, item.why = UNSUPPORTED, f"source {rd.source!r} is not supported"
        elif cr is None:
            item.state, item.why = BROKEN, "does not compile (see the errors)"
        if cr is not None:
            types = cr.compiled.types
            item.event_types = None if types.negated else sorted(types.types)
        inv.rules.append(item)


def _sigma(cfg: VigilConfig, paths: list[Path], inv: Inventory) -> None:
    from vigil.rules.sigma import load_sigma_paths

    for p in paths:
        if p.is_dir():
            inv.sigma_paths.extend(str(f) for f in sorted(p.rglob("*"))
                                   if f.suffix in (".yml", ".yaml") and f.is_file())
        else:
            inv.sigma_paths.append(str(p))
    res = load_sigma_paths(paths, mapping=cfg.rules.sigma_mapping(),
                           router=cfg.rules.sigma_router())
    inv.errors.extend(str(e) for e in res.errors)
    disabled = set(cfg.rules.disabled)
    for r in res.rules:
        item = InventoryItem(kind="sigma", name=r.title, rule_id=r.rule_id,
                             description=_one_line(r.description), priority=r.priority.label,
                             event_types=_types(r.event_types), tags=list(r.tags),
                             source=r.path)
        if r.rule_id in disabled or r.title in disabled:
            item.state, item.why = DISABLED, "[rules] disabled"
        elif not r.priority.at_least(cfg.rules.min_priority):
            item.state = DISABLED
            item.why = f"[rules] min_priority = {cfg.rules.min_priority.label}"
        inv.rules.append(item)
    for u in res.unsupported:
        inv.rules.append(InventoryItem(kind="sigma", name=u.title or u.rule_id,
                                       rule_id=u.rule_id, state=UNSUPPORTED, why=u.reason,
                                       event_types=[], source=u.path))


def _detector_description(cls: type) -> str:
    """The first line of the detector's module docstring, without its "`name`:" prefix."""
    module = sys.modules.get(cls.__module__)
    doc = inspect.getdoc(module) or inspect.getdoc(cls) or ""
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    prefix = f"`{getattr(cls, 'name', '')}`:"
    return first.removeprefix(prefix).strip()


def _detectors(cfg: VigilConfig, inv: Inventory) -> None:
    from vigil.detectors.registry import DETECTORS

    for name, cls in DETECTORS.items():
        dc = cfg.detector(name)
        item = InventoryItem(kind="detector", name=name,
                             description=_detector_description(cls),
                             event_types=_types(getattr(cls, "event_types", ())),
                             source=cls.__module__)
        if not dc.enabled:
            item.state, item.why = DISABLED, f"[detectors.{name}] enabled = false"
        own = cfg.allowlist.detectors.get(name)
        if own is not None:
            item.exceptions = [Silencing(e.label, e.reason) for e in own.entries()]
        inv.detectors.append(item)


def _shadow(cfg: VigilConfig, inv: Inventory) -> None:
    from vigil.detections import Detection
    from vigil.priority import Priority
    from vigil.suppress.shadow import ShadowPolicy

    policy = ShadowPolicy.from_config(cfg)
    if not policy:
        return
    for e in policy.rules:  # names (paths name whole files, which exist)
        pattern: TextPatterns[AllowEntry] = TextPatterns([(str(e.value), e)])
        if not any(pattern.find(n) is not None for i in inv.rules + inv.detectors
                   for n in (i.name, i.rule_id) if n):
            inv.unmatched.append(f"rules.shadow={e.value}: matches no loaded rule"
                                 f"{did_you_mean(str(e.value), [i.name for i in inv.rules])}")
    for item in inv.rules + inv.detectors:
        # the policy judges detections: ask it about one this rule or detector would make
        where = {"falco": {"rule_file": item.source.rpartition(":")[0]},
                 "sigma": {"path": item.source}}.get(item.kind, {})
        det = Detection(kind=item.kind, name=item.name, rule_id=item.rule_id,
                        priority=Priority.WARNING, output="", data=where)
        why = policy.reason(det)
        if why is not None:
            item.shadow = Silencing(why)
            if item.state == ENABLED:
                item.state = SHADOW


def _silencing(cfg: VigilConfig, inv: Inventory) -> None:
    entries: Sequence[AllowEntry] = cfg.allowlist.rules
    alone = [(e, TextPatterns([(str(e.value), e)])) for e in entries]
    for det in inv.detectors:  # detector kinds: `ptrace.attach`
        det.exceptions += [Silencing(e.label, e.reason) for e in entries
                           if str(e.value).startswith(f"{det.name}.")]
    matched: set[int] = set()
    for item in inv.rules + inv.detectors:
        for i, (e, pattern) in enumerate(alone):
            if pattern.find(item.name) is None and not (
                    item.rule_id and pattern.find(item.rule_id) is not None):
                continue
            matched.add(i)
            if e.scope:
                item.silenced_in.append(Silencing(e.label, e.reason))
            elif item.silenced_by is None:
                item.silenced_by = Silencing(e.label, e.reason)
                if item.state in (ENABLED, SHADOW):
                    item.state = SILENCED
    names = [i.name for i in inv.rules + inv.detectors]
    detector_names = {d.name for d in inv.detectors}
    for i, (e, _) in enumerate(alone):
        value = str(e.value)
        # detector kinds (`ptrace.inject`) are named by the detections, not listed here
        if i in matched or value.partition(".")[0] in detector_names:
            continue
        inv.unmatched.append(f"{e.label}: matches no loaded rule or detector"
                             f"{did_you_mean(value, names)}")
    known = set(names) | {i.rule_id for i in inv.rules if i.rule_id}
    for name in cfg.rules.disabled:
        if name not in known:
            inv.unmatched.append(f"rules.disabled={name}: matches no loaded rule"
                                 f"{did_you_mean(name, names)}")
    al = cfg.allowlist
    for group in (al.processes, al.users, al.ips, al.cidrs, al.ports):
        inv.everywhere.extend(Silencing(e.label, e.reason) for e in group)


def build_inventory(config: VigilConfig, rule_paths: Sequence[str] | None = None,
                    with_detectors: bool = True) -> Inventory:
    """What `config` loads (with `rule_paths` instead of its `[rules]` files, as
    `--rules` does)."""
    from vigil.rules.sources import classify_paths

    inv = Inventory(config=str(config.source) if config.source else None)
    if rule_paths:
        rp = classify_paths(rule_paths)
        falco, sigma = list(rp.falco), list(rp.sigma)
    else:
        falco, sigma = config.rules.falco_files(), config.rules.sigma_files()
    if falco:
        _falco(config, falco, inv)
    if sigma:
        _sigma(config, sigma, inv)
    if with_detectors:
        _detectors(config, inv)
    _shadow(config, inv)
    _silencing(config, inv)
    return inv
