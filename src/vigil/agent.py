"""Assembling Vigil from its configuration: rules, detectors, suppression, audit, alerts.

`build_pipeline()` is shared by `vigil run` (live sensors) and `vigil replay` (recordings),
so a recording replays through exactly what the agent runs.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from vigil.config import VigilConfig, load_config, locate_error
from vigil.config_errors import ConfigError
from vigil.detectors.process_identity import AgentIdentity
from vigil.incidents.correlator import Correlator
from vigil.pipeline import DetectionPipeline
from vigil.rules.falco.engine import FalcoEngine
from vigil.rules.falco.loader import RuleSet, load_rules
from vigil.rules.sources import classify_paths
from vigil.statedir import StateDirBusy, StateDirLock
from vigil.suppress.self_activity import SelfActivityFilter

log = logging.getLogger(__name__)


@dataclass
class BuiltPipeline:
    """A ready pipeline plus what was found while building it."""

    pipeline: DetectionPipeline
    config: VigilConfig
    falco: FalcoEngine | None = None
    sigma: Any | None = None
    detectors: list[Any] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    fatal: bool = False
    closers: list[Callable[[], None]] = field(default_factory=list)
    suppressor: Any | None = None
    audit: Any | None = None
    alerts: Any | None = None
    falco_paths: list[Path] = field(default_factory=list)
    sigma_paths: list[Path] = field(default_factory=list)
    rule_matching: str = "first"
    live: bool = False
    #: the rule paths came from the command line (`--rules`), not from `[rules]`
    rules_from_cli: bool = False

    def rule_files(self) -> list[Path]:
        """The rule files and directories this pipeline was built from."""
        return list(self.falco_paths) + list(self.sigma_paths)

    def reloaded(self) -> tuple[Engines | None, list[str]]:
        """New engines from the rule files as they are now (None with the errors)."""
        engines = build_engines(self)
        if engines.fatal:
            return None, engines.problems
        return engines, []

    def prepare_engines(self, event_types: set[str] | None) -> None:
        """Compile the rule buckets of these event types now (see `Engines.prepare`)."""
        Engines(falco=self.falco, sigma=self.sigma).prepare(event_types)

    def event_types(self) -> set[str] | None:
        """Every syscall event type a rule or detector needs (None: all of them)."""
        types: set[str] = set()
        for part in (self.falco, self.sigma):
            if part is None:
                continue
            t = part.event_types  # both engines expose it as a property
            if t is None:
                return None
            types |= set(t)
        for d in self.detectors:
            types |= {t for t in d.event_types if not t.startswith("auth.")}
        return types

    def close(self) -> None:
        """Close the open incidents (recorded and alerted as closed), then flush and close
        what the pipeline opened (audit trail, alert outbox)."""
        try:
            self.pipeline.finish("shutdown" if self.live else "end_of_input")
        except Exception:
            log.exception("closing the open incidents failed")
        for c in reversed(self.closers):
            try:
                c()
            except Exception:
                log.exception("closing failed")


def load_falco(paths: Sequence[str | Path], config: VigilConfig,
               rule_matching: str = "first",
               live: bool = False) -> tuple[FalcoEngine | None, RuleSet]:
    """Load Falco rules and build their engine (None when there are no rules). `live`
    lets the system resolver fill in the domain names conditions compare with."""
    rs = load_rules(paths, min_priority=config.rules.min_priority,
                    disabled=config.rules.disabled, names=config.rules.name_table(live))
    rs.names.start()
    engine = FalcoEngine(rs, rule_matching=rule_matching, hostname=config.hostname) \
        if rs.rules else None
    return engine, rs


@dataclass
class Engines:
    """The rule engines built from the rule files, or why they could not be."""

    falco: FalcoEngine | None = None
    sigma: Any | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    fatal: bool = False

    def engines(self) -> list[Any]:
        """The engines to run, Falco first."""
        return [e for e in (self.falco, self.sigma) if e is not None]

    def prepare(self, event_types: set[str] | None) -> None:
        """Compile every bucket the live sensors' event types will need, before events
        arrive (`None`: each engine's own types)."""
        for engine in self.engines():
            types = event_types if event_types is not None else engine.event_types
            if types:
                engine.prepare(types)


def build_engines(built: "BuiltPipeline") -> Engines:
    """Load and compile the Falco and Sigma rules `built` names (also for hot reload)."""
    cfg = built.config
    out = Engines()
    if built.falco_paths:
        engine, rs = load_falco(built.falco_paths, cfg, built.rule_matching, live=built.live)
        out.problems.extend(str(e) for e in rs.errors)
        out.warnings.extend(str(w) for w in rs.warnings)
        if not rs.ok:
            rs.names.stop()
            out.fatal = True
            return out
        out.falco = engine
    if built.sigma_paths:
        from vigil.rules.sigma import SigmaEngine, load_sigma_paths

        try:
            res = load_sigma_paths(built.sigma_paths, mapping=cfg.rules.sigma_mapping(),
                                   router=cfg.rules.sigma_router())
        except ConfigError as exc:
            out.problems.append(str(exc))
            out.fatal = True
            return out
        out.problems.extend(str(e) for e in res.errors)
        out.warnings.extend(f"unsupported Sigma rule {u}" for u in res.unsupported)
        disabled = set(cfg.rules.disabled)
        rules = [r for r in res.rules if r.rule_id not in disabled and r.title not in disabled
                 and r.priority.at_least(cfg.rules.min_priority)]
        out.sigma = SigmaEngine(rules)
    return out


def build_pipeline(*, config_path: str | Path | None = None, config: VigilConfig | None = None,
                   rule_paths: Sequence[str] | None = None, suppress: bool = True,
                   rule_matching: str = "first", audit: bool = True,
                   alerts: bool | str = True,
                   detectors: bool | None = None,
                   agent_pid: int | None = None) -> BuiltPipeline:
    """Build the detection pipeline.

    `alerts`: True runs the alert pipeline on its own threads (live); "replay" drives it
    synchronously on the events' clock, so batching windows follow recorded time.
    `rule_paths` (command line) overrides the configured rules; without a config only
    rules run (detectors need `detectors=True` or a config). `agent_pid` names the agent's
    own process when replaying a recording made by another agent (default: this process).
    """
    problems: list[str] = []
    try:
        cfg = config if config is not None else load_config(config_path)
    except ConfigError as exc:
        cfg = load_config(None)
        return BuiltPipeline(DetectionPipeline([]), cfg, problems=[str(exc)], fatal=True)
    if rule_paths:
        rp = classify_paths(rule_paths)
        falco_paths: list[Path] = rp.falco
        sigma_paths: list[Path] = rp.sigma
    else:
        falco_paths = cfg.rules.falco_files()
        sigma_paths = cfg.rules.sigma_files()
    built = BuiltPipeline(DetectionPipeline([]), cfg)
    built.falco_paths, built.sigma_paths = list(falco_paths), list(sigma_paths)
    built.rule_matching, built.live = rule_matching, alerts is True
    built.rules_from_cli = bool(rule_paths)
    engines = build_engines(built)
    problems.extend(engines.problems)
    built.warnings.extend(engines.warnings)
    if engines.fatal:
        built.problems = problems
        built.fatal = True
        return built
    built.falco, built.sigma = engines.falco, engines.sigma
    # the current Falco engine's name resolver (hot reload may have replaced it)
    built.closers.append(lambda: built.falco.ruleset.names.stop() if built.falco else None)
    consumers: list[Any] = engines.engines()
    use_detectors = detectors if detectors is not None else (config is not None
                                                            or config_path is not None)
    if use_detectors:
        try:
            built.detectors = _build_detectors(cfg, agent_pid)
        except ConfigError as exc:
            built.problems = problems + [str(exc)]
            built.fatal = True
            return built
    if audit or alerts or (suppress and cfg.baseline.enabled):
        # this pipeline writes state: one writer per state_dir (see vigil.statedir)
        try:
            lock = StateDirLock.acquire(cfg.state_dir)
        except (StateDirBusy, OSError) as exc:
            built.close()
            built.problems, built.fatal = problems + [_state_problem(cfg, exc)], True
            return built
        built.closers.insert(0, lock.release)  # closers run in reverse: released last
    own = AgentIdentity(pid=agent_pid if agent_pid is not None else os.getpid(),
                        uid=os.getuid())
    suppressor = _chain(SelfActivityFilter(own).process,
                        _build_suppressor(cfg, built) if suppress else None)
    try:
        trail = _build_audit(cfg, built) if audit else None
        alert = _build_alerts(cfg, built, replay=alerts == "replay") if alerts else None
    except (ConfigError, OSError, RuntimeError) as exc:
        # a sink's secret that cannot be resolved, an audit trail that cannot be continued,
        # a state file that cannot be created: one located line, not a traceback
        built.close()
        built.problems, built.fatal = problems + [_state_problem(cfg, exc)], True
        return built
    from vigil.suppress.shadow import ShadowPolicy
    shadow = ShadowPolicy.from_config(cfg)
    built.pipeline = DetectionPipeline(consumers, detectors=built.detectors,
                                       suppress=suppressor, shadow=shadow or None,
                                       correlator=Correlator(cfg.incidents),
                                       clock=time.time if built.live else None,
                                       audit=trail, alert=alert)
    built.problems = problems
    return built


def _state_problem(cfg: VigilConfig, exc: Exception) -> str:
    """One line for a failure to open the pipeline's state."""
    if isinstance(exc, ConfigError):
        return str(locate_error(exc, cfg.source))
    if not isinstance(exc, OSError):
        return str(exc)  # StateDirBusy, AuditTrailError say it all
    where = exc.filename if exc.filename is not None else cfg.state_dir
    return f"cannot use {where}: {exc.strerror or exc}"


def _chain(first: Callable[[Any], Any],
           second: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """Static layers first, then the dynamic allowlist and baseline (skipped once a layer
    has suppressed the detection)."""
    if second is None:
        return first

    def both(det: Any) -> Any:
        det = first(det)
        return det if det.suppressed is not None else second(det)
    return both


def _build_detectors(cfg: VigilConfig, agent_pid: int | None) -> list[Any]:
    from vigil.detectors.registry import build_detectors

    pid = agent_pid if agent_pid is not None else os.getpid()
    return build_detectors(cfg.detector_tables(), own_pid=pid, own_uid=os.getuid())


def _build_suppressor(cfg: VigilConfig, built: BuiltPipeline) -> Callable[[Any], Any]:
    from vigil.suppress.suppressor import Suppressor

    sup = Suppressor.from_config(cfg)
    if sup.baseline is not None:
        built.closers.append(sup.baseline.close)
    built.suppressor = sup
    return sup.process


def _build_audit(cfg: VigilConfig, built: BuiltPipeline) -> Any:
    from vigil.audit.trail import AuditTrail

    trail = AuditTrail(cfg.audit.path, max_bytes=cfg.audit.max_bytes,
                       rotate_daily=cfg.audit.rotate_daily, key_path=cfg.audit.key_path,
                       keep_days=cfg.audit.keep_days,
                       max_total_bytes=cfg.audit.max_total_bytes)
    built.closers.append(trail.close)
    built.audit = trail
    return trail


def _build_alerts(cfg: VigilConfig, built: BuiltPipeline,
                  replay: bool = False) -> Callable[[Any], Any] | None:
    from vigil.alerts.config import AlertsConfig

    if not isinstance(cfg.alerts, AlertsConfig) or not cfg.alerts.routes:
        return None
    from vigil.alerts.pipeline import AlertPipeline

    trail = built.audit
    dead = trail.record_dead_letter if trail is not None else None
    if not replay:
        pipe = AlertPipeline(cfg.alerts, cfg.state_dir, on_dead_letter=dead)
        if trail is not None:
            _recover_handoff(pipe, cfg)
        pipe.start()
        built.alerts = pipe
        built.closers.append(pipe.stop)
        return pipe.submit
    clock = ReplayClock()
    pipe = AlertPipeline(cfg.alerts, cfg.state_dir, clock=clock, on_dead_letter=dead)
    built.alerts = pipe

    def submit(ev: Any) -> None:
        ts = ev.incident.last_ts or ev.incident.first_ts
        if ts and ts / 1e9 <= 253402300799:
            clock.now = max(clock.now, ts / 1e9)
        pipe.process(ev, now=clock.now)
        pipe.pump(clock.now)

    def finish() -> None:
        # the recording ended: close open windows and deliver what is due, letting event
        # time run on so per-chat pacing and retry backoffs can elapse (bounded)
        pipe.flush(clock.now)
        for _ in range(600):
            c = pipe.counts()
            if not (c.pending or c.retrying):
                break
            clock.now += 1.0
            pipe.pump(clock.now)
        pipe.close()
    built.closers.append(finish)
    return submit


#: how far back a restart looks for incidents the alerts never received, when the outbox
#: has no record of a last hand-off
RECOVERY_WINDOW_SECS = 3600.0


def _recover_handoff(pipe: Any, cfg: VigilConfig) -> None:
    """Incidents written to the audit trail but never accepted by the alert pipeline (the
    agent was killed between the two) are handed over now: exactly once, whatever the
    moment of the crash."""
    from vigil.audit.query import incidents_since

    last = pipe.outbox.last_handoff()
    since = (last - 300.0) if last is not None else time.time() - RECOVERY_WINDOW_SECS
    try:
        docs = incidents_since(cfg.audit.path, int(since * 1e9))
        n = pipe.recover(docs)
    except Exception:
        log.exception("alerts: could not compare the audit trail with the outbox")
        return
    if n:
        log.warning("alerts: %d incident event(s) found in the audit trail that the alerts "
                    "had not received (the agent stopped abruptly); handed over now", n)


class ReplayClock:
    """The alert pipeline's clock during a replay: the time of the latest event."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now
