"""`privilege_escalation`: a process becoming root outside the tools made for it.

- `privilege_escalation.setuid_root`: a `setuid`/`setreuid`/`setresuid`/`setfsuid` call to
  uid 0 succeeds in a process whose own or parent's uid was not root.
- `privilege_escalation.root_exec`: a program starts as uid 0 under a non-root parent.

Static allowlist: the elevation tools themselves (`sudo`, `su`, `pkexec`, `login`, `sshd`,
`doas`, `cron` ...), judged by binary (a copy in `/tmp` named `sudo` is not `sudo`), and
their direct children. Those are returned suppressed only when they look like an
escalation, which for the tools is their job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vigil.detections import Detection, Suppression
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.process_identity import AgentIdentity, matched_binary
from vigil.events.model import Event
from vigil.priority import Priority

NAME = "privilege_escalation"
TAGS = ("attack.privilege_escalation", "T1068", "T1548")
_SETUID = frozenset({"setuid", "setreuid", "setresuid", "setfsuid", "setuid32", "setresuid32"})
_EXEC = frozenset({"execve", "execveat"})

#: programs whose job is to change user (setuid-root helpers, login paths)
ELEVATION_TOOLS: frozenset[str] = frozenset({
    "sudo", "sudoedit", "su", "pkexec", "login", "sshd", "sshd-session", "doas", "run0",
    "newgrp", "sg", "cron", "crond", "atd", "polkit-agent-helper-1", "polkitd",
    "dbus-daemon-launch-helper", "unix_chkpwd", "passwd", "chsh", "chfn", "gpasswd",
    "ssh-keysign", "fusermount", "fusermount3", "mount", "umount", "newuidmap", "newgidmap",
    "Xorg", "Xorg.wrap", "systemd", "systemd-logind", "gdm-session-worker", "lightdm",
    "sddm-helper", "runuser", "userhelper", "vsftpd", "ksu",
})


@dataclass(frozen=True)
class PrivilegeEscalationParams(DetectorParams):
    """`[detectors.privilege_escalation]`."""

    DETECTOR: ClassVar[str] = NAME
    #: more programs allowed to make a process root (binary names)
    extra_elevation_tools: tuple[str, ...] = ()


def _targets_root(event: Event) -> bool:
    a = event.args
    return any(a.get(k) == 0 for k in ("uid", "ruid", "euid", "suid", "fsuid"))


def _nonroot(uid: int | None) -> bool:
    return uid is not None and uid != 0


class PrivilegeEscalationDetector(BuiltinDetector):
    """uid becoming 0 outside sudo/su/pkexec/login."""

    name = NAME
    Params = PrivilegeEscalationParams
    event_types = frozenset(_SETUID | _EXEC)

    params: PrivilegeEscalationParams

    def __init__(self, params: PrivilegeEscalationParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        self._tools = ELEVATION_TOOLS | frozenset(self.params.extra_elevation_tools)

    def _suppression(self, event: Event) -> Suppression | None:
        proc = event.proc
        hit = matched_binary(proc, self._tools)
        if hit is None and proc.parent is not None:
            hit = matched_binary(proc.parent, self._tools)
        if hit is None:
            return None
        return static_suppression(NAME, "elevation_tools", hit,
                                  f"{hit} is made to change the user")

    def on_event(self, event: Event) -> list[Detection]:
        """Report a process that became root without an elevation tool."""
        if event.res is not None and event.res < 0:
            return []
        proc, parent = event.proc, event.proc.parent
        parent_uid = parent.uid if parent is not None else None
        if event.type in _SETUID:
            if not _targets_root(event) or not (_nonroot(proc.uid) or _nonroot(parent_uid)):
                return []
            subkind, how = "setuid_root", f"{event.type}(0) succeeded"
        elif event.type in _EXEC:
            if proc.uid != 0 or not _nonroot(parent_uid):
                return []
            subkind, how = "root_exec", f"started as root under a uid {parent_uid} parent"
        else:
            return []
        if self.own.owns(proc):
            return []
        output = (f"Privilege escalation: {describe_process(event)} {how} "
                  f"(parent {parent.name if parent else '?'}, uid {parent_uid}): "
                  f"{proc.cmdline() or '?'}")
        return [build_detection(NAME, subkind, Priority.CRITICAL, output, TAGS, event,
                                data={"parent_uid": parent_uid},
                                suppressed=self._suppression(event))]
