"""Falco priorities, shared by rules, detectors, routes and sinks."""

from __future__ import annotations

import enum


class Priority(enum.IntEnum):
    """Falco's eight priorities; a lower value is more severe (as in syslog)."""

    EMERGENCY = 0
    ALERT = 1
    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFORMATIONAL = 6
    DEBUG = 7

    @classmethod
    def parse(cls, text: str | "Priority") -> "Priority":
        """Parse a priority name as Falco does: case-insensitive, `INFO` for INFORMATIONAL."""
        if isinstance(text, Priority):
            return text
        key = str(text).strip().upper()
        if key == "INFO":
            key = "INFORMATIONAL"
        try:
            return cls[key]
        except KeyError:
            raise ValueError(f"unknown priority {text!r} (expected one of "
                             f"{', '.join(p.label for p in cls)})") from None

    @property
    def label(self) -> str:
        """The name Falco prints in its output ("Critical", "Informational", ...)."""
        return self.name.capitalize()

    def at_least(self, minimum: "Priority") -> bool:
        """True when this priority is as severe as `minimum` or more."""
        return self.value <= minimum.value
