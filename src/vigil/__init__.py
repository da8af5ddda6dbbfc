"""Vigil: a Linux host runtime-security agent."""

from typing import Any


def __getattr__(name: str) -> Any:
    # `vigil.__version__` comes from the package metadata (vigil.version), read only when
    # asked for: importing vigil stays cheap
    if name == "__version__":
        from vigil.version import installed_version
        return installed_version()
    raise AttributeError(f"module 'vigil' has no attribute {name!r}")
