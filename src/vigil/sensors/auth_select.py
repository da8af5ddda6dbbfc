"""Which auth sensor reads sshd, sudo and su: the auth log, the journal, or both.

Each of `[sensors.authlog] enabled` and `[sensors.journald] enabled` is true (forced on),
false (off) or "auto" (the default). With both on "auto", the first auth log file that
exists is followed; with none, the journal is read when `journalctl` can read one; with
neither, the auth log sensor waits for a file to appear. A sensor forced on makes the
other "auto" one stand aside, so no line is counted twice. `choose_auth_sources` makes
the choice and says why, one line per sensor; `auth_sensors` builds the sensors.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from vigil.sensors.base import Sensor

if TYPE_CHECKING:
    from vigil.config import SensorsConfig

log = logging.getLogger(__name__)

AUTHLOG = "authlog"
JOURNALD = "journald"


@dataclass(frozen=True)
class AuthChoice:
    """The auth sensors to run and, for each sensor, why it runs or not."""

    sources: tuple[str, ...]
    reasons: tuple[str, ...]


def choose_auth_sources(authlog: bool | str, journald: bool | str, paths: Sequence[str], *,
                        journal_problem: Callable[[], str | None],
                        exists: Callable[[str], bool] = os.path.exists) -> AuthChoice:
    """Choose from the two `enabled` settings (True, False or "auto"), the auth log
    candidates and a check of the journal (None when it can be read, else why not; only
    called when needed)."""
    listed = ", ".join(paths)
    if authlog is True and journald is True:
        return AuthChoice((AUTHLOG, JOURNALD), (
            f"authlog: forced on ({listed})",
            "journald: forced on (a line in both the auth log and the journal is counted "
            "twice)"))
    if authlog is True:
        return AuthChoice((AUTHLOG,), (
            f"authlog: forced on ({listed})",
            "journald: off" + (" (the auth log is forced on)" if journald is not False else "")))
    if journald is True:
        return AuthChoice((JOURNALD,), (
            "journald: forced on",
            "authlog: off" + (" (the journal is forced on)" if authlog is not False else "")))
    found = next((p for p in paths if exists(p)), None)
    if authlog == "auto" and found is not None:
        return AuthChoice((AUTHLOG,), (
            f"authlog: following {found} (the first of {listed} that exists)",
            "journald: not used (an auth log file exists)" if journald == "auto"
            else "journald: off"))
    if journald == "auto":
        problem = journal_problem()
        if problem is None:
            return AuthChoice((JOURNALD,), (
                "journald: reading the systemd journal"
                + (f" (no auth log file: none of {listed} exists)" if authlog == "auto"
                   else ""),
                "authlog: off" if authlog is False
                else f"authlog: not used (none of {listed} exists; the journal is read)"))
        if authlog == "auto":
            return AuthChoice((AUTHLOG,), (
                f"authlog: waiting for one of {listed} to appear (none exists, and the "
                f"journal cannot be read: {problem})",
                f"journald: unavailable: {problem}"))
        return AuthChoice((), (
            "authlog: off",
            f"journald: unavailable: {problem}; SSH logins are not watched"))
    if authlog == "auto":
        return AuthChoice((AUTHLOG,), (
            f"authlog: waiting for one of {listed} to appear (none exists yet)",
            "journald: off"))
    return AuthChoice((), ("authlog: off", "journald: off; SSH logins are not watched"))


def auth_sensors(sensors_config: "SensorsConfig", state_dir: Path, *,
                 journal_problem: Callable[[], str | None] | None = None) -> list[Sensor]:
    """The auth sensors `[sensors]` asks for, the choice logged at INFO, one line each."""
    from vigil.sensors.journald import journal_unavailable_reason

    authlog_cfg, journald_cfg = sensors_config.authlog, sensors_config.journald
    choice = choose_auth_sources(authlog_cfg.enabled, journald_cfg.enabled,
                                 list(authlog_cfg.paths),
                                 journal_problem=journal_problem or journal_unavailable_reason)
    for reason in choice.reasons:
        log.info("auth sensors: %s", reason)
    out: list[Sensor] = []
    if AUTHLOG in choice.sources:
        from vigil.sensors.authlog import AuthLogSensor

        out.append(AuthLogSensor(list(authlog_cfg.paths),
                                 state_file=state_dir / "authlog.offsets"))
    if JOURNALD in choice.sources:
        from vigil.sensors.journald import JournaldSensor

        out.append(JournaldSensor(state_file=state_dir / "journald.cursor"))
    return out
