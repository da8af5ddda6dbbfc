"""`process_memory`: one process reading or writing another's memory without ptrace.

`/proc/PID/mem` opened by another process, and `process_vm_readv`/`process_vm_writev`,
give direct access to a process's address space:

- `process_memory.credential_dump` (critical, never suppressed): the target handles
  logins (`sshd`, `login`, `sudo`, keyrings ...; `process_memory_allowlist.py`), whose
  memory holds passwords in clear: mimipenguin-style credential dumping. Attempts the
  kernel refused count too.
- `process_memory.inject` (critical): writing another process's memory (code injection
  without ptrace, as dlinject does).
- `process_memory.read` (warning): reading another process's memory.

A process reading itself (`/proc/self/mem`, its own pid) is not reported. Static allowlist:
debuggers, profilers and checkpointing tools (`gdb`, `py-spy`, `criu` ...) judged by binary
are returned suppressed, except against an authentication process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vigil.detections import Detection
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.event_args import int_arg, str_arg
from vigil.detectors.process_identity import AgentIdentity, matched_binary
from vigil.detectors.process_memory_allowlist import MEMORY_TOOLS, is_auth_process
from vigil.events.flags import errno_name, is_open_write
from vigil.events.model import Event
from vigil.priority import Priority

NAME = "process_memory"
TAGS = ("attack.credential_access", "T1003.007")
INJECT_TAGS = ("attack.defense_evasion", "attack.privilege_escalation", "T1055")
_OPEN_TYPES = frozenset({"open", "openat", "openat2"})
_VM_TYPES = frozenset({"process_vm_readv", "process_vm_writev"})


@dataclass(frozen=True)
class ProcessMemoryParams(DetectorParams):
    """`[detectors.process_memory]`."""

    DETECTOR: ClassVar[str] = NAME
    #: more tools whose reads of (non-authentication) processes are suppressed
    extra_tools: tuple[str, ...] = ()


def _mem_pid(path: str) -> int | None:
    """The pid of a /proc/PID/mem or /proc/PID/task/TID/mem path, else None."""
    parts = path.split("/")
    if len(parts) == 4 and parts[1] == "proc" and parts[3] == "mem":
        pid = parts[2]
    elif len(parts) == 6 and parts[1] == "proc" and parts[3] == "task" and parts[5] == "mem":
        pid = parts[2]
    else:
        return None
    return int(pid) if pid.isdigit() else None


class ProcessMemoryDetector(BuiltinDetector):
    """Access to another process's memory through /proc/PID/mem or process_vm_*."""

    name = NAME
    Params = ProcessMemoryParams
    event_types = _OPEN_TYPES | _VM_TYPES
    #: the read-only opens it needs, for the kernel filter (vigil.rules.kernel_filters):
    #: /proc/PID/mem and /proc/PID/task/TID/mem, as a file name ending
    kernel_read_paths: tuple[str, ...] = ("*/mem",)
    #: ... and of the compiler toolchain's writes (an injection opens mem for writing)
    kernel_write_paths: tuple[str, ...] = ("*/mem",)

    params: ProcessMemoryParams

    def __init__(self, params: ProcessMemoryParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        self._tools = MEMORY_TOOLS | frozenset(self.params.extra_tools)

    def on_event(self, event: Event) -> list[Detection]:
        """Report access to another process's memory."""
        etype = event.type
        if etype in _OPEN_TYPES:
            # most events: every open on the host comes here, and all but a few leave now
            path = event.args.get("name")
            if not isinstance(path, str) or path[:6] != "/proc/" or path[-4:] != "/mem":
                return []
            target = _mem_pid(path)
            flags = int_arg(event, "flags") or 0
            write = is_open_write(flags)
            how = f"{path} opened for {'writing' if write else 'reading'}"
        elif etype in _VM_TYPES:
            target = int_arg(event, "target_pid", "pid")
            write = etype == "process_vm_writev"
            how = etype
        else:
            return []
        proc = event.proc
        if target is None or target in (proc.pid, 0) or self.own.owns(proc):
            return []
        tname = str_arg(event, "target_name")
        auth = is_auth_process(tname, str_arg(event, "target_exepath"))
        refused = event.res is not None and event.res < 0
        who = f"pid {target}" + (f" ({tname})" if tname else "")
        outcome = f", refused: {errno_name(event.res or 0)}" if refused else ""
        output = (f"Memory of {who} accessed ({how}{outcome}) by {describe_process(event)}: "
                  f"{proc.cmdline() or '?'}")
        data = {"target_pid": target, "target_name": tname, "write": write, "refused": refused}
        if auth:
            data["title"] = f"Credential dumping: memory of {auth} read by another process"
            return [build_detection(NAME, "credential_dump", Priority.CRITICAL, output, TAGS,
                                    event, data=data)]
        if refused:
            return []
        tool = matched_binary(proc, self._tools)
        suppressed = None if tool is None else static_suppression(
            NAME, "memory_tools", tool, "debuggers and profilers read other processes' memory")
        if write:
            return [build_detection(NAME, "inject", Priority.CRITICAL, output, INJECT_TAGS,
                                    event, data=data, suppressed=suppressed)]
        return [build_detection(NAME, "read", Priority.WARNING, output, TAGS, event, data=data,
                                suppressed=suppressed)]
