"""The event model: what every sensor produces and every rule, detector and sink reads.

`Event`, `Process` and `FdInfo` are msgspec structs so that one definition serves three
jobs: fast attribute access on the hot path, the JSONL recording format (`docs/events.md`)
and decoding of recordings straight into typed objects, with no dict in between.

A value that a sensor did not see is `None`; every comparison on it is false (Falco's rule).

The structs are not tracked by Python's cycle collector (`gc=False`): a busy host makes
several per event, and they can never be part of a reference cycle — each one only points
to objects made before it (a `Process` to its parent's older snapshot, an `Event` to its
process), and what is set on one later (a pipe's `peer`) points to nothing of theirs.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

#: a kernel value (pid, uid, capability mask, cgroup id, return value ...) as a signed
#: 64-bit number (the largest real ones, capability masks and cgroup ids, stay far below
#: 2^63). Recordings are held to it when decoded, so nothing downstream meets a number it
#: cannot format or pack
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
#: ns since the epoch, as the kernel counts it (up to the year 2262)
Timestamp = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class Peer(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """The process at the other end of a pipe (who writes into a stdin, who reads a stdout)."""

    pid: Int64 | None = None
    name: str | None = None
    exepath: str | None = None
    args: list[str] = msgspec.field(default_factory=list)

    def cmdline(self) -> str | None:
        """Name and arguments, as `proc.cmdline` prints them."""
        if self.name is None:
            return None
        return " ".join([self.name, *self.args])


class Listener(msgspec.Struct, kw_only=True, omit_defaults=True, frozen=True, gc=False):
    """A socket a process listens on: TCP (or a unix stream socket) in LISTEN, or UDP bound
    to a port without a peer. `proto`: tcp, udp or unix (`ip`: the unix path, no port)."""

    proto: str
    ip: str | None = None
    port: Int64 | None = None


class FdInfo(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """The file descriptor an event acted on (file, socket, pipe ...).

    For sockets, `lip`/`lport` is the local end and `rip`/`rport` the remote end;
    `role` says which end is the server ("client" after connect, "server" after accept).
    `ino`/`dev` identify the open file as the kernel holds it (a pipe's inode names the
    pipe); `peer` is the process at the other end of a pipe on a standard stream.
    """

    num: Int64 | None = None
    #: Falco's fd.type: file, directory, ipv4, ipv6, unix, pipe, event, signalfd,
    #: eventpoll, inotify, timerfd, netlink, bpf, userfaultfd, io_uring, memfd
    type: str | None = None
    name: str | None = None
    nameraw: str | None = None
    l4proto: str | None = None
    lip: str | None = None
    lport: Int64 | None = None
    rip: str | None = None
    rport: Int64 | None = None
    role: str | None = None
    connected: bool | None = None
    name_changed: bool | None = None
    #: fd.types of the process' whole fd table, where the sensor tracks it: fd -> type
    types: dict[Int64, str] | None = None
    ino: Int64 | None = None
    #: the file's device (os.stat's st_dev); for a character or block device, the device
    dev: Int64 | None = None
    #: for a pipe: "r" (read end) or "w" (write end)
    end: str | None = None
    peer: Peer | None = None


class Process(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """A process (thread group) as seen when the event happened.

    `parent` links to the parent's `Process`, so ancestry (`proc.aname[N]`) is a walk up the
    chain. In a recording the chain is nested JSON objects, cut at a few levels.
    """

    pid: Int64 | None = None
    tid: Int64 | None = None
    ppid: Int64 | None = None
    vpid: Int64 | None = None
    sid: Int64 | None = None
    pgid: Int64 | None = None
    #: the thread's comm (at most 15 characters, as the kernel keeps it)
    name: str | None = None
    #: argv[0] as the process was started with
    exe: str | None = None
    #: the full path of the executable (resolved)
    exepath: str | None = None
    args: list[str] = msgspec.field(default_factory=list)
    #: True when argv was longer than the sensor could copy
    args_truncated: bool = False
    cwd: str | None = None
    tty: Int64 | None = None
    uid: Int64 | None = None
    gid: Int64 | None = None
    euid: Int64 | None = None
    egid: Int64 | None = None
    loginuid: Int64 | None = None
    user: str | None = None
    group: str | None = None
    loginname: str | None = None
    #: process start time, ns since the epoch
    start_ts: Timestamp | None = None
    cap_effective: Int64 | None = None
    cap_permitted: Int64 | None = None
    cap_inheritable: Int64 | None = None
    exe_from_memfd: bool = False
    exe_upper_layer: bool = False
    #: the executable's inode (0 or None when unknown)
    exe_ino: Int64 | None = None
    #: fds 0, 1 and 2 as the kernel saw them at exec (and after a dup onto them)
    stdio: list[FdInfo] | None = None
    #: sockets the process listens on (seen at exec, on bind/listen, inherited on fork)
    listening: list[Listener] = msgspec.field(default_factory=list)
    env: list[str] = msgspec.field(default_factory=list)
    #: cgroup v2 id and the container id derived from the cgroup path ("host" on the host)
    cgroup_id: Int64 | None = None
    container_id: str | None = None
    container_name: str | None = None
    container_image: str | None = None
    container_privileged: bool | None = None
    k8s_ns: str | None = None
    k8s_pod: str | None = None
    parent: Process | None = None

    def cmdline(self) -> str | None:
        """`proc.cmdline` as Falco prints it: the name followed by the arguments."""
        if self.name is None:
            return None
        if not self.args:
            return self.name
        return self.name + " " + " ".join(self.args)


class DnsQuery(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """The question of a DNS query the sensor saw leave (parsed from the payload)."""

    qname: str | None = None
    #: the question type as a number (1 = A, 28 = AAAA, 16 = TXT ...)
    qtype: Int64 | None = None
    #: the resolver the query was sent to
    server: str | None = None
    port: Int64 | None = None


class Event(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """One thing that happened: a syscall, a log line, ...

    `type` uses Falco's event names (`openat`, `execve`, `connect`, ...) for syscalls and
    `<source>.<kind>` names for other sources (`auth.ssh_failed`, `auth.sudo`, ...).
    `res` is the raw return value (negative errno on failure); `args` holds the syscall
    arguments by Falco's names (`flags`, `mode`, `name`, `oldpath`, `newpath`, `request`, ...).
    """

    type: str
    ts: Timestamp = 0
    source: str = "syscall"
    dir: str = "<"
    num: Int64 | None = None
    res: Int64 | None = None
    args: dict[str, Any] = msgspec.field(default_factory=dict)
    proc: Process = msgspec.field(default_factory=Process)
    fd: FdInfo | None = None
    #: the question of a DNS query this event sent
    dns: DnsQuery | None = None
    hostname: str | None = None
    #: the original text of a log-derived event (a sshd line, a journal message)
    raw: str | None = None
    #: the six syscall argument registers as the kernel saw them (rdi, rsi, rdx, r10, r8,
    #: r9; auditd's a0..a3) as signed 64-bit values, where the sensor kept them; None for
    #: exec and other events
    regs: Annotated[tuple[Int64, ...], msgspec.Meta(max_length=6)] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The event as plain JSON-compatible data (the recording format)."""
        return msgspec.to_builtins(self)
