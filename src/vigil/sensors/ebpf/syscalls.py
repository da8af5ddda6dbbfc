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

FD_NONE, FD_ARG0, FD_RES, FD_PAIR = 0, 1, 2, 3
KIND_GENERIC, KIND_EXEC, KIND_SENDMSG, KIND_SENDMMSG, KIND_CONNECT = 0, 1, 2, 3, 4
EXTRA_NONE, EXTRA_FD_PATH, EXTRA_TARGET = 0, 1, 2
#: the record's segments, by role (vigil.bpf.c: three strings, then SEG_BUF ...)
SEG_BUF, SEG_FDS, SEG_EXTRA = 3, 4, 5
#: `syscall_spec.flags` of the program
SPEC_SEND, SPEC_DNS, SPEC_SIZE_BEFORE, SPEC_CREATED = 1, 2, 4, 8
#: the priority lane: always (SPEC_URGENT), or when the first string, a path, is sensitive
SPEC_URGENT, SPEC_PATH0 = 16, 32
MAX_SYSCALLS = 512
#: the program's EV_FORK / EV_EXIT record numbers (sched tracepoints, not syscalls), and
#: EV_FLOOD, an aggregate of records flood control folded
EV_FORK, EV_EXIT, EV_FLOOD = 1000, 1001, 1002

#: syscalls whose every record is high-value (the priority lane, see docs/sensor.md):
#: execs, privilege changes, module and BPF loads, ptrace, mounts
URGENT_SYSCALLS = frozenset({
    "execve", "execveat", "setuid", "setgid", "setreuid", "setregid", "setresuid",
    "setresgid", "setfsuid", "setfsgid", "ptrace", "init_module", "finit_module",
    "delete_module", "bpf", "mount", "umount2"})

_SPEC = struct.Struct("<14B2x4I")


@dataclass(frozen=True)
class SyscallDef:
    """One capturable syscall."""

    nr: int
    #: Falco's event type name
    name: str
    #: (arg name, kind) per register, `None` for registers not reported
    args: tuple[tuple[str, str] | None, ...]
    #: register index of a user buffer to copy (sockaddr, open_how ...), its length register
    buf_arg: int | None = None
    buf_len_arg: int = 0
    #: copy this many bytes of the buffer whatever the length register says (0: use it)
    buf_fixed: int = 0
    #: how to read the copied buffer: "sockaddr", "open_how", "clone_args", "bpf_attr",
    #: "timespec2" (utimensat's two times)
    buf_kind: str | None = None
    #: which fd the kernel describes: FD_ARG0 (argument 0), FD_RES (the result), FD_PAIR
    #: (the two fds written to the int[2] that register `pair_arg` points to)
    fd_source: int = FD_NONE
    pair_arg: int = 0
    #: EXTRA_FD_PATH: the path of the described fd's file; EXTRA_TARGET: name and tgid of
    #: the task whose pid is in register `extra_arg`
    extra: int = EXTRA_NONE
    extra_arg: int = 0
    kind: int = KIND_GENERIC
    #: the syscall returns a new fd (open, socket, dup, accept ...)
    returns_fd: bool = False
    #: register of the data sent (its length in the next register), for DNS payloads
    data_arg: int | None = None
    #: the syscall carries DNS traffic: with `dns_ports`, its DNS payload is copied
    dns: bool = False
    #: never captured whole: only its DNS traffic is (write)
    dns_only: bool = False
    #: (register, values): calls whose register holds another value are dropped in the
    #: kernel (fcntl: only F_DUPFD and F_DUPFD_CLOEXEC)
    arg_filter: tuple[int, tuple[int, ...]] | None = None
    #: the size of a file before the call truncated it is reported (`size_before`)
    size_before: bool = False
    #: whether the open created the file is reported (`created`)
    created: bool = False
    #: with `size_before`: the register of open flags that must hold O_TRUNC for the call
    #: to truncate anything (None: any call may)
    trunc_flags_arg: int | None = None

    @property
    def string_regs(self) -> tuple[int, ...]:
        """Registers holding user strings, in the order the program writes their segments."""
        return tuple(i for i, a in enumerate(self.args) if a is not None and a[1] in "sp")

    @property
    def first_string_is_path(self) -> bool:
        """Whether the first string the program copies is a path (checked against the
        sensitive paths of the priority lane)."""
        regs = self.string_regs
        first = self.args[regs[0]] if regs else None
        return first is not None and first[1] == "p"

    def spec_bytes(self, send: bool = True, dns: bool = False) -> bytes:
        """The `struct syscall_spec` value for the BPF map: `send` every call, and/or copy
        its `dns` traffic (a syscall with `dns` only is sent for DNS traffic alone)."""
        mask = 0
        for i in self.string_regs:
            mask |= 1 << i
        flags = (SPEC_SEND if send and not self.dns_only else 0) | \
            (SPEC_DNS if dns and self.dns else 0) | \
            (SPEC_SIZE_BEFORE if self.size_before else 0) | \
            (SPEC_CREATED if self.created else 0) | \
            (SPEC_URGENT if self.name in URGENT_SYSCALLS else 0) | \
            (SPEC_PATH0 if self.first_string_is_path else 0)
        buf = 0 if self.buf_arg is None else self.buf_arg + 1
        farg, fvals = (0, ()) if self.arg_filter is None else (self.arg_filter[0] + 1,
                                                                 self.arg_filter[1])
        vals = tuple(fvals) + (0,) * (4 - len(fvals))
        return _SPEC.pack(flags, self.kind, mask, buf, self.buf_len_arg, self.buf_fixed,
                          self.fd_source, self.pair_arg, self.extra, self.extra_arg,
                          0 if self.data_arg is None else self.data_arg + 1, farg,
                          len(fvals),
                          0 if self.trunc_flags_arg is None else self.trunc_flags_arg + 1,
                          *vals)


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


