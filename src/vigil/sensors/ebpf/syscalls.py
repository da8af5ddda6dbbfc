"""The syscalls the eBPF sensor can capture (x86-64), with Falco's names for them and their args.

This table is the single source of truth: `spec_bytes()` turns it into the `syscall_specs`
map the BPF program reads (what to copy for each syscall), and `decode.py` reads it to
name the arguments. Adding a syscall is one line here; the C program does not change.

Argument kinds, one per register (`name:kind`, `-` for an argument not reported):
`i` signed 32-bit (fds, pids), `u` unsigned 32-bit (flags, modes, ids), `l` 64-bit raw,
`s` user string, `p` user string that is a path (made absolute against cwd or dirfd),
`d` a dirfd that the following path is relative to.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

FD_NONE, FD_ARG0, FD_RES = 0, 1, 2
KIND_GENERIC, KIND_EXEC, KIND_SENDMSG = 0, 1, 2
MAX_SYSCALLS = 512
#: the program's EV_FORK / EV_EXIT record numbers (sched tracepoints, not syscalls)
EV_FORK, EV_EXIT = 1000, 1001

_SPEC = struct.Struct("<8B")


@dataclass(frozen=True)
class SyscallDef:
    """One capturable syscall."""

    nr: int
    #: Falco's event type name
    name: str
    #: (arg name, kind) per register, `None` for registers not reported
    args: tuple[tuple[str, str] | None, ...]
    #: register index of a user buffer to copy (sockaddr, open_how), its length register
    buf_arg: int | None = None
    buf_len_arg: int = 0
    #: how to read the copied buffer: "sockaddr" or "open_how"
    buf_kind: str | None = None
    #: which fd to describe as a socket (FD_ARG0: argument 0, FD_RES: the result)
    fd_source: int = FD_NONE
    kind: int = KIND_GENERIC
    #: the syscall returns a new fd (open, socket, dup, accept ...)
    returns_fd: bool = False

    @property
    def string_regs(self) -> tuple[int, ...]:
        """Registers holding user strings, in the order the program writes their segments."""
        return tuple(i for i, a in enumerate(self.args) if a is not None and a[1] in "sp")

    def spec_bytes(self, enabled: bool) -> bytes:
        """The `struct syscall_spec` value for the BPF map."""
        mask = 0
        for i in self.string_regs:
            mask |= 1 << i
        buf = 0 if self.buf_arg is None else self.buf_arg + 1
        return _SPEC.pack(int(enabled), self.kind, mask, buf, self.buf_len_arg, self.fd_source,
                          0, 0)


def _args(spec: str) -> tuple[tuple[str, str] | None, ...]:
    out: list[tuple[str, str] | None] = []
    for part in spec.split():
        if part == "-":
            out.append(None)
        else:
            name, _, kind = part.partition(":")
            out.append((name, kind or "l"))
    return tuple(out)


def _d(nr: int, name: str, args: str, **kw: object) -> SyscallDef:
    return SyscallDef(nr, name, _args(args), **kw)  # type: ignore[arg-type]


SYSCALLS: tuple[SyscallDef, ...] = (
    # files
    _d(2, "open", "name:p flags:u mode:u", returns_fd=True),
    _d(257, "openat", "dirfd:d name:p flags:u mode:u", returns_fd=True),
    _d(437, "openat2", "dirfd:d name:p - -", buf_arg=2, buf_len_arg=3, buf_kind="open_how",
       returns_fd=True),
    _d(85, "creat", "name:p mode:u", returns_fd=True),
    _d(87, "unlink", "path:p"),
    _d(263, "unlinkat", "dirfd:d name:p flags:u"),
    _d(84, "rmdir", "path:p"),
    _d(83, "mkdir", "path:p mode:u"),
    _d(258, "mkdirat", "dirfd:d path:p mode:u"),
    _d(82, "rename", "oldpath:p newpath:p"),
    _d(264, "renameat", "olddirfd:d oldpath:p newdirfd:d newpath:p"),
    _d(316, "renameat2", "olddirfd:d oldpath:p newdirfd:d newpath:p flags:u"),
    _d(86, "link", "oldpath:p newpath:p"),
    _d(265, "linkat", "olddir:d oldpath:p newdir:d newpath:p flags:u"),
    _d(88, "symlink", "target:s linkpath:p"),
    _d(266, "symlinkat", "target:s linkdirfd:d linkpath:p"),
    _d(90, "chmod", "filename:p mode:u"),
    _d(91, "fchmod", "fd:i mode:u"),
    _d(268, "fchmodat", "dirfd:d filename:p mode:u"),
    _d(92, "chown", "path:p uid:u gid:u"),
    _d(80, "chdir", "path:p"),
    _d(81, "fchdir", "fd:i"),
    _d(165, "mount", "dev:s dir:p type:s flags:u"),
    _d(166, "umount2", "name:p flags:u"),
    _d(319, "memfd_create", "name:s flags:u", returns_fd=True),
    _d(76, "truncate", "path:p length:l"),
    _d(77, "ftruncate", "fd:i length:l"),
    # processes
    _d(59, "execve", "filename:p", kind=KIND_EXEC),
    _d(322, "execveat", "dirfd:d pathname:p - - flags:u", kind=KIND_EXEC),
    _d(105, "setuid", "uid:u"),
    _d(106, "setgid", "gid:u"),
    _d(113, "setreuid", "ruid:u euid:u"),
    _d(114, "setregid", "rgid:u egid:u"),
    _d(117, "setresuid", "ruid:u euid:u suid:u"),
    _d(119, "setresgid", "rgid:u egid:u sgid:u"),
    _d(122, "setfsuid", "uid:u"),
    _d(123, "setfsgid", "gid:u"),
    _d(101, "ptrace", "request:l pid:i addr:l data:l"),
    _d(62, "kill", "pid:i sig:u"),
    _d(200, "tkill", "tid:i sig:u"),
    _d(234, "tgkill", "pid:i tid:i sig:u"),
    _d(175, "init_module", "- length:l uargs:s"),
    _d(313, "finit_module", "fd:i uargs:s flags:u"),
    _d(321, "bpf", "cmd:l"),
    _d(272, "unshare", "flags:u"),
    _d(308, "setns", "fd:i nstype:u"),
    _d(323, "userfaultfd", "flags:u", returns_fd=True),
    _d(157, "prctl", "option:l arg2:l"),
    # network
    _d(41, "socket", "domain:u type:u proto:u", returns_fd=True),
    _d(42, "connect", "fd:i - -", buf_arg=1, buf_len_arg=2, buf_kind="sockaddr",
       fd_source=FD_ARG0),
    _d(43, "accept", "fd:i - -", fd_source=FD_RES, returns_fd=True),
    _d(288, "accept4", "fd:i - - flags:u", fd_source=FD_RES, returns_fd=True),
    _d(49, "bind", "fd:i - -", buf_arg=1, buf_len_arg=2, buf_kind="sockaddr",
       fd_source=FD_ARG0),
    _d(50, "listen", "fd:i backlog:i", fd_source=FD_ARG0),
    _d(44, "sendto", "fd:i - size:l flags:u - -", buf_arg=4, buf_len_arg=5,
       buf_kind="sockaddr", fd_source=FD_ARG0),
    _d(46, "sendmsg", "fd:i - flags:u", buf_arg=1, buf_kind="sockaddr", fd_source=FD_ARG0,
       kind=KIND_SENDMSG),
    _d(45, "recvfrom", "fd:i - size:l flags:u - -", fd_source=FD_ARG0),
    _d(47, "recvmsg", "fd:i - flags:u", fd_source=FD_ARG0),
    _d(32, "dup", "fd:i", fd_source=FD_RES, returns_fd=True),
    _d(33, "dup2", "oldfd:i newfd:i", fd_source=FD_RES, returns_fd=True),
    _d(292, "dup3", "oldfd:i newfd:i flags:u", fd_source=FD_RES, returns_fd=True),
)

BY_NR: dict[int, SyscallDef] = {s.nr: s for s in SYSCALLS}
BY_NAME: dict[str, SyscallDef] = {s.name: s for s in SYSCALLS}

#: event types that do not come from a syscall exit but from sched tracepoints
SCHED_TYPES = frozenset({"clone", "procexit"})

#: syscalls the process table always needs, whatever the rules ask for
TABLE_SYSCALLS = frozenset({"execve", "execveat", "chdir", "fchdir"})

#: every event type the sensor can produce
ALL_TYPES = frozenset(BY_NAME) | SCHED_TYPES
