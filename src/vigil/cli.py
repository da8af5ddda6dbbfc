"""The `vigil` command line. Each command group lives in `vigil.commands.<name>` and
registers itself on the app; this module only assembles them."""

from __future__ import annotations

import importlib
import sys

import typer

from vigil.logsetup import configure_logging
from vigil.statedir import restrict_umask

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                  pretty_exceptions_enable=False,
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


def crash_report(exc: BaseException) -> str | None:
    """Write the full report of an unexpected error; its path (None when nowhere could
    take it). A user sees one line; the report is for the bug."""
    import os
    import tempfile
    import time
    import traceback

    text = (f"vigil crash report {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n"
            f"command: {' '.join(sys.argv)}\n\n"
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    for d in (os.environ.get("VIGIL_CRASH_DIR"), "/var/lib/vigil", tempfile.gettempdir()):
        if not d:
            continue
        try:
            fd, path = tempfile.mkstemp(prefix="vigil-crash-", suffix=".txt", dir=d)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            return path
        except OSError:
            continue
    return None


def main() -> None:
    """Console-script entry point. An unexpected internal error prints one line and where
    its full report was written (exit 70), never a traceback."""
    # state, recordings and alert files hold command lines: nothing Vigil creates is
    # readable by other users (vigil.statedir)
    restrict_umask()
    configure_logging()
    _register_all()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the last line of defence: a bug, not a user error
        path = crash_report(exc)
        where = f"; full report in {path}" if path else ""
        print(f"vigil: internal error: {type(exc).__name__}: {exc}{where}", file=sys.stderr)
        sys.exit(70)