_OPEN = dict(returns_fd=True, fd_source=FD_RES, size_before=True, created=True)
#: fcntl commands that make a new fd (F_DUPFD, F_DUPFD_CLOEXEC)
F_DUPFD, F_DUPFD_CLOEXEC = 0, 1030
BPF_PROG_LOAD = 5
#: bpf() commands captured: PROG_LOAD, PROG_ATTACH, RAW_TRACEPOINT_OPEN, LINK_CREATE
BPF_CODE_CMDS = (BPF_PROG_LOAD, 8, 17, 28)

SYSCALLS: tuple[SyscallDef, ...] = (
    # files
    _d(2, "open", "name:p flags:u mode:u", trunc_flags_arg=1, **_OPEN),
    _d(257, "openat", "dirfd:d name:p flags:u mode:u", trunc_flags_arg=2, **_OPEN),
    _d(437, "openat2", "dirfd:d name:p - -", buf_arg=2, buf_len_arg=3, buf_kind="open_how",
       **_OPEN),
    _d(85, "creat", "name:p mode:u", **_OPEN),
    _d(87, "unlink", "path:p"),
    _d(263, "unlinkat", "dirfd:d name:p flags:u"),
    _d(84, "rmdir", "path:p"),
    _d(83, "mkdir", "path:p mode:u"),
    _d(258, "mkdirat", "dirfd:d path:p mode:u"),
    _d(133, "mknod", "path:p mode:u dev:u"),
    _d(259, "mknodat", "dirfd:d path:p mode:u dev:u"),
    _d(82, "rename", "oldpath:p newpath:p"),
    _d(264, "renameat", "olddirfd:d oldpath:p newdirfd:d newpath:p"),
    _d(316, "renameat2", "olddirfd:d oldpath:p newdirfd:d newpath:p flags:u"),
    _d(86, "link", "oldpath:p newpath:p"),
    _d(265, "linkat", "olddir:d oldpath:p newdir:d newpath:p flags:u"),
    _d(88, "symlink", "target:s linkpath:p"),
    _d(266, "symlinkat", "target:s linkdirfd:d linkpath:p"),
    _d(90, "chmod", "filename:p mode:u"),
    _d(91, "fchmod", "fd:i mode:u", fd_source=FD_ARG0, extra=EXTRA_FD_PATH),
    _d(268, "fchmodat", "dirfd:d filename:p mode:u"),
    _d(92, "chown", "path:p uid:u gid:u"),
    # extended attributes: the value is copied (up to 112 bytes) for file capabilities
    _d(188, "setxattr", "path:p name:s - size:l flags:u", buf_arg=2, buf_len_arg=3,
       buf_kind="xattr"),
    _d(189, "lsetxattr", "path:p name:s - size:l flags:u", buf_arg=2, buf_len_arg=3,
       buf_kind="xattr"),
    _d(190, "fsetxattr", "fd:i name:s - size:l flags:u", buf_arg=2, buf_len_arg=3,
       buf_kind="xattr", fd_source=FD_ARG0, extra=EXTRA_FD_PATH),
    # futimens(fd, ...) is utimensat(fd, NULL, ...): the fd's path names the file then
    _d(280, "utimensat", "dirfd:d name:p - flags:u", buf_arg=2, buf_fixed=32,
       buf_kind="timespec2", fd_source=FD_ARG0, extra=EXTRA_FD_PATH),
    _d(80, "chdir", "path:p"),
    _d(81, "fchdir", "fd:i", fd_source=FD_ARG0, extra=EXTRA_FD_PATH),
    _d(165, "mount", "dev:s dir:p type:s flags:u"),
    _d(166, "umount2", "name:p flags:u"),
    _d(319, "memfd_create", "name:s flags:u", returns_fd=True, fd_source=FD_RES),
    _d(76, "truncate", "path:p length:l", size_before=True),
    _d(77, "ftruncate", "fd:i length:l", fd_source=FD_ARG0, extra=EXTRA_FD_PATH,
       size_before=True),
    # file descriptors
    _d(3, "close", "fd:i"),
    _d(436, "close_range", "first:u last:u flags:u"),
    _d(32, "dup", "fd:i", fd_source=FD_RES, returns_fd=True),
    _d(33, "dup2", "oldfd:i newfd:i", fd_source=FD_RES, returns_fd=True),
    _d(292, "dup3", "oldfd:i newfd:i flags:u", fd_source=FD_RES, returns_fd=True),
    _d(72, "fcntl", "fd:i cmd:i arg:l", fd_source=FD_RES, returns_fd=True,
       arg_filter=(1, (F_DUPFD, F_DUPFD_CLOEXEC))),
    _d(22, "pipe", "-", fd_source=FD_PAIR, pair_arg=0),
    _d(293, "pipe2", "- flags:u", fd_source=FD_PAIR, pair_arg=0),
    # processes
    _d(59, "execve", "filename:p", kind=KIND_EXEC),
    _d(322, "execveat", "dirfd:d pathname:p - - flags:u", kind=KIND_EXEC),
    _d(57, "fork", ""),
    _d(58, "vfork", ""),
    _d(56, "clone", "flags:l"),
    _d(435, "clone3", "- size:l", buf_arg=0, buf_len_arg=1, buf_fixed=8,
       buf_kind="clone_args"),
    _d(105, "setuid", "uid:u"),
    _d(106, "setgid", "gid:u"),
    _d(113, "setreuid", "ruid:u euid:u"),
    _d(114, "setregid", "rgid:u egid:u"),
    _d(117, "setresuid", "ruid:u euid:u suid:u"),
    _d(119, "setresgid", "rgid:u egid:u sgid:u"),
    _d(122, "setfsuid", "uid:u"),
    _d(123, "setfsgid", "gid:u"),
    _d(101, "ptrace", "request:l pid:i addr:l data:l", extra=EXTRA_TARGET, extra_arg=1),
    _d(310, "process_vm_readv", "pid:i - liovcnt:l - riovcnt:l flags:u", extra=EXTRA_TARGET,
       extra_arg=0),
    _d(311, "process_vm_writev", "pid:i - liovcnt:l - riovcnt:l flags:u", extra=EXTRA_TARGET,
       extra_arg=0),
    _d(62, "kill", "pid:i sig:u", extra=EXTRA_TARGET, extra_arg=0),
    _d(200, "tkill", "tid:i sig:u", extra=EXTRA_TARGET, extra_arg=0),
    _d(234, "tgkill", "pid:i tid:i sig:u", extra=EXTRA_TARGET, extra_arg=1),
    _d(175, "init_module", "- length:l uargs:s"),
    _d(313, "finit_module", "fd:i uargs:s flags:u", fd_source=FD_ARG0, extra=EXTRA_FD_PATH),
    _d(176, "delete_module", "name:s flags:u"),
    # only the commands that put code into the kernel or attach it: bpftool listing the
    # loaded objects makes hundreds of queries (GET_NEXT_ID, OBJ_GET_INFO_BY_FD ...)
    _d(321, "bpf", "cmd:l - size:u", buf_arg=1, buf_len_arg=2, buf_fixed=64,
       buf_kind="bpf_attr", arg_filter=(0, BPF_CODE_CMDS)),
    _d(272, "unshare", "flags:u"),
    _d(308, "setns", "fd:i nstype:u", fd_source=FD_ARG0, extra=EXTRA_FD_PATH),
    _d(135, "personality", "persona:u"),
    _d(323, "userfaultfd", "flags:u", returns_fd=True),
    _d(157, "prctl", "option:l arg2:l"),
    # network
    _d(41, "socket", "domain:u type:u proto:u", returns_fd=True, fd_source=FD_RES),
    _d(53, "socketpair", "domain:u type:u proto:u -", fd_source=FD_PAIR, pair_arg=3),
    _d(42, "connect", "fd:i - -", buf_arg=1, buf_len_arg=2, buf_kind="sockaddr",
       fd_source=FD_ARG0, kind=KIND_CONNECT, dns=True),
    _d(43, "accept", "fd:i - -", fd_source=FD_RES, returns_fd=True),
    _d(288, "accept4", "fd:i - - flags:u", fd_source=FD_RES, returns_fd=True),
    _d(49, "bind", "fd:i - -", buf_arg=1, buf_len_arg=2, buf_kind="sockaddr",
       fd_source=FD_ARG0),
    _d(50, "listen", "fd:i backlog:i", fd_source=FD_ARG0),
    _d(44, "sendto", "fd:i - size:l flags:u - -", buf_arg=4, buf_len_arg=5,
       buf_kind="sockaddr", fd_source=FD_ARG0, data_arg=1, dns=True),
    _d(46, "sendmsg", "fd:i - flags:u", buf_arg=1, buf_kind="sockaddr", fd_source=FD_ARG0,
       kind=KIND_SENDMSG, dns=True),
    _d(307, "sendmmsg", "fd:i - vlen:u flags:u", buf_arg=1, buf_kind="sockaddr",
       fd_source=FD_ARG0, kind=KIND_SENDMMSG, dns=True),
    _d(1, "write", "fd:i - size:l", fd_source=FD_ARG0, data_arg=1, dns=True, dns_only=True),
    _d(45, "recvfrom", "fd:i - size:l flags:u - -", fd_source=FD_ARG0),
    _d(47, "recvmsg", "fd:i - flags:u", fd_source=FD_ARG0),
)

BY_NR: dict[int, SyscallDef] = {s.nr: s for s in SYSCALLS}
BY_NAME: dict[str, SyscallDef] = {s.name: s for s in SYSCALLS}

#: event types that do not come from a syscall exit but from sched tracepoints
SCHED_TYPES = frozenset({"procexit"})

#: syscalls the process table always needs, whatever the rules ask for: execs (with the
#: fd view of the new image), the cwd, and the sockets a process listens on
TABLE_SYSCALLS = frozenset({"execve", "execveat", "chdir", "fchdir", "bind", "listen"})

#: syscalls that can carry DNS questions (captured for those alone when not asked for)
DNS_SYSCALLS = frozenset(s.name for s in SYSCALLS if s.dns)

#: every event type the sensor can produce
ALL_TYPES = frozenset(BY_NAME) | SCHED_TYPES
