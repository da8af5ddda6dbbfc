"""`bpf_program`: a BPF program loaded into the kernel (`bpf(BPF_PROG_LOAD)`).

eBPF runs code inside the kernel: rootkits hide files and processes with it, backdoors
(BPFDoor and its successors) wait for magic packets with it, and credential sniffers read
every process's memory with it. Loads the kernel refused count as well: the attempt is
the signal. Critical for the program types that hook the kernel's own code paths (kprobe,
tracepoint, raw tracepoint, tracing, LSM, perf event ...), an error for the others
(socket filters, XDP and traffic control programs that see every packet).

Static allowlist (`bpf_program_allowlist.py`, returned suppressed): the init system and
container runtimes, which attach programs to the cgroups they manage, and what package
managers run. The Vigil agent's own programs are not reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vigil.detections import Detection, Suppression
from vigil.detectors.bpf_program_allowlist import (BPF_INSTALLERS, PROG_TYPES,
                                                   SYSTEM_BPF_LOADERS, TRACING_TYPES)
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.event_args import int_arg, str_arg
from vigil.detectors.process_identity import AgentIdentity, lineage_binary, matched_binary
from vigil.events.flags import errno_name
from vigil.events.model import Event
from vigil.priority import Priority

NAME = "bpf_program"
TAGS = ("attack.defense_evasion", "attack.persistence", "T1014", "T1547.006")
BPF_PROG_LOAD = 5


@dataclass(frozen=True)
class BpfProgramParams(DetectorParams):
    """`[detectors.bpf_program]`."""

    DETECTOR: ClassVar[str] = NAME
    #: more programs allowed to load BPF programs (binary names: a site's tracer or agent)
    extra_loaders: tuple[str, ...] = ()


class BpfProgramDetector(BuiltinDetector):
    """BPF program loads outside the init system and container runtimes."""

    name = NAME
    Params = BpfProgramParams
    event_types = frozenset({"bpf"})

    params: BpfProgramParams

    def __init__(self, params: BpfProgramParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        self._loaders = SYSTEM_BPF_LOADERS | frozenset(self.params.extra_loaders)

    def _suppression(self, event: Event) -> Suppression | None:
        proc = event.proc
        loader = matched_binary(proc, self._loaders)
        if loader:
            return static_suppression(NAME, "system_loaders", loader,
                                      "the init system and container runtimes attach BPF "
                                      "programs to the cgroups they manage")
        installer = lineage_binary(proc, BPF_INSTALLERS)
        if installer:
            return static_suppression(NAME, "package_managers", installer,
                                      "a package installation set up BPF programs")
        return None

    def on_event(self, event: Event) -> list[Detection]:
        """Report a BPF program load, accepted or refused."""
        if event.type != "bpf" or int_arg(event, "cmd") != BPF_PROG_LOAD:
            return []
        if self.own.owns(event.proc):
            return []
        refused = event.res is not None and event.res < 0
        ptype = int_arg(event, "prog_type")
        tname = PROG_TYPES.get(ptype, f"type {ptype}") if ptype is not None else "unknown type"
        pname = str_arg(event, "prog_name")
        insns = int_arg(event, "insn_cnt")
        what = f"{tname} program" + (f" {pname!r}" if pname else "") + (
            f" ({insns} instructions)" if insns is not None else "")
        verb = (f"load attempted (refused: {errno_name(event.res or 0)})" if refused
                else "loaded into the kernel")
        output = (f"BPF {what} {verb} by {describe_process(event)}: "
                  f"{event.proc.cmdline() or '?'}")
        tracing = ptype in TRACING_TYPES
        title = "BPF program load attempted" if refused else "BPF program loaded into the kernel"
        return [build_detection(
            NAME, "tracing_load" if tracing else "load",
            Priority.CRITICAL if tracing else Priority.ERROR, output, TAGS, event,
            data={"title": title, "prog_type": tname, "prog_name": pname,
                  "insn_cnt": insns, "refused": refused},
            suppressed=self._suppression(event))]
