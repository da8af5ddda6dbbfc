"""Vigil's version, read from the installed distribution's metadata (the one place it is
set is `pyproject.toml`), so that `vigil --version`, the Debian package and the metrics
cannot disagree."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _distribution_version

#: the distribution name in `pyproject.toml` (the import package is `vigil`)
DISTRIBUTION = "vigil-hids"
#: what is reported when Vigil runs from a source tree that was never installed
UNKNOWN = "0+unknown"


def installed_version() -> str:
    """The version of the installed `vigil-hids` distribution, or `0+unknown` when the
    code runs without package metadata (a bare source tree on `PYTHONPATH`)."""
    try:
        return _distribution_version(DISTRIBUTION)
    except PackageNotFoundError:
        return UNKNOWN
