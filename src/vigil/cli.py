"""The `vigil` command line. Each command group lives in `vigil.commands.<name>` and
registers itself on the app; this module only assembles them."""

from __future__ import annotations

import importlib
import logging

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                  help="Vigil: host runtime security with few, true alerts.")

#: command modules, each exposing `register(app: typer.Typer) -> None`
COMMAND_MODULES = [
    "vigil.commands.run",
    "vigil.commands.rules",
    "vigil.commands.replay",
    "vigil.commands.config",
    "vigil.commands.record",
    "vigil.commands.audit",
    "vigil.commands.alerts",
    "vigil.commands.tune",
    "vigil.commands.control",
    "vigil.commands.version",
]


def _register_all() -> None:
    for mod in COMMAND_MODULES:
        importlib.import_module(mod).register(app)


def main() -> None:
    """Console-script entry point."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _register_all()
    app()
