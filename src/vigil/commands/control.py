"""`vigil status` and `vigil reload`: ask the running agent through its control socket."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer


def _socket(config: Optional[Path], state_dir: Optional[Path]) -> Path:
    from vigil.control import SOCKET_NAME

    from vigil.commands.common import load_or_exit
    if state_dir is not None:
        return state_dir / SOCKET_NAME
    return load_or_exit(config, "status")[0].state_dir / SOCKET_NAME


def _ask(config: Optional[Path], state_dir: Optional[Path], cmd: str) -> dict[str, Any]:
    from vigil.control import ControlError, ask

    try:
        return ask(_socket(config, state_dir), cmd)
    except ControlError as exc:
        typer.echo(f"vigil {cmd}: {exc}", err=True)
        raise typer.Exit(1) from None


def _lines(s: dict[str, Any]) -> list[str]:
    out = [f"vigil {s['version']} running, pid {s['pid']}, up {s['uptime_secs']:.0f} s",
           f"config {s.get('config') or '(built-in defaults)'}, state in {s['state_dir']}"]
    for sen in s.get("sensors", []):
        out.append(f"sensor {sen['name']}: {sen['events']} events, {sen['kernel_drops']} "
                   f"kernel drops, {sen['kernel_filtered']} filtered in the kernel")
    out.append(f"events {s['events']} ({s['events_per_sec']}/s), detections "
               f"{s['detections']} ({s['suppressed']} suppressed), queue {s['queue_depth']} "
               f"batches, {s['queue_drops']} events dropped")
    r = s.get("rules", {})
    out.append(f"rules: {r.get('falco', 0)} Falco, {r.get('sigma', 0)} Sigma; "
               f"{len(r.get('detectors', []))} detectors")
    if s.get("reload"):
        out.append("last reload: " + ", ".join(f"{k} {v}" for k, v in s["reload"].items()
                                               if k != "at"))
    i = s.get("incidents", {})
    out.append(f"incidents: {i.get('open', 0)} open; {i.get('opened', 0)} opened, "
               f"{i.get('escalated', 0)} escalated, {i.get('closed', 0)} closed, "
               f"{i.get('evicted', 0)} evicted")
    a = s.get("audit")
    if a:
        state = f"UNAVAILABLE ({a['degraded']}), {a['held']} records held in memory" \
            if a.get("degraded") else "ok"
        out.append(f"audit trail {a['path']}: {state}")
    al = s.get("alerts")
    if al:
        out.append(f"alerts: {al['queue_drops']} events dropped by the full alert queue")
        for name, c in al.get("sinks", {}).items():
            out.append(f"  sink {name}: {c['sent']} sent, {c['failed']} failed attempts, "
                       f"{c['dead_lettered']} dead-lettered; backlog {c['pending']} "
                       f"pending, {c['retrying']} retrying, {c['dead']} dead")
    return out


def status(config: Optional[Path] = typer.Option(None, "--config", "-c",
                                                  help="vigil.toml of the running agent"),
           state_dir: Optional[Path] = typer.Option(None, "--state-dir",
                                                    help="the agent's state directory"),
           as_json: bool = typer.Option(False, "--json", help="the status as JSON")) -> None:
    """Ask the running agent how it is: uptime, sensors, events/s, drops, queue, rules,
    last reload, incidents open, audit trail, alert backlog per sink."""
    answer = _ask(config, state_dir, "status")["status"]
    if as_json:
        typer.echo(json.dumps(answer))
        return
    for line in _lines(answer):
        typer.echo(line)


def reload(config: Optional[Path] = typer.Option(None, "--config", "-c",
                                                  help="vigil.toml of the running agent"),
           state_dir: Optional[Path] = typer.Option(None, "--state-dir",
                                                    help="the agent's state directory")
           ) -> None:
    """Make the running agent reload its rules and vigil.toml now (it also does by itself
    when they change); exit 1 when the new rules or configuration have errors (the
    previous ones keep running)."""
    result = _ask(config, state_dir, "reload")["reload"]
    for k, v in result.items():
        typer.echo(f"{k}: {v}")
    if any(str(v).startswith("failed") for v in result.values()):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `vigil status` and `vigil reload`."""
    app.command("status")(status)
    app.command("reload")(reload)
