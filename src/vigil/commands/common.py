"""What the commands share: finding and loading vigil.toml, with one located message and
exit 2 when it is not valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer


def config_or_default(config: Optional[Path]) -> Optional[Path]:
    """The given vigil.toml, else /etc/vigil/vigil.toml when it exists, else None (the
    built-in defaults)."""
    from vigil.config import DEFAULT_CONFIG_PATH
    if config is None and DEFAULT_CONFIG_PATH.exists():
        return DEFAULT_CONFIG_PATH
    return config


def load_or_exit(config: Optional[Path], command: str) -> tuple[Any, Optional[Path]]:
    """(the configuration, its path) — or one located error on stderr and exit 2."""
    from vigil.config import load_config
    from vigil.config_errors import ConfigError
    path = config_or_default(config)
    try:
        return load_config(path), path
    except ConfigError as exc:
        typer.echo(f"vigil {command}: {exc}", err=True)
        raise typer.Exit(2) from None
