"""`vigil config check`: validate a vigil.toml without starting the agent."""

from __future__ import annotations

from pathlib import Path

import typer

from vigil.config import DEFAULT_CONFIG_PATH, VigilConfig, load_config
from vigil.config_errors import ConfigError


def summary(cfg: VigilConfig) -> str:
    """One line saying what a valid configuration sets up."""
    enabled = sorted(name for name, d in cfg.detectors.items() if d.enabled)
    disabled = sorted(name for name, d in cfg.detectors.items() if not d.enabled)
    parts = [f"state_dir {cfg.state_dir}",
             f"{len(cfg.rules.falco)} falco rule source(s)",
             f"{len(cfg.rules.sigma)} sigma rule source(s)",
             f"{len(cfg.allowlist)} allowlist entries",
             f"baseline {'on' if cfg.baseline.enabled else 'off'}"]
    if enabled:
        parts.append(f"detectors configured: {', '.join(enabled)}")
    if disabled:
        parts.append(f"detectors disabled: {', '.join(disabled)}")
    return "; ".join(parts)


def check(path: Path = typer.Argument(DEFAULT_CONFIG_PATH, help="the vigil.toml to check"),
          schema_only: bool = typer.Option(False, "--schema-only",
                                           help="only the file's own validity (no secrets, "
                                                "addresses, paths or rules checked)")) -> None:
    """Validate a configuration file as `vigil run` would use it: the schema, then the
    secrets it takes from the environment, the metrics address, the state directory and
    the rules it loads. Exit 0 when valid, 2 with file:line:col: key: message."""
    from vigil.config_checks import deep_check
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if not schema_only:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            text = None
        problems = deep_check(cfg, text, path)
        for p in problems:
            typer.echo(str(p), err=True)
        if problems:
            raise typer.Exit(2)
    typer.echo(f"{path}: OK ({summary(cfg)})")


def register(app: typer.Typer) -> None:
    """Add the `config` command group to the CLI."""
    group = typer.Typer(no_args_is_help=True, help="Inspect the configuration (vigil.toml).")
    group.command("check")(check)
    app.add_typer(group, name="config")
