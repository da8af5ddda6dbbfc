"""`privilege_escalation`: a process becoming root outside the tools made for it.

- `privilege_escalation.setuid_root`: a `setuid`/`setreuid`/`setresuid`/`setfsuid` call to
  uid 0 succeeds in a process that held neither a real nor an effective uid of 0 before,
  or that held only an effective 0 and was started by a non-root user (a set-uid-root
  program). A set-uid program root runs swapping its uids back to root gains nothing.
- `privilege_escalation.root_exec`: a program starts as uid 0 under a non-root parent.
- `privilege_escalation.sudo_shell_escape`: a shell started as root by a program that a
  non-root user ran through `sudo`/`doas` (directly or through its pager), when that
  program is one made for something else (`find -exec`, `vim :!sh`, `less !sh`, `awk
  system()`: GTFOBins' "sudo" escapes). A sudo rule that allows one such program is a
  root shell for whoever holds it.

A call that leaves the real and effective uids as they were (`setresuid(-1, 0, -1)` by a
process whose effective uid is already 0, as GNU make does before each child) makes no
one root: it is not judged.

Static allowlist: the elevation tools themselves (`sudo`, `su`, `pkexec`, `login`, `sshd`,
`doas`, `cron` ...), judged by binary (a copy in `/tmp` named `sudo` is not `sudo`), and
their direct children. Those are returned suppressed only when they look like an
escalation, which for the tools is their job. A shell run by `sudo` itself (`sudo -i`,
`sudo sh -c`) is the policy working, and a shell under a program whose job is to run
commands (`make`, `env`, interpreters, package managers) is not an escape: only the
programs in `SHELL_ESCAPE_PROGRAMS` count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vigil.detections import Detection, Suppression
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.process_identity import AgentIdentity, is_shell, matched_binary
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

#: the programs that run a command as another user on request
SUDO_TOOLS: frozenset[str] = frozenset({"sudo", "doas", "run0"})
#: programs with a job of their own that can start a shell on request (GTFOBins' sudo
#: entries): a shell under one of them, run through sudo, escaped the sudo rule
SHELL_ESCAPE_PROGRAMS: frozenset[str] = frozenset({
    "find", "vi", "vim", "vim.basic", "vim.tiny", "vim.nox", "vim.gtk3", "nvim", "view",
    "rvim", "ex", "ed", "nano", "pico", "emacs", "joe", "less", "more", "most", "pg", "awk",
    "gawk", "mawk", "nawk", "ftp", "gdb", "nmap", "tcpdump", "mysql", "mariadb", "sqlite3",
    "psql", "socat", "zip", "journalctl", "systemctl", "dmesg", "busctl", "iftop", "mail",
    "mutt", "neomutt", "w3m", "lynx", "links",
})
#: how far up a shell's ancestry sudo may be (a pager under journalctl under sudo)
_SUDO_DEPTH = 3


@dataclass(frozen=True)
class PrivilegeEscalationParams(DetectorParams):
    """`[detectors.privilege_escalation]`."""

    DETECTOR: ClassVar[str] = NAME
    #: more programs allowed to make a process root (binary names)
    extra_elevation_tools: tuple[str, ...] = ()


def _targets_root(event: Event) -> bool:
    a = event.args
    return any(a.get(k) == 0 for k in ("uid", "ruid", "euid", "suid", "fsuid"))


_UNSET = frozenset({-1, 0xFFFFFFFF})
#: the calls whose arguments say which real and effective uids they leave
_RE_SETUID = frozenset({"setreuid", "setresuid", "setresuid32"})


def _leaves_uids(event: Event) -> bool:
    """Whether a setuid/setreuid/setresuid call left the real and effective uids as the
    sensor's `uid_before`/`euid_before` say they were (False when it does not say)."""
    a = event.args
    before, ebefore = a.get("uid_before"), a.get("euid_before")
    if not isinstance(before, int) or not isinstance(ebefore, int):
        return False
    if event.type in ("setuid", "setuid32"):
        return a.get("uid") == before == ebefore
    if event.type not in _RE_SETUID:
        return False
    ruid, euid = a.get("ruid"), a.get("euid")
    return (ruid in _UNSET or ruid == before) and (euid in _UNSET or euid == ebefore)


def _nonroot(uid: int | None) -> bool:
    return uid is not None and uid != 0


def _gains_root(event: Event, parent_uid: int | None) -> bool:
    """Whether a set*uid call to 0 gave the process root it did not hold.

    The sensor reports the uids the call left and, where it knows the process, the real
    and effective uids it had (`uid_before`, `euid_before`). Neither of them root: the call
    took root (cap_setuid, a saved uid of 0 kept after a drop). Effective root already:
    only a process a non-root user started gains anything by making it its real uid too
    (a set-uid-root program run by a user); one root started had root's real uid from the
    start, and swapping back to it (at(1), set-uid daemon, does it on every run) gains
    nothing. Without the before-uids: the uid the call left, or a non-root parent.
    """
    proc = event.proc
    before, ebefore = event.args.get("uid_before"), event.args.get("euid_before")
    if not isinstance(before, int):
        return _nonroot(proc.uid) or _nonroot(parent_uid)
    held_root = before == 0 or (isinstance(ebefore, int) and ebefore == 0)
    return not held_root or (_nonroot(before) and _nonroot(parent_uid))


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
            if (not _targets_root(event) or _leaves_uids(event)
                    or not _gains_root(event, parent_uid)):
                return []
            subkind, how = "setuid_root", f"{event.type}(0) succeeded"
        elif event.type in _EXEC:
            if proc.uid != 0:
                return []
            if not _nonroot(parent_uid):
                return self._sudo_shell_escape(event)
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

    def _sudo_shell_escape(self, event: Event) -> list[Detection]:
        """A root shell under a non-shell program that a non-root user ran through sudo."""
        proc = event.proc
        escaped = proc.parent
        if escaped is None or not is_shell(proc) or is_shell(escaped) or self.own.owns(proc):
            return []
        program = matched_binary(escaped, SHELL_ESCAPE_PROGRAMS)
        if program is None:
            return []
        sudo = escaped.parent
        for _ in range(_SUDO_DEPTH):
            if sudo is None or matched_binary(sudo, SUDO_TOOLS) or is_shell(sudo):
                break
            sudo = sudo.parent
        if sudo is None or not matched_binary(sudo, SUDO_TOOLS):
            return []
        invoker = sudo.parent
        while invoker is not None and matched_binary(invoker, SUDO_TOOLS):
            invoker = invoker.parent  # sudo's monitor process under a pty
        if invoker is not None and invoker.uid == 0:
            return []  # root needs no escape
        who = (f"{invoker.user or invoker.uid}" if invoker is not None else "?")
        output = (f"Privilege escalation: root shell {describe_process(event)} started by "
                  f"{program} (pid {escaped.pid}), which {who} ran through "
                  f"{matched_binary(sudo, SUDO_TOOLS)}: {escaped.cmdline() or '?'} -> "
                  f"{proc.cmdline() or '?'}")
        return [build_detection(
            NAME, "sudo_shell_escape", Priority.CRITICAL, output, TAGS, event,
            data={"title": "Privilege escalation: root shell escaped from a program run with "
                           "sudo (GTFOBins)",
                  "program": program, "invoker_uid": invoker.uid if invoker else None})]
