"""`vigil tune`: which rules are noisy and why, and the allowlist entry that fixes it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import msgspec
import typer

from vigil.terminal import safe_text


def _shadow_would_alert(report, cfg) -> dict[str, int]:
    """Per shadowed source: its incidents a route would have sent were it live."""
    from vigil.alerts.config import AlertsConfig
    from vigil.alerts.routing import incident_matches
    from vigil.incidents.render import incident_from_document

    routes = cfg.alerts.routes if isinstance(cfg.alerts, AlertsConfig) else ()
    out: dict[str, int] = {}
    for doc in report.shadow_docs.values():
        try:
            inc = incident_from_document(doc)
        except (KeyError, TypeError, ValueError):
            continue
        live = msgspec.structs.replace(inc, shadow=False, detections=tuple(
            msgspec.structs.replace(g, shadow=False) for g in inc.detections))
        if any(incident_matches(r, live) for r in routes):
            for g in inc.detections:
                if g.shadow:
                    key = f"sigma:{g.rule_id}" if g.kind == "sigma" else f"{g.kind}:{g.name}"
                    out[key] = out.get(key, 0) + 1
    return out


def tune(config: Optional[Path] = typer.Option(
             None, "--config", "-c", help="vigil.toml (default: /etc/vigil/vigil.toml)"),
         trail: Optional[Path] = typer.Option(None, "--trail",
                                              help="audit trail (default: the config's)"),
         since: Optional[str] = typer.Option("7d", "--since",
                                             help="30m, 1h, 7d or an ISO time"),
         until: Optional[str] = typer.Option(None, "--until", help="an ISO time or duration"),
         min_detections: int = typer.Option(5, "--min", min=1,
                                            help="sources with fewer detections get no fix"),
         top: int = typer.Option(10, "--top", min=1, help="suggestions at most"),
         as_json: bool = typer.Option(False, "--json", help="the report as one JSON document"),
         apply: Optional[int] = typer.Option(None, "--apply", min=1,
                                             help="write suggestion N of the last report"),
         form: str = typer.Option("toml", "--as",
                                  help="with --apply: toml (vigil.toml entry) or falco "
                                       "(exception in the local rules directory)"),
         yes: bool = typer.Option(False, "--yes", "-y",
                                  help="with --apply: write without asking"),
         ) -> None:
    """The noise report of the audit trail (per rule and detector: incidents, suppressed
    and shadow detections, the processes, parents, users, paths and addresses behind them)
    and the narrowest fix for each noisy source; --apply N writes one."""
    from vigil.commands.audit import parse_since
    from vigil.tuning.apply import (TuneError, falco_change, load_suggestion, save_report,
                                    toml_change)
    from vigil.tuning.report import build_report
    from vigil.tuning.suggest import suggest

    from vigil.commands.common import load_or_exit
    cfg, config = load_or_exit(config, "tune")
    if apply is not None:
        if form not in ("toml", "falco"):
            typer.echo("vigil tune: --as must be toml or falco", err=True)
            raise typer.Exit(2)
        try:
            sug = load_suggestion(cfg.state_dir, apply, config.resolve() if config else None)
            change = toml_change(config.resolve(), sug) if form == "toml" \
                else falco_change(config.resolve(), sug)
        except TuneError as exc:
            typer.echo(f"vigil tune: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(safe_text(change.diff(), keep_newlines=True))
        if not yes:
            if not sys.stdin.isatty():
                typer.echo("vigil tune: not written (give --yes to write without a terminal)",
                           err=True)
                raise typer.Exit(1)
            if not typer.confirm(f"write {change.path}?"):
                raise typer.Exit(1)
        change.write()
        typer.echo(f"vigil tune: wrote {change.path}; a running agent reloads it by itself. "
                   "Fill in the reason.", err=True)
        return
    try:
        since_ns = parse_since(since) if since else None
        until_ns = parse_since(until) if until else None
    except ValueError as exc:
        typer.echo(f"vigil tune: {exc}", err=True)
        raise typer.Exit(2) from None
    path = trail or cfg.audit.path
    from vigil.audit.layout import trail_files
    if not trail_files(path):
        typer.echo(f"vigil tune: {path}: no audit trail here", err=True)
        raise typer.Exit(2)
    report = build_report(path, since_ns, until_ns)
    suggestions = suggest(report, min_detections=min_detections, top=top)
    would = _shadow_would_alert(report, cfg)
    save_report(cfg.state_dir, config.resolve() if config else None, suggestions)
    if as_json:
        doc = {"records": report.records, "detections": report.detections,
               "suppressed": report.suppressed, "incidents": len(report.incidents),
               "chain_problem": report.chain_problem,
               "sources": [{"key": s.key, "kind": s.kind, "name": s.name,
                            "rule_id": s.rule_id, "incidents": len(s.incidents),
                            "detections": s.detections, "suppressed": s.suppressed,
                            "shadow": s.shadow, "shadow_incidents": len(s.shadow_incidents),
                            "shadow_would_alert": would.get(s.key, 0),
                            "context": {d: c.most_common(5) for d, c in s.context.items()},
                            "suppressed_by": s.suppressed_by.most_common(5)}
                           for s in report.ranked()],
               "suggestions": [s.document() for s in suggestions]}
        typer.echo(msgspec.json.encode(doc).decode())
        return
    _print_report(report, suggestions, would, config)


def _print_report(report, suggestions, would, config) -> None:
    from vigil.incidents.render import rfc3339

    out = lambda s="": typer.echo(safe_text(s, keep_newlines=True))  # noqa: E731
    span = (f"{(rfc3339(report.first_ts) or '-')[:19]}Z → "
            f"{(rfc3339(report.last_ts) or '-')[:19]}Z") if report.first_ts else "no detections"
    out(f"Noise report: {span}; {report.detections} unsuppressed detections in "
        f"{len(report.incidents)} incidents, {report.suppressed} suppressed")
    if report.chain_problem:
        out(f"warning: the audit chain breaks at {report.chain_problem}; this report "
            "covers the records before the break")
    out()
    out(f"{'source':<52} {'incidents':>9} {'detections':>10} {'suppressed':>10} {'shadow':>7}")
    for s in report.ranked()[:30]:
        label = s.key if s.kind != "sigma" else f"sigma: {s.name} ({s.rule_id})"
        out(f"{label[:52]:<52} {len(s.incidents):>9} {s.detections:>10} {s.suppressed:>10} "
            f"{s.shadow:>7}")
        tops = []
        for dim in ("processes", "parents", "users", "paths", "ips"):
            c = s.context[dim]
            if c:
                tops.append(f"{dim}: " + ", ".join(f"{v} ({n})" for v, n in c.most_common(3)))
        for t in tops:
            out(f"    {t}")
        if s.shadow:
            out(f"    shadow mode: {len(s.shadow_incidents)} incident(s), "
                f"{would.get(s.key, 0)} of which a route would have sent")
        if s.suppressed_by:
            v, n = s.suppressed_by.most_common(1)[0]
            out(f"    suppressed mostly by {v} ({n})")
    out()
    explained = {s.source for s in suggestions}
    loose = [s for s in report.ranked() if s.detections + s.shadow >= 5
             and s.key not in explained]
    if loose:
        out("Not explained by one narrow context (read these incidents: attacks look like "
            "this), no fix suggested: " + ", ".join(s.key for s in loose[:10]))
        out()
    if not suggestions:
        out("No source is noisy enough, in one context, for a suggestion (see --min).")
        return
    out("Suggested fixes (apply one with `vigil tune --apply N [--as falco]`):")
    for sug in suggestions:
        out()
        out(f"[{sug.number}] {sug.source}: covers {sug.covered} of {sug.total} detections")
        out("    vigil.toml, [allowlist.rules] suppress:")
        out(f"    {sug.toml}")
        if sug.falco_yaml:
            out("    or a Falco exception (--as falco), in a new file of [rules] "
                "local_rules_dir:")
            for line in sug.falco_yaml.splitlines():
                out(f"    {line}")
        for note in sug.notes:
            out(f"    note: {note}")
    if config is None:
        out()
        out("(no vigil.toml given: --apply needs -c PATH)")


def register(app: typer.Typer) -> None:
    """Add `vigil tune`."""
    app.command("tune")(tune)
