"""Running rule test specs through the same pipeline the agent runs.

Rules are loaded by `vigil.agent.build_engines`, exactly as `vigil run` and `vigil replay`
load them (with the config's `min_priority`, `disabled`, Sigma mapping and hosts). Each
test gets a fresh `DetectionPipeline` — fresh detectors, correlator and suppression — so
stateful detectors never carry state from one test into the next; the compiled rules are
shared, as they hold no state. Baseline learning and the audit trail are left out: a test
must not read or write the host's state.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from vigil.config import VigilConfig, load_config
from vigil.config_errors import ConfigError
from vigil.detections import Detection
from vigil.rules.falco.reader import expand_rule_paths, read_rules_file
from vigil.rules.sources import classify_paths
from vigil.rules.suggest import did_you_mean
from vigil.ruletest.check import failures_of
from vigil.ruletest.results import CaseResult, Failure, Fired, SpecResult, event_summary
from vigil.ruletest.spec import RuleTestSpec, SpecError, TestCase, load_spec


@dataclass
class _Loaded:
    """The configuration and compiled rules a spec runs with."""

    config: VigilConfig
    engines: list[Any] = field(default_factory=list)
    #: rule, Sigma and detector names a test may name
    known: set[str] = field(default_factory=set)
    detectors_on: bool = False
    problems: list[str] = field(default_factory=list)
    fatal: bool = False


class _LogCapture(logging.Handler):
    """Keeps what the pipeline logs while a test runs (a rule raising on an event), so it
    becomes a test failure instead of a traceback on the terminal."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text += f": {type(exc).__name__}: {exc}"
        self.messages.append(text)


@contextmanager
def _captured_logs() -> Iterator[_LogCapture]:
    logger = logging.getLogger("vigil")
    handler = _LogCapture()
    saved = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = saved


class RuleTestRunner:
    """Runs specs; compiled rule sets are shared between specs that load the same ones."""

    def __init__(self) -> None:
        self._cache: dict[tuple[Any, ...], _Loaded] = {}

    def run_file(self, path: str | Path, name_filter: str | None = None) -> SpecResult:
        """Read and run one spec file."""
        return self.run(load_spec(path), name_filter)

    def run(self, spec: RuleTestSpec, name_filter: str | None = None) -> SpecResult:
        """Run the tests of a spec (those whose name contains `name_filter`)."""
        result = SpecResult(path=str(spec.path), errors=list(spec.errors))
        if not spec.ok:
            return result
        loaded = self._load(spec, result)
        if loaded is None:
            return result
        result.rule_errors = list(loaded.problems)
        if loaded.fatal:
            return result
        result.errors.extend(_unknown_names(spec, loaded))
        if result.errors:
            return result
        for case in spec.cases:
            if name_filter and name_filter.lower() not in case.name.lower():
                continue
            result.cases.append(self._run_case(spec, case, loaded))
        return result

    # -- loading ---------------------------------------------------------------------------

    def _load(self, spec: RuleTestSpec, result: SpecResult) -> _Loaded | None:
        try:
            cfg = load_config(spec.config)
        except ConfigError as exc:
            result.errors.append(SpecError(str(spec.path), spec.config_line,
                                           f"the configuration does not load: {exc}",
                                           "config"))
            return None
        if spec.rules:
            rp = classify_paths(spec.rules)
            falco, sigma = list(rp.falco), list(rp.sigma)
        else:
            falco, sigma = cfg.rules.falco_files(), cfg.rules.sigma_files()
        key = (tuple(map(str, falco)), tuple(map(str, sigma)), spec.rule_matching,
               str(spec.config) if spec.config else None)
        cached = self._cache.get(key)
        if cached is None:
            cached = _load_rules(cfg, falco, sigma, spec.rule_matching)
            self._cache[key] = cached
        if spec.detectors or (spec.detectors is None and spec.config is not None):
            try:
                # validated once here: a bad [detectors] table is a spec problem
                _detectors(cached.config)
            except ConfigError as exc:
                result.errors.append(SpecError(str(spec.path), spec.config_line,
                                               f"the detectors do not load: {exc}",
                                               "config"))
                return None
            return _Loaded(cached.config, cached.engines, cached.known, True,
                           cached.problems, cached.fatal)
        return cached

    # -- running ---------------------------------------------------------------------------

    def _run_case(self, spec: RuleTestSpec, case: TestCase, loaded: _Loaded) -> CaseResult:
        from vigil.incidents.correlator import Correlator
        from vigil.pipeline import DetectionPipeline

        cfg = loaded.config
        detectors = _detectors(cfg) if loaded.detectors_on else []
        pipe = DetectionPipeline(loaded.engines, detectors=detectors,
                                 suppress=_suppression(cfg, spec.config is not None),
                                 shadow=_shadow(cfg) if spec.config is not None else None,
                                 correlator=Correlator(cfg.incidents))
        out = CaseResult(name=case.name, line=case.line, events=len(case.events),
                         origins=[e.origin for e in case.events])
        with _captured_logs() as logs:
            for i, sev in enumerate(case.events):
                errors_before = _error_count(pipe, loaded.engines)
                seen_logs = len(logs.messages)
                dets: list[Detection] = pipe.process(sev.event)
                fired = [Fired.of(d, i) for d in dets]
                out.fired.extend(fired)
                summary = event_summary(sev.event)
                if _error_count(pipe, loaded.engines) > errors_before:
                    why = "; ".join(logs.messages[seen_logs:]) or _last_engine_error(
                        loaded.engines) or "see the agent log"
                    out.failures.append(Failure(
                        f"a rule or detector failed on this event: {why}", i, sev.origin,
                        summary))
                if sev.expect is not None:
                    out.failures.extend(failures_of(sev.expect, fired, i, sev.origin,
                                                    summary))
        if case.expect is not None:
            if len(case.events) == 1:  # the test is its event: say which one it was
                only = case.events[0]
                out.failures.extend(failures_of(case.expect, out.fired, 0, only.origin,
                                                event_summary(only.event)))
            else:
                out.failures.extend(failures_of(case.expect, out.fired))
        return out


