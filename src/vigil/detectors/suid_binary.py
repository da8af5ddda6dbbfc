"""`suid_binary`: a file made set-user-ID or set-group-ID (`chmod u+s`, `chmod 4755`), or
given file capabilities (`setcap cap_setuid+ep`).

A new SUID binary is a classic persistence and escalation backdoor (a root-owned copy of a
shell with the SUID bit). Reported from `chmod`, `fchmod` and `fchmodat` that succeed with
`S_ISUID` or `S_ISGID` in the mode. Critical when the file is in a world-writable place.

File capabilities are the same backdoor without the tell-tale bit (`find -perm -4000`
misses them): `setcap cap_setuid+ep` on a copy of an interpreter lets anyone become root.
Reported from `setxattr`/`lsetxattr`/`fsetxattr` of `security.capability` that succeed
(`suid_binary.file_caps`); critical when the capabilities grant root-equivalent power
(`CAP_SETUID`, `CAP_SYS_ADMIN`, `CAP_DAC_OVERRIDE` ...) or the file is in a world-writable
place, a warning otherwise (`cap_net_raw` on a ping, `cap_net_bind_service` on a server).

Static allowlist: package managers (and what they run) install SUID binaries and set file
capabilities by design (postinst scripts run `setcap`);
set-group-ID on a directory (group inheritance for shared folders) is not a binary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vigil.detections import Detection, Suppression
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.event_args import fd_path, int_arg, str_arg
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.process_identity import (PACKAGE_MANAGERS, UNTRUSTED_DIRS, AgentIdentity,
                                              lineage_binary)
from vigil.events.flags import format_caps, format_mode
from vigil.events.model import Event
from vigil.priority import Priority

NAME = "suid_binary"
TAGS = ("attack.privilege_escalation", "attack.persistence", "T1548.001")
S_ISUID = 0o4000
S_ISGID = 0o2000
_CHMOD = frozenset({"chmod", "fchmod", "fchmodat", "fchmodat2"})
_SETXATTR = frozenset({"setxattr", "lsetxattr", "fsetxattr"})
CAPS_TAGS = ("attack.privilege_escalation", "attack.persistence", "T1548")
#: capabilities that make a program root in all but name (CAP_CHOWN, DAC_OVERRIDE,
#: DAC_READ_SEARCH, FOWNER, SETGID, SETUID, SETPCAP, NET_ADMIN, SYS_MODULE, SYS_RAWIO,
#: SYS_PTRACE, SYS_ADMIN, SETFCAP, BPF)
ROOT_EQUIVALENT_CAPS = frozenset({0, 1, 2, 3, 6, 7, 8, 12, 16, 17, 19, 21, 31, 39})


@dataclass(frozen=True)
class SuidBinaryParams(DetectorParams):
    """`[detectors.suid_binary]`."""

    DETECTOR: ClassVar[str] = NAME
    #: more programs that may set SUID/SGID bits (binary names, e.g. an in-house installer)
    extra_installers: tuple[str, ...] = ()


class SuidBinaryDetector(BuiltinDetector):
    """New SUID/SGID files."""

    name = NAME
    Params = SuidBinaryParams
    event_types = _CHMOD | _SETXATTR

    params: SuidBinaryParams

    def __init__(self, params: SuidBinaryParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        self._installers = PACKAGE_MANAGERS | frozenset(self.params.extra_installers)

    def _suppression(self, event: Event, mode: int) -> Suppression | None:
        installer = lineage_binary(event.proc, self._installers)
        if installer:
            return static_suppression(NAME, "package_managers", installer,
                                      "package managers install SUID/SGID binaries")
        is_dir = event.fd is not None and event.fd.type == "directory"
        if is_dir and not mode & S_ISUID:
            return static_suppression(NAME, "sgid_directories", "directory",
                                      "set-group-ID on a directory makes new files inherit "
                                      "its group")
        return None

    def on_event(self, event: Event) -> list[Detection]:
        """Report a chmod that sets SUID or SGID."""
        if event.res is not None and event.res < 0:
            return []
        if event.type in _SETXATTR:
            return self._file_caps(event)
        if event.type not in _CHMOD:
            return []
        mode = int_arg(event, "mode")
        if mode is None or not mode & (S_ISUID | S_ISGID):
            return []
        path = str_arg(event, "filename", "path") or fd_path(event)
        bits = "+".join(b for b, m in (("SUID", S_ISUID), ("SGID", S_ISGID)) if mode & m)
        writable = bool(path) and path.startswith(UNTRUSTED_DIRS)
        priority = Priority.CRITICAL if writable else (
            Priority.ERROR if mode & S_ISUID else Priority.WARNING)
        output = (f"{bits} bit set on {path or '?'} (mode {format_mode(mode)}) by "
                  f"{describe_process(event)}: {event.proc.cmdline() or '?'}")
        return [build_detection(NAME, "suid" if mode & S_ISUID else "sgid", priority, output,
                                TAGS, event, path=path, data={"mode": format_mode(mode)},
                                suppressed=self._suppression(event, mode))]

    def _file_caps(self, event: Event) -> list[Detection]:
        """Report file capabilities set on a program."""
        if str_arg(event, "name") != "security.capability":
            return []
        path = str_arg(event, "path") or fd_path(event)
        permitted = int_arg(event, "cap_permitted")
        caps = format_caps(permitted) if permitted else "unknown capabilities"
        strong = permitted is None or any(permitted >> bit & 1 for bit in ROOT_EQUIVALENT_CAPS)
        writable = bool(path) and path.startswith(UNTRUSTED_DIRS)
        output = (f"File capabilities set on {path or '?'} ({caps.lower()}"
                  f"{', effective' if event.args.get('cap_effective') else ''}) by "
                  f"{describe_process(event)}: {event.proc.cmdline() or '?'}")
        installer = lineage_binary(event.proc, self._installers)
        suppressed = None if installer is None else static_suppression(
            NAME, "package_managers", installer, "package managers set file capabilities")
        return [build_detection(
            NAME, "file_caps", Priority.CRITICAL if strong or writable else Priority.WARNING,
            output, CAPS_TAGS, event, path=path,
            data={"capabilities": caps.lower()}, suppressed=suppressed)]
