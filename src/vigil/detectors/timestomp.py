"""`timestomp`: a file's modification time set back into the past in a system directory.

Investigators sort by modification time to find what changed; attackers give a planted
binary or a changed configuration the times of an old file (`touch -r /bin/ls`,
`touch -t 201903041200`, `os.utime`). The sensor reports `utimensat` (and `futimens`,
the same call on an fd) with its explicit times (`args.atime`/`args.mtime` in ns; a call
setting "now" has none). A detection is an explicit modification time more than
`min_backdate_seconds` before the call, on a file under a system directory
(`timestomp_allowlist.SYSTEM_PREFIXES`), by a program that is not restoring a source's
times.

Static allowlist (`timestomp_allowlist.py`): archive extractors, copy and sync tools
(`tar`, `cp -p`, `rsync`), package managers and their descendants.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import ClassVar

from vigil.detections import Detection, Suppression
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.event_args import fd_path, int_arg, str_arg
from vigil.detectors.params import minimum
from vigil.detectors.process_identity import (PACKAGE_MANAGERS, AgentIdentity, ancestors,
                                              lineage_binary, matched_binary)
from vigil.detectors.timestomp_allowlist import SYSTEM_PREFIXES, TIME_PRESERVERS
from vigil.events.model import Event
from vigil.priority import Priority

NAME = "timestomp"
TAGS = ("attack.defense_evasion", "T1070.006")


@dataclass(frozen=True)
class TimestompParams(DetectorParams):
    """`[detectors.timestomp]`."""

    DETECTOR: ClassVar[str] = NAME
    #: how far in the past a modification time must be set to count (default one day)
    min_backdate_seconds: float = field(default=86400.0, metadata=minimum(0))
    #: more directories to watch (prefixes ending in `/`)
    extra_prefixes: tuple[str, ...] = ()


#: a system program inside another root file system: `<root>/usr/bin/dpkg`
_ROOTFS_BINARY = re.compile(r"/.+/(?:usr/)?s?bin/([^/]+)")


def rootfs_binary(exepath: str | None, names: frozenset[str]) -> str | None:
    """The name of a program of `names` that runs from the system directories of another
    root file system (a chroot, an image being built: `/tmp/build/root/usr/bin/dpkg`), whose
    paths the process itself sees relative to that root. Only the layout is trusted, not
    the location: the tool still has to be one that restores times."""
    m = _ROOTFS_BINARY.fullmatch(exepath or "")
    return m.group(1) if m and m.group(1) in names else None


def _when(ns: int) -> str:
    try:
        return datetime.datetime.fromtimestamp(ns / 1e9, datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{ns} ns"


class TimestompDetector(BuiltinDetector):
    """Backdated modification times on system files."""

    name = NAME
    Params = TimestompParams
    event_types = frozenset({"utimensat"})

    params: TimestompParams

    def __init__(self, params: TimestompParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        self._prefixes = SYSTEM_PREFIXES + tuple(self.params.extra_prefixes)
        self._min_ns = int(self.params.min_backdate_seconds * 1e9)

    def on_event(self, event: Event) -> list[Detection]:
        """Report a system file's modification time set into the past."""
        if event.type != "utimensat" or (event.res is not None and event.res != 0):
            return []
        mtime = int_arg(event, "mtime")
        if mtime is None or event.ts - mtime < self._min_ns:
            return []
        path = str_arg(event, "name") or fd_path(event)
        if path is None or not path.startswith(self._prefixes) or self.own.owns(event.proc):
            return []
        days = (event.ts - mtime) / 86400e9
        output = (f"Modification time of {path} set back to {_when(mtime)} ({days:.0f} days "
                  f"before now) by {describe_process(event)}: {event.proc.cmdline() or '?'}")
        return [build_detection(NAME, "backdated", Priority.WARNING, output, TAGS, event,
                                path=path, data={"mtime": mtime, "days_back": round(days, 1)},
                                suppressed=self._suppression(event))]

    def _suppression(self, event: Event) -> Suppression | None:
        tool = matched_binary(event.proc, TIME_PRESERVERS) or rootfs_binary(
            event.proc.exepath, TIME_PRESERVERS)
        if tool:
            return static_suppression(NAME, "time_preservers", tool,
                                      "copying a source's times onto the files it writes")
        installer = lineage_binary(event.proc, PACKAGE_MANAGERS) or next(
            (hit for p in (event.proc, *ancestors(event.proc, 8))
             if (hit := rootfs_binary(p.exepath, PACKAGE_MANAGERS))), None)
        if installer:
            return static_suppression(NAME, "package_managers", installer,
                                      "a package installation unpacking files")
        return None
