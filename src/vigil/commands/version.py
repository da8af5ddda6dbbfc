"""`vigil --version` and `vigil version`: print the installed version and exit."""

from __future__ import annotations

import typer

from vigil.version import installed_version


def version_line() -> str:
    """What both forms print: `vigil <version>`."""
    return f"vigil {installed_version()}"


def version() -> None:
    """Print the installed version of Vigil (same as `vigil --version`)."""
    typer.echo(version_line())


def _print_version_and_exit(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit(0)


def _global_options(
        show_version: bool = typer.Option(
            False, "--version", is_eager=True, callback=_print_version_and_exit,
            help="Print the installed version and exit."),
        log_format: str = typer.Option(
            "text", "--log-format", help="format of the log on stderr: text (time, "
                                         "level, component, message) or json (one object "
                                         "per line, for log collectors)")) -> None:
    """Vigil: host runtime security with few, true alerts."""
    from vigil.logsetup import LOG_FORMATS, configure_logging
    if log_format not in LOG_FORMATS:
        typer.echo(f"vigil: --log-format must be text or json, not {log_format!r}", err=True)
        raise typer.Exit(2)
    configure_logging(fmt=log_format)


def register(app: typer.Typer) -> None:
    """Add `vigil version` and the global `--version` option to the CLI."""
    app.command("version")(version)
    app.callback()(_global_options)
