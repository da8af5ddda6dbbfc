"""`ptrace`: one process attaching to, or writing into, another with ptrace(2).

Attaching (`PTRACE_ATTACH`, `PTRACE_SEIZE`) is how debuggers work and how malware injects
code or reads secrets from memory (`sshd`, browsers); writing memory or registers
(`POKETEXT`, `POKEDATA`, `SETREGS`) is injection. `PTRACE_TRACEME` (a process asking to be
traced by its parent) is not reported. Any ptrace aimed at the Vigil agent is critical and
never suppressed.

- `ptrace.credential_dump` (critical, never suppressed): the target handles logins
  (`sshd`, `login`, `sudo`, key agents ...; `process_memory_allowlist.py`), whose memory
  holds passwords: a debugger attached to sshd is credential dumping, not debugging.
- `ptrace.injected_exec` (critical, never suppressed): a process that another one
  attached to and wrote registers or memory into then started a program itself, or its
  new child did, within a minute: code injected with ptrace ran (gdb's `call system(...)`,
  shellcode making the target exec a shell).

Static allowlist: debuggers and tracers (`gdb`, `strace`, `ltrace`, `lldb`, `rr`, `perf`,
`valgrind`, `criu` ...) judged by binary are returned suppressed for plain attaches and
writes; a debugger aimed at the agent or at an authentication process is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vigil.detections import Detection
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.event_args import int_arg, str_arg
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.expiring_map import ExpiringMap
from vigil.detectors.process_identity import AgentIdentity, matched_binary
from vigil.detectors.process_memory_allowlist import is_auth_process
from vigil.events.flags import PTRACE_REQUESTS
from vigil.events.model import Event
from vigil.priority import Priority

NAME = "ptrace"
TAGS = ("attack.defense_evasion", "attack.privilege_escalation", "T1055.008")
DUMP_TAGS = ("attack.credential_access", "T1003.007", "T1055.008")
ATTACH_REQUESTS = frozenset({16, 0x4206})            # PTRACE_ATTACH, PTRACE_SEIZE
#: POKETEXT/DATA/USR, SETREGS, SETFPREGS, SETREGSET
INJECT_REQUESTS = frozenset({4, 5, 6, 13, 15, 0x4205})
_EXEC = frozenset({"execve", "execveat"})
#: how long after a write into an attached process its exec counts as the injected code
INJECTED_WINDOW_NS = 60 * 10**9

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
    """ptrace attach/inject of another process, and the code it made run."""

    name = NAME
    Params = PtraceParams
    event_types = frozenset({"ptrace"}) | _EXEC

    params: PtraceParams

    def __init__(self, params: PtraceParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        self._debuggers = DEBUGGERS | frozenset(self.params.extra_debuggers)
        #: target pid -> tracer pid, for processes attached from outside
        self._attached: ExpiringMap[int, int] = ExpiringMap(INJECTED_WINDOW_NS, 4096)
        #: target pid -> the write event, for attached processes written into
        self._written: ExpiringMap[int, Event] = ExpiringMap(INJECTED_WINDOW_NS, 4096)

    def on_event(self, event: Event) -> list[Detection]:
        """Report attaching to or injecting into another process."""
        if event.type in _EXEC:
            return self._exec(event)
        if event.type != "ptrace":
            return []
        request = int_arg(event, "request")
        target = int_arg(event, "pid")
        proc = event.proc
        if request not in ATTACH_REQUESTS | INJECT_REQUESTS or target in (None, proc.pid):
            return []
        at_agent = self.own.pid is not None and target == self.own.pid
        tname = str_arg(event, "target_name")
        auth = is_auth_process(tname, str_arg(event, "target_exepath"))
        failed = event.res is not None and event.res < 0
        if failed and not at_agent and not auth:
            return []
        if self.own.owns(proc) and not at_agent:
            return []
        inject = request in INJECT_REQUESTS
        if not failed and target is not None:
            self._remember(event, request, target)
        rname = PTRACE_REQUESTS.get(request, str(request))
        who = f"pid {target}" + (f" ({tname})" if tname else "")
        output = (f"{rname} on {who}{' (the Vigil agent)' if at_agent else ''}"
                  f"{' (refused)' if failed else ''} by {describe_process(event)}: "
                  f"{proc.cmdline() or '?'}")
        data = {"request": rname, "target_pid": target, "target_name": tname}
        if auth and not at_agent:
            data["title"] = f"Credential dumping: ptrace attach to {auth}"
            return [build_detection(NAME, "credential_dump", Priority.CRITICAL, output,
                                    DUMP_TAGS, event, data=data)]
        debugger = matched_binary(proc, self._debuggers)
        suppression = None if at_agent or debugger is None else static_suppression(
            NAME, "debuggers", debugger, "debuggers and tracers attach to processes")
        priority = Priority.CRITICAL if at_agent or inject else Priority.ERROR
        return [build_detection(NAME, "inject" if inject else "attach", priority, output, TAGS,
                                event, data=data, suppressed=suppression)]

    def _remember(self, event: Event, request: int, target: int) -> None:
        """Keep attaches from outside, and writes into processes so attached."""
        tracer = event.proc.pid or 0
        if request in ATTACH_REQUESTS:
            self._attached.put(target, event.ts, tracer)
        elif self._attached.get(target, event.ts) == tracer:
            self._attached.put(target, event.ts, tracer)  # a session in use stays attached
            self._written.put(target, event.ts, event)

    def _exec(self, event: Event) -> list[Detection]:
        """An attached-and-written process (or its new child) started a program."""
        if not self._written or event.res is not None and event.res < 0:
            return []
        proc = event.proc
        injected_pid = None
        write = None
        for pid in (proc.pid, proc.parent.pid if proc.parent is not None else None):
            if pid is not None:
                write = self._written.get(pid, event.ts)
                if write is not None:
                    injected_pid = pid
                    break
        if write is None or injected_pid is None:
            return []
        self._written.pop(injected_pid)
        tracer = write.proc
        output = (f"Code injected with ptrace ran: pid {injected_pid}, written into by "
                  f"{describe_process(write)} ({tracer.cmdline() or '?'}), started "
                  f"{proc.exepath or proc.name or '?'}: {proc.cmdline() or '?'}")
        return [build_detection(
            NAME, "injected_exec", Priority.CRITICAL, output, TAGS, event,
            evidence=[write, event],
            data={"title": "Process injection with ptrace: injected code started a program",
                  "target_pid": injected_pid, "tracer_pid": tracer.pid})]
