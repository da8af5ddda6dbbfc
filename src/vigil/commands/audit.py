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
from vigil.audit.query import QueryStats, RecordFilter, incident_types, iter_records
from vigil.audit.record import AuditRecord
from vigil.audit.verify import verify_trail
from vigil.config import DEFAULT_CONFIG_PATH, load_config
from vigil.config_errors import ConfigError

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
                                                 help="vigil.toml to take the path from")) -> None:
    """Check the audit trail's hash chain: exit 0 when intact, 1 at the first broken line."""
    trail = _trail_path(path, config)
    if not trail_files(trail):
        typer.echo(f"{trail}: no audit trail here", err=True)
        raise typer.Exit(2)
    result = verify_trail(trail)
    typer.echo(result.message(), err=not result.ok)
    raise typer.Exit(0 if result.ok else 1)


def incidents(since: Optional[str] = typer.Option(None, "--since",
                                                  help="30m, 1h, 2d or an ISO time"),
              detector: Optional[str] = typer.Option(None, "--detector",
                                                     help="detector or rule name, or key"),
              suppressed: bool = typer.Option(False, "--suppressed",
                                              help="list suppressed detections, with reasons"),
              everything: bool = typer.Option(False, "--all",
                                              help="list incidents and suppressed detections"),
              as_json: bool = typer.Option(False, "--json", help="one JSON record per line"),
              path: Optional[Path] = typer.Option(None, "--trail", help="trail directory or file"),
              config: Optional[Path] = typer.Option(None, "--config", "-c")) -> None:
    """List incidents (or suppressed detections) from the audit trail."""
    try:
        since_ns = parse_since(since) if since else None
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    trail = _trail_path(path, config)
    flt = RecordFilter(since_ns=since_ns, detector=detector,
                       types=incident_types(suppressed, everything))
    stats = QueryStats()
    shown = 0
    for rec in iter_records(trail, flt, stats):
        shown += 1
        typer.echo(msgspec.json.encode(rec).decode() if as_json else _line(rec))
    if not as_json:
        typer.echo(f"{shown} shown of {stats.records} records", err=True)
    if stats.bad_lines:
        typer.echo(f"warning: {stats.bad_lines} unreadable line(s) skipped; "
                   "run `vigil audit verify`", err=True)


def register(app: typer.Typer) -> None:
    """Add `vigil audit verify` and `vigil incidents`."""
    group = typer.Typer(no_args_is_help=True, help="The audit trail of incidents and suppressions.")
    group.command("verify")(verify)
    app.add_typer(group, name="audit")
    app.command("incidents")(incidents)
