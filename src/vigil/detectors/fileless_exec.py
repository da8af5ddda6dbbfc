"""`fileless_exec`: a program executed from memory (a memfd), leaving no file on disk.

Reported on `execve`/`execveat` when the sensor marks `proc.exe_from_memfd`, or the
executable path is a memfd (`/memfd:...`). `memfd_create` alone is everyday work (JITs,
Wayland, systemd) and only remembered, so the output can name the memfd.

Static allowlist: `runc` re-executing itself from a sealed memfd (its defence against
CVE-2019-5736, memfd named `runc_cloned:...`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from vigil.detections import Detection
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.event_args import str_arg
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.expiring_map import ExpiringMap
from vigil.detectors.params import minimum
from vigil.detectors.process_identity import AgentIdentity
from vigil.events.model import Event
from vigil.priority import Priority

NAME = "fileless_exec"
TAGS = ("attack.defense_evasion", "T1620", "attack.execution", "T1106")
_EXEC = frozenset({"execve", "execveat"})
#: memfd name prefixes of programs that re-exec themselves from memory by design
SELF_CLONING_MEMFDS: tuple[str, ...] = ("runc_cloned:", "crun_cloned", "youki_cloned")


@dataclass(frozen=True)
class FilelessExecParams(DetectorParams):
    """`[detectors.fileless_exec]`."""

    DETECTOR: ClassVar[str] = NAME
    #: how long a `memfd_create` name is remembered for the output of a later exec
    window_seconds: float = field(default=600.0, metadata=minimum(0))


def _memfd_path(event: Event) -> str | None:
    for p in (event.proc.exepath, event.proc.exe):
        if p and (p.startswith("/memfd:") or p.startswith("memfd:")):
            return p
    return None


class FilelessExecDetector(BuiltinDetector):
    """Execution of a memfd."""

    name = NAME
    Params = FilelessExecParams
    event_types = frozenset(_EXEC | {"memfd_create"})

    params: FilelessExecParams

    def __init__(self, params: FilelessExecParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        self._memfds: ExpiringMap[int, Event] = ExpiringMap(int(self.params.window_seconds * 1e9))

    def on_event(self, event: Event) -> list[Detection]:
        """Remember memfds; report an exec from one."""
        if event.type == "memfd_create":
            if event.proc.pid is not None and (event.res is None or event.res >= 0):
                self._memfds.put(event.proc.pid, event.ts, event)
            return []
        if event.type not in _EXEC or (event.res is not None and event.res < 0):
            return []
        path = _memfd_path(event)
        if not (event.proc.exe_from_memfd or path):
            return []
        created = self._memfds.get(event.proc.pid, event.ts) if event.proc.pid else None
        name = (str_arg(created, "name") if created else None) or (
            path.split(":", 1)[1] if path else None) or "?"
        suppression = None
        if name.startswith(SELF_CLONING_MEMFDS):
            suppression = static_suppression(NAME, "self_cloning_runtimes", name.split(":")[0],
                                             "container runtime re-executing itself from a "
                                             "sealed memfd (CVE-2019-5736 defence)")
        output = (f"Fileless execution from memfd {name!r} by {describe_process(event)}: "
                  f"{event.proc.cmdline() or '?'}")
        evidence = [created, event] if created else [event]
        return [build_detection(NAME, "memfd_exec", Priority.CRITICAL, output, TAGS, event,
                                evidence=evidence, path=path, data={"memfd": name},
                                suppressed=suppression)]
