"""`vigil alerts test --sink NAME` and `vigil alerts status`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from vigil.alerts.outbox import OUTBOX_FILE, Outbox
from vigil.alerts.probe import probe_alert, send_now
from vigil.alerts.sinks.base import SinkError
from vigil.alerts.sinks.factory import build_sink
from vigil.config import DEFAULT_CONFIG_PATH, VigilConfig, load_config
from vigil.config_errors import ConfigError

_CONFIG_HELP = "vigil.toml (default: /etc/vigil/vigil.toml when it exists)"


def _load(config: Optional[Path]) -> VigilConfig:
    path = config if config is not None else (DEFAULT_CONFIG_PATH
                                               if DEFAULT_CONFIG_PATH.exists() else None)
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def send_test(sink: str = typer.Option(..., "--sink", help="the sink name in [alerts.sinks]"),
              config: Optional[Path] = typer.Option(None, "--config", "-c", help=_CONFIG_HELP),
              ) -> None:
    """Send a test message to one sink now; exit 1 when the sink refuses it."""
    cfg = _load(config)
    sinks = cfg.alerts.sinks
    if sink not in sinks:
        typer.echo(f"unknown sink {sink!r}; configured: {', '.join(sorted(sinks)) or 'none'}",
                   err=True)
        raise typer.Exit(2)
    try:
        target = build_sink(sinks[sink])
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    try:
        parts = send_now(target, probe_alert(sink, cfg.alerts.hostname or cfg.hostname,
                                            time.time()))
    except SinkError as exc:
        hint = "a retry may help" if exc.retryable else "fix the configuration"
        typer.echo(f"FAILED: {exc} ({hint})", err=True)
        raise typer.Exit(1) from None
    finally:
        target.close()
    typer.echo(f"sent a test message to {sink!r} ({sinks[sink].type}, {parts} part(s))")


def status(config: Optional[Path] = typer.Option(None, "--config", "-c", help=_CONFIG_HELP),
           state_dir: Optional[Path] = typer.Option(None, "--state-dir",
                                                    help="override state_dir"),
           ) -> None:
    """Show the outbox: pending, retrying, dead, sent, and incidents held for summaries."""
    base = state_dir if state_dir is not None else _load(config).state_dir
    path = base / OUTBOX_FILE
    if not path.exists():
        typer.echo(f"no outbox yet at {path} (no alert accepted so far)")
        return
    outbox = Outbox(path)
    try:
        c = outbox.counts()
        typer.echo(f"outbox {path}")
        typer.echo(f"pending {c.pending}  retrying {c.retrying}  dead {c.dead}  "
                   f"sent {c.sent}  held for summaries {c.held}")
        for msg_id, sink, title, error in outbox.dead_letters(10):
            typer.echo(f"dead #{msg_id} {sink}: {title}: {error}")
    finally:
        outbox.close()


def register(app: typer.Typer) -> None:
    """Add the `alerts` command group to the CLI."""
    group = typer.Typer(no_args_is_help=True, help="Alert sinks and the alert outbox.")
    group.command("test")(send_test)
    group.command("status")(status)
    app.add_typer(group, name="alerts")
