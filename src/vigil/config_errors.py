"""The error every configuration parser raises, so messages name file, line and key."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value is missing, unknown or invalid.

    `key` is the dotted TOML path (`alerts.routes[1].min_priority`); `line`/`col` are filled
    in by `vigil.config` when it can locate the key in the file.
    """

    def __init__(self, key: str, message: str, *, path: str | None = None,
                 line: int | None = None, col: int | None = None) -> None:
        self.key = key
        self.message = message
        self.path = path
        self.line = line
        self.col = col
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or "<config>"
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