def _load_rules(cfg: VigilConfig, falco: list[Path], sigma: list[Path],
                rule_matching: str) -> _Loaded:
    from vigil.agent import BuiltPipeline, build_engines
    from vigil.pipeline import DetectionPipeline

    holder = BuiltPipeline(DetectionPipeline([]), cfg)
    holder.falco_paths, holder.sigma_paths = list(falco), list(sigma)
    holder.rule_matching, holder.live = rule_matching, False
    engines = build_engines(holder)
    out = _Loaded(cfg, engines.engines(), problems=list(engines.problems),
                  fatal=engines.fatal)
    for f in expand_rule_paths(list(falco)):
        for item in read_rules_file(f).items:
            if item.kind == "rule" and isinstance(item.data.get("rule"), str):
                out.known.add(item.data["rule"])
    if engines.sigma is not None:
        for r in engines.sigma.rules:
            out.known.update((r.rule_id, r.title))
    out.known.update(cfg.rules.disabled)
    return out


def _detectors(cfg: VigilConfig) -> list[Any]:
    from vigil.detectors.registry import build_detectors

    # no agent among the test's events: nothing is "our own activity" by pid
    return build_detectors(cfg.detector_tables(), own_pid=None, own_uid=None)


def _suppression(cfg: VigilConfig, with_allowlist: bool) -> Callable[[Detection], Detection]:
    from vigil.detectors.process_identity import AgentIdentity
    from vigil.suppress.self_activity import SelfActivityFilter

    static = SelfActivityFilter(AgentIdentity()).process
    if not with_allowlist:
        return static
    from vigil.suppress.suppressor import Suppressor

    dynamic = Suppressor(cfg.allowlist).process  # no baseline: it is this host's state

    def both(det: Detection) -> Detection:
        det = static(det)
        return det if det.suppressed is not None else dynamic(det)
    return both


def _shadow(cfg: VigilConfig) -> Any:
    from vigil.suppress.shadow import ShadowPolicy

    return ShadowPolicy.from_config(cfg) or None


def _error_count(pipe: Any, engines: list[Any]) -> int:
    return pipe.stats.errors + sum(getattr(e, "errors", 0) for e in engines)


def _last_engine_error(engines: list[Any]) -> str | None:
    for e in engines:
        if getattr(e, "last_error", None):
            return str(e.last_error)
    return None


def _unknown_names(spec: RuleTestSpec, loaded: _Loaded) -> list[SpecError]:
    """Expectations naming a rule or detector that is not loaded: a typo in `not_fire`
    would otherwise pass for ever."""
    from vigil.detectors.registry import DETECTORS

    known = loaded.known | set(DETECTORS)
    out: list[SpecError] = []
    for case in spec.cases:
        exps = [case.expect] + [e.expect for e in case.events]
        for exp in exps:
            if exp is None:
                continue
            for ref in exp.named():
                name = ref.name
                detector = name.partition(".")[0] in DETECTORS
                if detector and not loaded.detectors_on:
                    out.append(SpecError(str(spec.path), ref.line,
                                         f"{name!r} is a built-in detector, and detectors are "
                                         f"off in this spec (add detectors: true)", case.name))
                    continue
                if name in known or detector:
                    continue
                out.append(SpecError(str(spec.path), ref.line,
                                     f"no rule or detector named {name!r} is loaded"
                                     f"{did_you_mean(name, known)}", case.name))
    return out
