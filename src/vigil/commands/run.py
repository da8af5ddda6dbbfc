"""`vigil run`: the live agent."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

import typer

log = logging.getLogger("vigil.run")


def run(config: Optional[Path] = typer.Option(
            None, "--config", "-c", help="vigil.toml (default: /etc/vigil/vigil.toml if it "
                                         "exists, else built-in defaults)"),
        rules: Optional[list[str]] = typer.Option(
            None, "--rules", "-r", help="rule file/dir instead of the configured rules"),
        as_json: bool = typer.Option(False, "--json", help="print incident documents (or, "
                                     "with --detections, Falco JSON) one per line"),
        detections: bool = typer.Option(False, "--detections",
                                        help="print every unsuppressed detection instead "
                                             "of incidents"),
        duration: Optional[float] = typer.Option(None, "--duration",
                                                 help="stop after this many seconds"),
        stats_interval: float = typer.Option(60.0, "--stats-interval",
                                             help="seconds between stats lines"),
        state_dir: Optional[Path] = typer.Option(None, "--state-dir",
                                                 help="override state_dir of the config"),
        nice: Optional[int] = typer.Option(None, "--nice", min=-20, max=19,
                                           help="override `nice` of the config (CPU "
                                                "niceness of the agent; 0: unchanged)"),
        ) -> None:
    """Start the sensors with the configured rules and detectors; print incidents."""
    from vigil.agent import build_pipeline
    from vigil.niceness import current_niceness, set_niceness
    from vigil.runtime import Agent, default_sensors, detection_printer, incident_printer

    from vigil.commands.common import load_or_exit
    cfg, config = load_or_exit(config, "run")
    if state_dir is not None:
        import dataclasses

        from vigil.config import AuditConfig
        cfg = dataclasses.replace(cfg, state_dir=state_dir,
                                  audit=AuditConfig(state_dir / "audit", cfg.audit.max_bytes,
                                                    cfg.audit.rotate_daily))
    from vigil.config_checks import deep_check
    try:
        cfg_text = cfg.source.read_text(errors="replace") if cfg.source else None
    except OSError:
        cfg_text = None
    startup = deep_check(cfg, cfg_text, cfg.source, rules=False, bind=False)
    for p in startup:
        log.error("%s", p)
    if startup:
        raise typer.Exit(2)
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    # before any thread starts: threads inherit their creator's niceness
    niceness = cfg.nice if nice is None else nice
    if niceness:
        problem = set_niceness(niceness)
        if problem is not None:
            log.warning("%s; running at the inherited priority", problem)
    built = build_pipeline(config=cfg, rule_paths=rules, detectors=True)
    for p in built.problems:
        log.error("%s", p)
    if built.fatal:
        raise typer.Exit(2)
    stdout_sinks = _stdout_routes(cfg)
    if detections:
        built.pipeline.on_detection = detection_printer(as_json)
    elif stdout_sinks:
        log.info("incidents go to stdout through the alert route(s) %s; not printing them "
                 "twice", ", ".join(stdout_sinks))
    else:
        built.pipeline.on_incident = incident_printer(as_json)
    # compiled now rather than on the first event of each type, in the middle of a busy host
    captured = built.event_types()
    built.prepare_engines(captured)
    sensors, reasons = Agent.start_sensors(default_sensors(built))
    for r in reasons:
        log.warning("%s", r)
    if not sensors:
        log.error("no sensor could start; nothing to watch (replay still works: "
                  "`vigil replay FILE.jsonl`)")
        built.close()
        raise typer.Exit(1)
    agent = Agent(built, sensors, stats_interval=stats_interval,
                  on_stats=lambda line: log.info("%s", line))
    agent.install_signal_handlers()
    from vigil.rules.reload import RulesReloader

    def offer(engines: Any) -> None:
        engines.prepare(captured)  # on the reloader's thread, not the engine's
        agent.offer_engines(engines)

    rules_reloader = RulesReloader(built.rule_files, built.reloaded, offer).start()
    from vigil.live_reload import start_config_reload

    reloader = start_config_reload(built, agent, rules_reloader)

    def reload_now() -> dict[str, Any]:
        """`vigil reload`: the rules and vigil.toml as they are now."""
        import time as _time
        ok, error = rules_reloader.reload_now()
        result: dict[str, Any] = {"rules": "reloaded" if ok else f"failed: {error}"}
        if reloader is not None:
            changed = reloader.check(force=True)
            result["config"] = "reloaded" if changed else (
                reloader.last_error and f"failed: {reloader.last_error}" or "unchanged")
        agent.reload_info = {"at": _time.time(), **result}
        return result

    from vigil.control import SOCKET_NAME, ControlServer
    control = None
    try:
        control = ControlServer(cfg.state_dir / SOCKET_NAME, agent.status, reload_now).start()
    except OSError as exc:
        log.warning("control socket disabled (%s: %s); `vigil status` will not answer",
                    cfg.state_dir / SOCKET_NAME, exc.strerror or exc)
    metrics = None
    metrics_url = None
    if cfg.metrics.enabled:
        from vigil.metrics import serve_metrics
        try:
            metrics = serve_metrics(agent, cfg.metrics.listen)
            metrics_url = f"http://{cfg.metrics.listen}/metrics"
        except OSError as exc:
            log.warning("metrics disabled: cannot listen on %s: %s", cfg.metrics.listen, exc)
    from vigil.startup import startup_lines
    for line in startup_lines(built, sensors, reasons, metrics=metrics_url,
                              control=str(control.path) if control is not None else None,
                              nice=current_niceness()):
        log.info("%s", line)
    names = ", ".join(s.name for s in sensors)
    n_rules = len(built.falco.rules) if built.falco is not None else 0
    n_sigma = len(built.sigma.rules) if built.sigma is not None else 0
    log.info("vigil: watching with %s; %d Falco rules, %d Sigma rules, %d detectors; nice %d",
             names, n_rules, n_sigma, len(built.detectors), current_niceness())
    try:
        agent.run(duration)
    finally:
        if control is not None:
            control.stop()
        if reloader is not None:
            reloader.stop()
        rules_reloader.stop()
        if metrics is not None:
            metrics.shutdown()
        log.info("vigil: stopping; final %s", agent.shutdown())


def _stdout_routes(cfg: Any) -> list[str]:
    """Routes whose sink prints on stdout (then `vigil run` does not print incidents too)."""
    alerts = cfg.alerts
    routes = getattr(alerts, "routes", ()) or ()
    sinks = getattr(alerts, "sinks", {}) or {}
    return [r.name for r in routes if r.sink in sinks and sinks[r.sink].type == "stdout"]


def register(app: typer.Typer) -> None:
    """Add `vigil run`."""
    app.command("run")(run)
