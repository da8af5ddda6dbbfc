"""`masquerade`: a process posing as a kernel thread or as a system daemon.

- `masquerade.kernel_thread`: a program executed under a kernel thread's name — its file
  named `kworker`/`kswapd0`..., or its argv[0] set to `[kworker/1:1H]` (`exec -a`) — or a
  process renaming itself to one with `prctl(PR_SET_NAME)`. Kernel threads never execute
  a file, so any executable running under such a name is pretending.
- `masquerade.daemon`: a process named like a system daemon (`sshd`, `cron`, `rsyslogd`
  ...) whose executable is not that daemon's: a file with that name in a world-writable or
  hidden directory, an argv[0] naming a daemon over another program from outside the
  system directories, or a `prctl(PR_SET_NAME)` to a daemon's name by a different program.

Why both exec and prctl: `ps` and `top` show the comm (set by the file name or by prctl)
or the argv (set by `exec -a`); malware uses all three to hide among real processes.
One detection per process and name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from vigil.detections import Detection
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.detection_builder import build_detection, describe_process
from vigil.detectors.event_args import int_arg
from vigil.detectors.expiring_map import ExpiringMap
from vigil.detectors.masquerade_allowlist import (DAEMON_NAMES, SYSTEM_BIN_DIRS,
                                                  kernel_thread_like)
from vigil.detectors.params import minimum
from vigil.detectors.process_identity import AgentIdentity, basename, is_trusted_location
from vigil.events.model import Event
from vigil.priority import Priority

NAME = "masquerade"
TAGS = ("attack.defense_evasion", "T1036.004", "T1036.005")
_EXEC = frozenset({"execve", "execveat"})
PR_SET_NAME = 15


@dataclass(frozen=True)
class MasqueradeParams(DetectorParams):
    """`[detectors.masquerade]`."""

    DETECTOR: ClassVar[str] = NAME
    #: one detection per process and name within this many seconds
    dedupe_seconds: float = field(default=600.0, metadata=minimum(0))


def _hidden_or_untrusted(exepath: str | None) -> bool:
    if not exepath:
        return False
    return not is_trusted_location(exepath) or "/." in exepath


def _in_system_dir(exepath: str | None) -> bool:
    return bool(exepath) and exepath.startswith(SYSTEM_BIN_DIRS)  # type: ignore[union-attr]


def _same_program(name: str, exepath: str | None) -> bool:
    """True when `name` is the executable's own name (comm holds 15 characters)."""
    base = basename(exepath) or ""
    return bool(base) and (base == name or base[:15] == name[:15])


class MasqueradeDetector(BuiltinDetector):
    """Programs running under a kernel thread's or a system daemon's name."""

    name = NAME
    Params = MasqueradeParams
    event_types = frozenset(_EXEC | {"prctl"})

    params: MasqueradeParams

    def __init__(self, params: MasqueradeParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        self._reported: ExpiringMap[tuple[int | None, str], bool] = ExpiringMap(
            int(self.params.dedupe_seconds * 1e9))

    def on_event(self, event: Event) -> list[Detection]:
        """Report an exec or a rename that takes a kernel thread's or a daemon's name."""
        if event.res is not None and event.res < 0:
            return []
        if event.type in _EXEC:
            found = self._on_exec(event)
        elif event.type == "prctl" and int_arg(event, "option") == PR_SET_NAME:
            found = self._on_rename(event)
        else:
            return []
        if found is None or self.own.owns(event.proc):
            return []
        subkind, shown, how = found
        if self._reported.seen_recently((event.proc.pid, shown), event.ts):
            return []
        proc = event.proc
        what = "a kernel thread" if subkind == "kernel_thread" else "the system daemon"
        output = (f"Process posing as {what} {shown!r} ({how}): exe={proc.exepath or '?'} "
                  f"{describe_process(event)}: {proc.cmdline() or '?'}")
        return [build_detection(NAME, subkind, Priority.ERROR, output, TAGS, event,
                                path=proc.exepath,
                                data={"posing_as": shown, "how": how})]

    def _on_exec(self, event: Event) -> tuple[str, str, str] | None:
        proc = event.proc
        argv0 = proc.exe or ""
        if kernel_thread_like(argv0) and argv0 != proc.exepath:
            return "kernel_thread", argv0, "argv[0] set to a kernel thread's name"
        if kernel_thread_like(proc.name) or kernel_thread_like(basename(proc.exepath)):
            return "kernel_thread", proc.name or basename(proc.exepath) or "?", \
                "executable named like a kernel thread"
        daemon = basename(argv0)
        if (daemon in DAEMON_NAMES and not _same_program(daemon, proc.exepath)
                and not _in_system_dir(proc.exepath) and proc.exepath):
            return "daemon", daemon, "argv[0] set to a daemon's name"
        if proc.name in DAEMON_NAMES and _hidden_or_untrusted(proc.exepath):
            return "daemon", proc.name, "daemon's name on a file in a world-writable or hidden directory"
        return None

    def _on_rename(self, event: Event) -> tuple[str, str, str] | None:
        proc = event.proc
        name = proc.name or ""
        if kernel_thread_like(name):
            return "kernel_thread", name, "renamed itself with prctl(PR_SET_NAME)"
        if name in DAEMON_NAMES and not _same_program(name, proc.exepath):
            return "daemon", name, "renamed itself with prctl(PR_SET_NAME)"
        return None
