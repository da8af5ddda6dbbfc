"""`ptrace`: one process attaching to, or writing into, another with ptrace(2).

Attaching (`PTRACE_ATTACH`, `PTRACE_SEIZE`) is how debuggers work and how malware injects
code or reads secrets from memory (`sshd`, browsers); writing memory or registers
(`POKETEXT`, `POKEDATA`, `SETREGS`) is injection. `PTRACE_TRACEME` (a process asking to be
traced by its parent) is not reported. Any ptrace aimed at the Vigil agent is critical and
never suppressed.

Static allowlist: debuggers and tracers (`gdb`, `strace`, `ltrace`, `lldb`, `rr`, `perf`,
`valgrind`, `criu` ...) judged by binary are returned suppressed; a debugger aimed at the
agent is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vigil.detections import Detection
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.event_args import int_arg
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.process_identity import AgentIdentity, matched_binary
from vigil.events.flags import PTRACE_REQUESTS
from vigil.events.model import Event
from vigil.priority import Priority

NAME = "ptrace"
TAGS = ("attack.defense_evasion", "attack.privilege_escalation", "T1055.008")
ATTACH_REQUESTS = frozenset({16, 0x4206})            # PTRACE_ATTACH, PTRACE_SEIZE
INJECT_REQUESTS = frozenset({4, 5, 6, 13, 15})       # POKETEXT/DATA/USR, SETREGS, SETFPREGS

DEBUGGERS: frozenset[str] = frozenset({
    "gdb", "gdbserver", "strace", "ltrace", "lldb", "lldb-server", "rr", "perf", "valgrind",
    "criu", "systemd-coredump", "dotnet-dump", "py-spy", "rbspy", "async-profiler",
    "bpftrace", "delve", "dlv", "upx",
})


@dataclass(frozen=True)
class PtraceParams(DetectorParams):
    """`[detectors.ptrace]`."""

    DETECTOR: ClassVar[str] = NAME
    #: more debugger binaries whose attaches are suppressed
    extra_debuggers: tuple[str, ...] = ()


class PtraceDetector(BuiltinDetector):
    """ptrace attach/inject of another process."""

    name = NAME
    Params = PtraceParams
    event_types = frozenset({"ptrace"})

    params: PtraceParams

    def __init__(self, params: PtraceParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        self._debuggers = DEBUGGERS | frozenset(self.params.extra_debuggers)

    def on_event(self, event: Event) -> list[Detection]:
        """Report attaching to or injecting into another process."""
        if event.type != "ptrace":
            return []
        request = int_arg(event, "request")
        target = int_arg(event, "pid")
        proc = event.proc
        if request not in ATTACH_REQUESTS | INJECT_REQUESTS or target in (None, proc.pid):
            return []
        at_agent = self.own.pid is not None and target == self.own.pid
        if event.res is not None and event.res < 0 and not at_agent:
            return []
        if self.own.owns(proc) and not at_agent:
            return []
        inject = request in INJECT_REQUESTS
        debugger = matched_binary(proc, self._debuggers)
        suppression = None if at_agent or debugger is None else static_suppression(
            NAME, "debuggers", debugger, "debuggers and tracers attach to processes")
        rname = PTRACE_REQUESTS.get(request, str(request))
        output = (f"{rname} on pid {target}{' (the Vigil agent)' if at_agent else ''} by "
                  f"{describe_process(event)}: {proc.cmdline() or '?'}")
        priority = Priority.CRITICAL if at_agent or inject else Priority.ERROR
        return [build_detection(NAME, "inject" if inject else "attach", priority, output, TAGS,
                                event, data={"request": rname, "target_pid": target},
                                suppressed=suppression)]
