"""`deleted_exe`: the executable of a running process deleted, so it lives on in memory only.

Droppers start their payload and delete the file at once (`/proc/PID/exe` then reads
"(deleted)"): nothing is left on disk to scan or inspect. The detector remembers which
file each process executes and reports an `unlink`/`unlinkat` of that file while the
process still runs (the unlink event's `exe_users`: the processes the sensor's process
table knows to run it, so no exit events are needed), within `window_seconds` of its
start — by the process itself (self-deletion) or by anyone else. An unlink without
`exe_users` (another sensor, an old recording) trusts the detector's own memory.

Static allowlist (`deleted_exe_allowlist.py`): package managers replacing or removing
programs, and builds cleaning their own outputs. Replacing a binary by `rename` (how
package managers and installers upgrade) is not a deletion and is not reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from vigil.detections import Detection, Suppression
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.deleted_exe_allowlist import BUILD_DRIVERS
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.event_args import str_arg
from vigil.detectors.expiring_map import ExpiringMap
from vigil.detectors.params import minimum
from vigil.detectors.process_identity import (PACKAGE_MANAGERS, AgentIdentity,
                                              is_trusted_location, lineage_binary)
from vigil.events.model import Event, Process
from vigil.events.toolchain import is_toolchain_binary
from vigil.priority import Priority

NAME = "deleted_exe"
TAGS = ("attack.defense_evasion", "T1070.004")
_EXEC = frozenset({"execve", "execveat"})
_UNLINK = frozenset({"unlink", "unlinkat"})


@dataclass(frozen=True)
class DeletedExeParams(DetectorParams):
    """`[detectors.deleted_exe]`."""

    DETECTOR: ClassVar[str] = NAME
    #: a deletion this long after the exec no longer counts (long-lived programs outlive
    #: upgrades of their own files)
    window_seconds: float = field(default=3600.0, metadata=minimum(0))
    #: processes remembered at once (least recently started forgotten first)
    max_tracked: int = field(default=65536, metadata=minimum(1))


class DeletedExeDetector(BuiltinDetector):
    """A running program's executable unlinked."""

    name = NAME
    Params = DeletedExeParams
    event_types = frozenset(_EXEC | _UNLINK)
    #: the compiler toolchain's unlinks it needs: none, a compiler removes its own
    #: temporary files (ignored below as well)
    kernel_write_paths: tuple[str, ...] = ()

    params: DeletedExeParams

    def __init__(self, params: DeletedExeParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        window = int(self.params.window_seconds * 1e9)
        #: pid -> (exepath, the exec event)
        self._running: ExpiringMap[int, tuple[str, Event]] = ExpiringMap(
            window, self.params.max_tracked)
        #: exepath -> pids running it (checked against `_running` before use)
        self._by_path: ExpiringMap[str, set[int]] = ExpiringMap(window, self.params.max_tracked)

    def on_event(self, event: Event) -> list[Detection]:
        """Track running executables; report the deletion of one."""
        t = event.type
        pid = event.proc.pid
        if event.res is not None and event.res < 0:
            return []
        if t in _EXEC:
            path = event.proc.exepath
            if pid is not None and path and path.startswith("/"):
                self._running.put(pid, event.ts, (path, event))
                pids = self._by_path.get(path, event.ts) or set()
                pids.add(pid)
                self._by_path.put(path, event.ts, pids)
            return []
        path = str_arg(event, "name", "path")
        if path is None or is_toolchain_binary(event.proc.exepath):
            return []
        pids = self._by_path.get(path, event.ts)
        if not pids:
            return []
        alive = event.args.get("exe_users")
        out: list[Detection] = []
        for victim in sorted(pids):
            running = self._running.get(victim, event.ts)
            if running is None or running[0] != path:
                continue
            if isinstance(alive, list) and victim not in alive:
                self._running.pop(victim)  # it exited since
                continue
            out.append(self._detect(event, path, running[1]))
        self._by_path.pop(path)
        return out[:1]

    def _detect(self, event: Event, path: str, started: Event) -> Detection:
        victim = started.proc
        self_deleted = victim.pid == event.proc.pid
        after = max(0.0, (event.ts - started.ts) / 1e9)
        where = "" if is_trusted_location(path) else " (world-writable directory)"
        who = "itself" if self_deleted else describe_process(event)
        output = (f"Executable {path}{where} of running process {victim.name or '?'} "
                  f"(pid {victim.pid}) deleted {after:.1f} s after it started, by {who}: "
                  f"{event.proc.cmdline() or '?'}")
        return build_detection(
            NAME, "running_exe", Priority.ERROR, output, TAGS, event,
            evidence=[started, event], path=path,
            data={"victim_pid": victim.pid, "self_deleted": self_deleted,
                  "seconds_after_start": round(after, 3)},
            suppressed=self._suppression(event.proc))

    def _suppression(self, deleter: Process) -> Suppression | None:
        if self.own.owns(deleter):
            return static_suppression(NAME, "own_process", "vigil", "the agent's own files")
        installer = lineage_binary(deleter, PACKAGE_MANAGERS)
        if installer:
            return static_suppression(NAME, "package_managers", installer,
                                      "a package operation replacing or removing programs")
        builder = lineage_binary(deleter, BUILD_DRIVERS)
        if builder:
            return static_suppression(NAME, "build_tools", builder,
                                      "a build cleaning the programs it built")
        return None
