"""`vigil audit verify` and `vigil incidents`: read the audit trail."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import msgspec
import typer

from vigil.audit.layout import trail_files
from vigil.audit.query import (QueryStats, RecordFilter, detection_types, iter_records,
                               latest_incidents)
from vigil.audit.record import AuditRecord
from vigil.audit.verify import verify_trail
from vigil.config import DEFAULT_CONFIG_PATH, load_config
from vigil.config_errors import ConfigError
from vigil.terminal import safe_text

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float | None = None) -> int:
    """`1h`, `30m`, `2d` (ago) or an ISO 8601 time -> ns since the epoch.

    Raises `ValueError` with a message that says what is accepted."""
    m = _DURATION.match(text)
    if m is not None:
        now = time.time() if now is None else now
        return int((now - float(m[1]) * _UNIT_SECONDS[m[2]]) * 1e9)
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {text!r}: expected a duration like 30m, 1h, 2d "
                         "or an ISO time like 2026-11-26T08:00:00Z") from None
    if dt.tzinfo is None:
        dt = dt.astimezone()
    return int(dt.timestamp() * 1e9)


def _trail_path(path: Optional[Path], config: Optional[Path]) -> Path:
    if path is not None:
        return path
    cfg_path = config if config is not None else (DEFAULT_CONFIG_PATH
                                                   if DEFAULT_CONFIG_PATH.exists() else None)
    try:
        return load_config(cfg_path).audit.path
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _line(rec: AuditRecord) -> str:
    when = datetime.fromtimestamp((rec.ts or rec.at_ns) / 1e9, timezone.utc)
    head = f"{when:%Y-%m-%dT%H:%M:%SZ} {rec.priority or '-':<9} {rec.key or rec.type}"
    text = f"{head}  {rec.output or rec.error or ''}"
    if rec.suppression:
        s = rec.suppression
        text += f"  [suppressed: {s.get('layer')} {s.get('entry')}"
        text += f" — {s['reason']}]" if s.get("reason") else "]"
    return text


def verify(path: Optional[Path] = typer.Argument(None, help="trail directory or .jsonl file "
                                                 "(default: [audit] path of the config)"),
           config: Optional[Path] = typer.Option(None, "--config", "-c",
                                                 help="vigil.toml to take the path from"),
           key: Optional[Path] = typer.Option(None, "--key", help="the audit key (default: "
                                              "[audit] key_path, else <trail>.key)"),
           chain_only: bool = typer.Option(False, "--chain-only", help="check the hash chain "
                                           "only, not the sealed head (no key at hand)"),
           ) -> None:
    """Check the audit trail: its hash chain, its sealed head (truncation, recomputed
    forgeries) and the repairs it recorded. Exit 0 when it passes, 1 at the first problem."""
    trail = _trail_path(path, config)
    if key is None and path is None:
        key = _config_key(config)
    if not trail_files(trail):
        typer.echo(f"{trail}: no audit trail here", err=True)
        raise typer.Exit(2)
    result = verify_trail(trail, key, chain_only=chain_only)
    typer.echo(result.message(), err=not result.ok)
    raise typer.Exit(0 if result.ok else 1)


def _config_key(config: Optional[Path]) -> Optional[Path]:
    cfg_path = config if config is not None else (DEFAULT_CONFIG_PATH
                                                   if DEFAULT_CONFIG_PATH.exists() else None)
    try:
        return load_config(cfg_path).audit.key_path
    except ConfigError:
        return None  # already reported by _trail_path


def incidents(ctx: typer.Context,
              since: Optional[str] = typer.Option(None, "--since",
                                                  help="30m, 1h, 2d or an ISO time"),
              detector: Optional[str] = typer.Option(None, "--detector",
                                                     help="detector or rule name, or key"),
              detections: bool = typer.Option(False, "--detections",
                                               help="list unsuppressed detections instead"),
              suppressed: bool = typer.Option(False, "--suppressed",
                                              help="list suppressed detections, with reasons"),
              everything: bool = typer.Option(False, "--all",
                                              help="list detections and suppressed ones"),
              as_json: bool = typer.Option(False, "--json", help="one JSON document per line"),
              path: Optional[Path] = typer.Option(None, "--trail", help="trail directory or file"),
              config: Optional[Path] = typer.Option(None, "--config", "-c")) -> None:
    """List incidents from the audit trail (`show ID` draws one); with --detections,
    --suppressed or --all, list detection records instead."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"trail": path, "config": config}
        return
    try:
        since_ns = parse_since(since) if since else None
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    trail = _trail_path(path, config)
    if not trail_files(trail):
        typer.echo(f"{trail}: no audit trail here", err=True)
        raise typer.Exit(2)
    stats = QueryStats()
    shown = 0
    if detections or suppressed or everything:
        flt = RecordFilter(since_ns=since_ns, detector=detector,
                           types=detection_types(suppressed, everything))
        for rec in iter_records(trail, flt, stats):
            shown += 1
            typer.echo(msgspec.json.encode(rec).decode() if as_json else safe_text(_line(rec)))
        what = "records"
    else:
        from vigil.incidents.view import incident_rows
        docs = latest_incidents(trail, RecordFilter(since_ns=since_ns, detector=detector),
                                stats)
        shown = len(docs)
        if as_json:
            for d in docs:
                typer.echo(msgspec.json.encode(d).decode())
        else:
            for row in incident_rows(docs):
                typer.echo(row)
        what = "records (incidents)"
    if not as_json:
        typer.echo(f"{shown} shown of {stats.records} {what}", err=True)
    if stats.bad_lines:
        typer.echo(f"warning: {stats.bad_lines} unreadable line(s) skipped; "
                   "run `vigil audit verify`", err=True)


def show(ctx: typer.Context,
         ident: str = typer.Argument(..., help="incident id, or its first characters"),
         as_json: bool = typer.Option(False, "--json", help="the story as one JSON document"),
         path: Optional[Path] = typer.Option(None, "--trail", help="trail directory or file"),
         config: Optional[Path] = typer.Option(None, "--config", "-c")) -> None:
    """Draw one incident: its process tree with each process's detections and evidence,
    suppressed detections of the same story (dimmed, with their reason), and a timeline."""
    from vigil.incidents.view import StoryError, load_story, print_story, story_document

    parent = ctx.obj or {}
    trail = _trail_path(path or parent.get("trail"), config or parent.get("config"))
    try:
        story = load_story(trail, ident)
    except StoryError as exc:
        typer.echo(f"vigil incidents show: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(msgspec.json.encode(story_document(story)).decode())
    else:
        print_story(story)


def register(app: typer.Typer) -> None:
    """Add `vigil audit verify` and `vigil incidents`."""
    group = typer.Typer(no_args_is_help=True, help="The audit trail of incidents and suppressions.")
    group.command("verify")(verify)
    app.add_typer(group, name="audit")
    inc = typer.Typer(help="Incidents from the audit trail.")
    inc.callback(invoke_without_command=True)(incidents)
    inc.command("show")(show)
    app.add_typer(inc, name="incidents")
