"""`kernel_module`: a kernel module being loaded (`init_module`, `finit_module`) or unloaded
(`delete_module`).

A module runs with full kernel privilege: rootkits arrive this way. Attempts the kernel
refused count as much as loads that succeeded: a rootkit built for another kernel, or
stopped by module signing, still tells that someone tried (the title says "attempted").
Critical when the module comes from memory (`init_module` by anything but kmod) or from a
file outside `/lib/modules/`; an error otherwise. Unloading a module (a security module, a
rootkit cleaning up) is a warning.

Static allowlist (returned suppressed): the kernel's own on-demand loading (modprobe
started by `kthreadd`), `systemd-udevd` and `systemd-modules-load` (hardware and boot-time
modules), `systemd` itself, and package managers / `dkms` building and installing modules.
An administrator running `modprobe` or `insmod` by hand is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vigil.detections import Detection, Suppression
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.event_args import fd_path, str_arg
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.process_identity import (PACKAGE_MANAGERS, AgentIdentity, lineage_binary,
                                              matched_binary)
from vigil.events.flags import errno_name
from vigil.events.model import Event
from vigil.priority import Priority

NAME = "kernel_module"
TAGS = ("attack.persistence", "attack.privilege_escalation", "T1547.006")
UNLOAD_TAGS = ("attack.defense_evasion", "T1562.001", "T1547.006")
_LOAD = frozenset({"init_module", "finit_module"})
_UNLOAD = "delete_module"
MODULE_DIRS: tuple[str, ...] = ("/lib/modules/", "/usr/lib/modules/")
#: programs that load modules as part of the system's normal running
SYSTEM_LOADERS: frozenset[str] = frozenset({"systemd-udevd", "systemd-modules-load", "systemd",
                                            "udevd"})
MODULE_BUILDERS: frozenset[str] = PACKAGE_MANAGERS | frozenset({"dkms"})
_KMOD = frozenset({"kmod", "modprobe", "insmod"})


@dataclass(frozen=True)
class KernelModuleParams(DetectorParams):
    """`[detectors.kernel_module]`."""

    DETECTOR: ClassVar[str] = NAME
    #: more programs allowed to load modules (binary names)
    extra_loaders: tuple[str, ...] = ()


class KernelModuleDetector(BuiltinDetector):
    """Kernel module loads outside the system's own loaders."""

    name = NAME
    Params = KernelModuleParams
    event_types = _LOAD | {_UNLOAD}

    params: KernelModuleParams

    def __init__(self, params: KernelModuleParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        self._loaders = SYSTEM_LOADERS | frozenset(self.params.extra_loaders)

    def _suppression(self, event: Event) -> Suppression | None:
        proc = event.proc
        parent = proc.parent
        if matched_binary(proc, _KMOD) and (proc.ppid == 2 or (
                parent is not None and (parent.pid == 2 or parent.name == "kthreadd"))):
            return static_suppression(NAME, "kernel_request", "modprobe",
                                      "the kernel loading a module on demand")
        loader = matched_binary(proc, self._loaders) or (
            matched_binary(parent, self._loaders) if parent is not None else None)
        if loader:
            return static_suppression(NAME, "system_loaders", loader,
                                      "hardware and boot-time module loading")
        builder = lineage_binary(proc, MODULE_BUILDERS)
        if builder:
            return static_suppression(NAME, "module_installers", builder,
                                      "package managers and dkms install kernel modules")
        return None

    def on_event(self, event: Event) -> list[Detection]:
        """Report a module load or unload, whether the kernel accepted it or not."""
        if event.type == _UNLOAD:
            return self._unload(event)
        if event.type not in _LOAD:
            return []
        refused = event.res is not None and event.res < 0
        path = fd_path(event) if event.type == "finit_module" else None
        from_memory = event.type == "init_module" and not matched_binary(event.proc, _KMOD)
        outside = path is not None and not path.startswith(MODULE_DIRS)
        where = f"from {path}" if path else "from memory" if event.type == "init_module" else ""
        params = str_arg(event, "uargs", "param_values") or ""
        verb = (f"load attempted {where} ({event.type}, refused: {errno_name(event.res or 0)})"
                if refused else f"loaded {where} ({event.type})")
        output = (f"Kernel module {verb} by {describe_process(event)}: "
                  f"{event.proc.cmdline() or '?'}" + (f" params={params}" if params else ""))
        title = ("Kernel module load attempted" + (" from memory" if from_memory else "")
                 if refused else "Kernel module loaded" + (" from memory" if from_memory else ""))
        return [build_detection(
            NAME, "memory_load" if from_memory else "load",
            Priority.CRITICAL if from_memory or outside else Priority.ERROR, output, TAGS,
            event, path=path, data={"title": title, "from_memory": from_memory,
                                    "outside_module_dirs": outside, "refused": refused},
            suppressed=self._suppression(event))]

    def _unload(self, event: Event) -> list[Detection]:
        refused = event.res is not None and event.res < 0
        module = str_arg(event, "name") or "?"
        verb = (f"unload of {module} attempted (refused: {errno_name(event.res or 0)})"
                if refused else f"{module} unloaded")
        output = (f"Kernel module {verb} (delete_module) by {describe_process(event)}: "
                  f"{event.proc.cmdline() or '?'}")
        title = "Kernel module unload attempted" if refused else "Kernel module unloaded"
        return [build_detection(NAME, "unload", Priority.WARNING, output, UNLOAD_TAGS, event,
                                data={"title": title, "module": module, "refused": refused},
                                suppressed=self._suppression(event))]
