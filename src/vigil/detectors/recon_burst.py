"""`recon_burst`: one session running many different discovery commands in a burst.

After a foothold, attackers (and LinPEAS-style scripts) survey the host: who am I, what
system, which processes, which network, which set-uid files, which cron jobs. Each of these
commands is ordinary on its own; a session running `min_commands` different ones across
`min_categories` categories (users, system, processes, network, privileges, scheduled
tasks, storage, kernel, environment, accounts, home directories) within `window_seconds`
is reconnaissance. Commands are judged by their binary (`process_identity`), the files a
text tool prints (`cat /etc/passwd`), and the privilege hunts `sudo -l` and
`find -perm -4000`. One detection per session and window.

Static allowlist (`recon_burst_allowlist.py`): system-report tools and package
installations, which survey the host by design.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from vigil.detections import Detection, Suppression
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.expiring_map import ExpiringMap
from vigil.detectors.params import minimum
from vigil.detectors.process_identity import (PACKAGE_MANAGERS, AgentIdentity, command_of,
                                              lineage_binary)
from vigil.detectors.recon_burst_allowlist import (COMMAND_CATEGORY, FILE_CATEGORY,
                                                   FILE_READERS, HOME_DIRS, SYSTEM_REPORTERS)
from vigil.events.model import Event
from vigil.priority import Priority

NAME = "recon_burst"
TAGS = ("attack.discovery", "T1082", "T1033", "T1057", "T1049", "T1087.001", "T1083")
_EXEC = frozenset({"execve", "execveat"})
_SUID_PERMS = ("-4000", "/4000", "-u=s", "/u=s", "-2000", "/2000", "-g=s", "/g=s", "-6000",
               "/6000")


@dataclass(frozen=True)
class ReconBurstParams(DetectorParams):
    """`[detectors.recon_burst]`."""

    DETECTOR: ClassVar[str] = NAME
    #: different discovery commands of one session that make a burst
    min_commands: int = field(default=10, metadata=minimum(2))
    #: ... spanning at least this many categories
    min_categories: int = field(default=5, metadata=minimum(1))
    #: ... within this many seconds
    window_seconds: float = field(default=60.0, metadata=minimum(0))
    #: sessions remembered at once
    max_tracked: int = field(default=16384, metadata=minimum(1))


def discovery_of(binary: str, args: list[str]) -> tuple[str, str] | None:
    """`(category, command)` when the command is discovery, else None."""
    if binary == "sudo":
        return ("privileges", "sudo -l") if any(a in ("-l", "--list", "-ll") or
                                                 (a.startswith("-") and not a.startswith("--")
                                                  and "l" in a[1:]) for a in args) else None
    if binary == "find":
        if "-perm" in args and any(a in _SUID_PERMS for a in args):
            return "privileges", "find -perm (set-uid search)"
        return None
    if binary in FILE_READERS:
        for a in args:
            cat = FILE_CATEGORY.get(a)
            if cat:
                return cat, f"{binary} {a}"
        return None
    if binary == "ls":
        return ("home_dirs", "ls home directories") if any(
            a in HOME_DIRS for a in args) else None
    if binary == "crontab" and "-l" not in args:
        return None
    positional = [a for a in args if not a.startswith("-")]
    # `env VAR=x prog` and `#!/usr/bin/env python3` launch programs; `mount DEV DIR` and
    # `sysctl -w` change the system: only their listing forms are discovery
    if binary in ("env", "mount") and positional:
        return None
    if binary == "sysctl" and "-a" not in args and "--all" not in args:
        return None
    cat = COMMAND_CATEGORY.get(binary)
    return (cat, binary) if cat else None


@dataclass
class _Burst:
    """Discovery commands of one session: command -> (ts, category)."""

    seen: dict[str, tuple[int, str]] = field(default_factory=dict)
    reported_at: int | None = None
    first: Event | None = None


class ReconBurstDetector(BuiltinDetector):
    """Many different discovery commands from one session in a short time."""

    name = NAME
    Params = ReconBurstParams
    event_types = _EXEC

    params: ReconBurstParams

    def __init__(self, params: ReconBurstParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        self._window = int(self.params.window_seconds * 1e9)
        self._bursts: ExpiringMap[int, _Burst] = ExpiringMap(self._window,
                                                             self.params.max_tracked)

    def on_event(self, event: Event) -> list[Detection]:
        """Count discovery commands per session; report a burst."""
        if event.type not in _EXEC or (event.res is not None and event.res < 0):
            return []
        proc = event.proc
        command = command_of(proc)
        if command is None:
            return []
        found = discovery_of(command[0], command[2])
        if found is None:
            return []
        session = proc.sid or proc.ppid or proc.pid
        if session is None or self.own.owns(proc):
            return []
        category, what = found
        burst = self._bursts.get(session, event.ts) or _Burst()
        self._bursts.put(session, event.ts, burst)
        seen = burst.seen
        seen[what] = (event.ts, category)
        for key in [k for k, (ts, _c) in seen.items() if event.ts - ts > self._window]:
            del seen[key]
        categories = {c for _ts, c in seen.values()}
        if len(seen) < self.params.min_commands or len(categories) < self.params.min_categories:
            return []
        if burst.reported_at is not None and event.ts - burst.reported_at <= self._window:
            return []
        burst.reported_at = event.ts
        first = min(ts for ts, _c in seen.values())
        output = (f"Reconnaissance: {len(seen)} different discovery commands in "
                  f"{(event.ts - first) / 1e9:.1f} s across {len(categories)} categories "
                  f"({', '.join(sorted(categories))}) in the session of "
                  f"{describe_process(event)}; e.g. {', '.join(sorted(seen)[:8])}")
        return [build_detection(NAME, "burst", Priority.WARNING, output, TAGS, event,
                                data={"commands": sorted(seen), "categories": sorted(categories)},
                                suppressed=self._suppression(event))]

    def _suppression(self, event: Event) -> Suppression | None:
        reporter = lineage_binary(event.proc, SYSTEM_REPORTERS)
        if reporter:
            return static_suppression(NAME, "system_reporters", reporter,
                                      "a system-report tool surveying the host")
        installer = lineage_binary(event.proc, PACKAGE_MANAGERS)
        if installer:
            return static_suppression(NAME, "package_managers", installer,
                                      "a package installation probing the host")
        return None
