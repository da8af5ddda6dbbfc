"""Kernel records -> `Event`s, with Falco's event names, argument names and fd fields.

A record is the fixed 160-byte header of `struct vigil_event` (vigil.bpf.c) followed by six
segments in a fixed order of roles: up to three string arguments (in register order), the
copied user buffer (sockaddr, open_how, clone_args, bpf_attr), the fd segment (the socket
tuple of the event's fd, or an array of `struct fd_desc`), and an extra (the path of the
event's fd, a DNS payload, or the name of a signalled task). The header describes the
event's fd itself (kind, mode, inode, device). An exec record has the executable's path,
argv, cwd, fds 0-2 and the listening sockets of the new image, and the bitmap of the fds
that survived the exec. Paths from the kernel are written leaf first (see `put_path`), one
NUL-terminated component each.

The decoder also keeps the process table current (fork, exec, exit, chdir, fds, pipes,
listening sockets), because only it sees the records in order. Who writes into a pipe a
process reads is resolved at the end of a batch (`finish_batch`), when both ends' execs
have been seen.
"""

from __future__ import annotations

import posixpath
import re
import socket
import struct
import time
from typing import Any

from msgspec.structs import replace

from vigil.events.model import DnsQuery, Event, FdInfo, Listener, Peer, Process
from vigil.events.proctable import ExecInfo, ProcessTable, encode_tty
from vigil.sensors.ebpf import syscalls as sc
from vigil.sensors.ebpf.dnswire import parse_question
from vigil.sensors.ebpf.fdview import (FD_BEYOND, FD_DESC, FD_DESC_SIZE, FDK_ANON, FDK_CHR,
                                       FDK_DIR, FDK_FILE, FDK_NONE, FDK_PIPE, FDK_SOCK,
                                       KIND_TYPE, anon_type, device_name, pipe_end, user_dev)
from vigil.sensors.ebpf.sockets import (FAMILY_TYPE, SOCK_STREAM, SOCKTYPE_L4, TUPLE,
                                        SocketRoles, parse_sockaddr, socket_fd)

HEADER = struct.Struct("<QQq6QQHBBIQ7IHH16s6H4x")
HEADER_SIZE = HEADER.size
#: where the syscall number (or EV_FORK / EV_EXIT) is in a record
NR_OFFSET = 124
_OPEN_HOW = struct.Struct("<QQQ")
_BPF_ATTR = struct.Struct("<II40x16s")
#: another process's memory as a file (the numeric pid, not self or thread-self)
_PROC_MEM = re.compile(r"/proc/([0-9]+)(?:/task/[0-9]+)?/mem")
_U64 = struct.Struct("<Q")
_TIMESPEC2 = struct.Struct("<qqqq")
#: utimensat's special tv_nsec values
_UTIME_NOW, _UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2
_I64_MAX = 2**63 - 1

F_ARGV_TRUNCATED, F_EXE_NLINK0, F_HAS_TTY, F_CREATED, F_SIZE_BEFORE = 1, 2, 4, 8, 16
F_FDS_BEYOND, F_LISTENERS_CUT, F_DNS, F_TARGET, F_PAYLOAD_CUT = 32, 64, 128, 256, 512
#: SEG_EXTRA holds the first bytes a client sent on a TCP connection
F_FIRST_SEND = 2048
F_EXEC_AT = 1024
#: exec: the record also stands for the child's fork (held back by the kernel for vfork
#: children): a3 is the fork's time, a4 the parent
F_FORKED = 4096
AT_EMPTY_PATH = 0x1000
#: execve, execveat: a successful one is an exec record
_EXEC_NRS = frozenset(s.nr for s in sc.SYSCALLS if s.kind == sc.KIND_EXEC)
#: unlinks: their events say which running processes exec'd the file (`exe_users`)
_UNLINK_NRS = frozenset(sc.BY_NAME[n].nr for n in ("unlink", "unlinkat"))
#: the calls that change a process's user ids (their events carry `uid_before`)
_SETUID_NRS = frozenset(sc.BY_NAME[n].nr for n in ("setuid", "setreuid", "setresuid",
                                                   "setfsuid") if n in sc.BY_NAME)
AT_FDCWD = -100
O_DIRECTORY = 0o200000
O_TRUNC = 0o1000
CLOSE_RANGE_CLOEXEC = 4
BPF_PROG_LOAD = 5
#: open, openat, creat: decoded by `_open`
_OPEN_FAST = frozenset({2, 257, 85})
_OPEN_NAMES = frozenset({"open", "openat", "openat2", "creat"})
_DUP_NAMES = frozenset({"dup", "dup2", "dup3", "fcntl"})
_PATH_CACHE_MAX = 4096
#: see `RecordDecoder.hold_ns`: a pipeline's commands exec within microseconds of each
#: other, but on a loaded host one may not be scheduled for tens of milliseconds
HOLD_NS = 250_000_000
#: where the tail (socket tuple, anon name) starts in a `struct fd_desc`
_TAIL = 16
#: the listening sockets of an exec'd process that has none (shared: never changed,
#: `ProcessTable.add_listener` makes a new list)
_NO_LISTENERS: list[Listener] = []
#: inodes named by the opens that made their fds (see `_named_inode`)
_INODES_MAX = 65536


def _i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - 0x100000000 if v & 0x80000000 else v


def _u32(v: int) -> int:
    return v & 0xFFFFFFFF


def _text(b: bytes) -> str:
    return b.decode("utf-8", "backslashreplace")


def kernel_path(seg: bytes) -> str | None:
    """A leaf-first component list from the kernel as an absolute path (None when a
    component has no name: a pseudo file system whose names are made up on demand)."""
    parts = seg.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    if not parts:
        return "/"
    if b"" in parts:
        return None
    return "/" + "/".join(_text(p) for p in reversed(parts))


class DecodeCounts:
    """What the decoder could not fill in, by reason (reported in the sensor's stats)."""

    __slots__ = ("dns_queries", "dns_malformed", "dns_cut", "pipe_peers", "pipe_peers_unknown",
                 "fds_beyond_exec_view", "listeners_cut", "truncated_records")

    def __init__(self) -> None:
        for k in self.__slots__:
            setattr(self, k, 0)

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return {k: getattr(self, k) for k in self.__slots__}


class _Pending:
    """A stdio pipe end whose peer is looked up at the end of the batch."""

    __slots__ = ("fd", "ino", "want", "proc", "ts", "event")

    def __init__(self, fd: FdInfo, ino: int, want: str, proc: Process, ts: int) -> None:
        self.fd, self.ino, self.want, self.proc, self.ts = fd, ino, want, proc, ts
        self.event: Event | None = None


class RecordDecoder:
    """Turns records into events and keeps the process table in step with them."""

    def __init__(self, table: ProcessTable, hostname: str | None = None, *,
                 process_events: bool = True) -> None:
        self.table = table
        self.hostname = hostname
        #: False: exit records only update the table (no rule asked for procexit)
        self.process_events = process_events
        self._epoch = table.boot_epoch_ns
        self._comms: dict[bytes, str] = {}
        self._paths: dict[bytes, str | None] = {}
        #: decoded stdio by its bytes (see `_stdio`)
        self._stdio_cache: dict[bytes, list[FdInfo]] = {}
        #: (kernel dev, inode) -> the fd of the open that named it
        self._inodes: dict[tuple[int, int], FdInfo] = {}
        self._pending: list[_Pending] = []
        self.roles = SocketRoles()
        self.counts = DecodeCounts()
        #: how long an exec event may wait for the other end of its stdio pipe to exec
        self.hold_ns = HOLD_NS
        self.errors = 0

    # ------------------------------------------------------------------ entry points

    def decode(self, buf: memoryview | bytes, off: int, size: int) -> Event | None:
        """One record; None for a record that is not an event (malformed ones are counted)."""
        if size < HEADER_SIZE:
            self.errors += 1
            return None
        (ts, cgid, res, a0, a1, a2, a3, a4, a5, aux, fdnum, fkind, fmode, fdev, fino, tgid,
         tid, ppid, uid, gid, euid, loginuid, nr, flags, comm_b, l0, l1, l2, l3, l4,
         l5) = HEADER.unpack_from(buf, off)
        if HEADER_SIZE + l0 + l1 + l2 + l3 + l4 + l5 > size:
            # segments claim more than the record holds: decode what is there
            self.counts.truncated_records += 1
            l0, l1, l2, l3, l4, l5 = _clip(size - HEADER_SIZE, (l0, l1, l2, l3, l4, l5))
        comm = self._comms.get(comm_b)
        if comm is None:
            comm = _text(comm_b.split(b"\0", 1)[0])
            if len(self._comms) > 4096:
                self._comms.clear()
            self._comms[comm_b] = comm
        if loginuid == 0xFFFFFFFF:
            loginuid = -1
        table = self.table
        ts += self._epoch
        if nr in _EXEC_NRS and res == 0:
            if flags & F_FORKED:
                table.on_fork(a4, tgid, a3 + self._epoch)
            proc = table.exec_view(tgid, tid, ppid, uid, gid, euid, loginuid, comm, cgid)
            return self._exec(ts, proc, comm, flags, buf, off + HEADER_SIZE,
                              (l0, l1, l2, l3, l4, l5), a0, a1, a2, aux, fino)
        # the credentials in the record are the ones the call left: for a uid change, the
        # process's uids before it are the table's (who became root, not who is root)
        before = table.get(tgid) if nr in _SETUID_NRS else None
        proc = table.view(tgid, tid, ppid, uid, gid, euid, loginuid, comm, cgid)
        if nr == sc.EV_FORK:
            table.on_fork(tgid, a0, ts)
            return None
        if nr == sc.EV_EXIT:
            table.on_exit(tgid, ts)
            if not self.process_events:
                return None
            return Event(type="procexit", ts=ts, res=0, proc=proc, hostname=self.hostname,
                         args={"status": res})
        start = off + HEADER_SIZE
        if nr == sc.EV_FLOOD:
            sample = bytes(buf[start:start + l0]).split(b"\0", 1)[0]
            ev = flood_event(ts, proc, a0, a1, a2, a3, bool(a4), _text(sample) or None,
                             self.hostname)
            if l0 and len(sample) >= l0 - 1:  # the kernel's copy filled its buffer
                ev.args["sample_cut"] = True
            return ev
        if nr in _OPEN_FAST:
            ev = self._open(nr, ts, res, a0, a1, a2, a3, aux, fkind, fmode, fdev, fino,
                            flags, proc, buf, start, l0)
            ev.regs = _signed_regs((a0, a1, a2, a3, a4, a5))
            return ev
        sdef = sc.BY_NR.get(nr)
        if sdef is None:
            self.errors += 1
            return None
        segs = _segments(buf, start, (l0, l1, l2, l3, l4, l5))
        regs = (a0, a1, a2, a3, a4, a5)
        ev, raw_paths = self._syscall(sdef, ts, res, proc, regs, segs)
        ev.regs = _signed_regs(regs)  # for auditd's a0..a3 (audit.syscall_arg)
        self._fill(ev, sdef, proc, res, segs, raw_paths, aux, fdnum, fkind, fmode, fdev, fino,
                   flags)
        if before is not None and before.uid is not None:
            ev.args["uid_before"], ev.args["euid_before"] = before.uid, before.euid
        if nr in _UNLINK_NRS and res == 0:
            path = ev.args.get("path") or ev.args.get("name")
            if isinstance(path, str):
                ev.args["exe_users"] = table.exec_users(path)
        return ev

    def finish_batch(self, final: bool = True, now_ns: int | None = None) -> list[Event]:
        """Name the processes at the other end of the stdio pipes of this batch's execs.

        Done once a batch is decoded: in `curl | sh` the shell may exec before curl does,
        and both execs are then in the same batch. With `final` False, the exec events
        whose peer is not known yet, that happened less than `hold_ns` before `now_ns`,
        and that have a sibling forked around them which has not exec'd yet (the likely
        other end of the pipeline) are returned: the caller holds them back (and what
        follows them) for a later batch, where that exec may be.
        """
        pending, self._pending = self._pending, []
        pipes = self.table.pipes
        waiting: list[Event] = []
        now = time.time_ns() if now_ns is None else now_ns
        for p in pending:
            other = pipes.peer(p.ino, p.want, p.proc, p.ts)
            if other is None:
                if (not final and p.event is not None and now - p.ts < self.hold_ns
                        and self.table.forked_sibling_pending(p.proc, p.ts - self.hold_ns)):
                    self._pending.append(p)
                    waiting.append(p.event)
                    continue
                self.counts.pipe_peers_unknown += 1
                continue
            self.counts.pipe_peers += 1
            p.fd.peer = Peer(pid=other.pid, name=other.name, exepath=other.exepath,
                             args=list(other.args))
        return waiting

    # ------------------------------------------------------------------ opens

    def _open(self, nr: int, ts: int, res: int, a0: int, a1: int, a2: int, a3: int, aux: int,
              fkind: int, fmode: int, fdev: int, fino: int, flags: int, proc: Process,
              buf: memoryview | bytes, start: int, plen: int) -> Event:
        """open/openat/creat: the bulk of the events, decoded without the generic loop."""
        raw = str(buf[start:start + plen - 1], "utf-8", "backslashreplace") if plen else ""
        if nr == 257:
            dirfd, oflags, mode = _i32(a0), a2 & 0xFFFFFFFF, a3 & 0xFFFFFFFF
            args = {"dirfd": dirfd, "name": raw, "flags": oflags, "mode": mode}
            name = "openat"
        elif nr == 2:
            dirfd, oflags, mode = AT_FDCWD, a1 & 0xFFFFFFFF, a2 & 0xFFFFFFFF
            args = {"name": raw, "flags": oflags, "mode": mode}
            name = "open"
        else:
            dirfd, oflags, mode = AT_FDCWD, 0o1101, a1 & 0xFFFFFFFF
            args = {"name": raw, "mode": mode}
            name = "creat"
        path = raw
        if raw[:1] != "/" or "/." in raw or "//" in raw:
            path = self._abspath(proc, raw, dirfd)
            args["name"] = path
        fd = self._opened(res, fkind, fmode, fdev, fino, oflags, path, raw, flags, aux, args)
        if path[:6] == "/proc/" and path[-4:] == "/mem":
            self._memory_target(path, args)
        if res >= 0:
            self.table.set_fd(proc.pid or 0, res, fd)
            if fino and fkind in (FDK_FILE, FDK_DIR):
                self._named_inode(fdev, fino, fd)
        return Event(type=name, ts=ts, res=res, args=args, proc=proc, fd=fd,
                     hostname=self.hostname)

    def _memory_target(self, path: str, args: dict[str, Any]) -> None:
        """For an open of /proc/PID/mem (or /proc/PID/task/TID/mem): whose memory it is,
        as `target_pid`, `target_name`, `target_exepath` (like ptrace's and kill's)."""
        m = _PROC_MEM.fullmatch(path)
        if m is None:
            return
        pid = int(m.group(1))
        args["target_pid"] = pid
        target = self.table.get(pid)
        if target is not None:
            if target.name:
                args["target_name"] = target.name
            if target.exepath:
                args["target_exepath"] = target.exepath

    @staticmethod
    def _opened(res: int, fkind: int, fmode: int, fdev: int, fino: int, oflags: int,
                path: str, raw: str | None, flags: int, aux: int,
                args: dict[str, Any]) -> FdInfo:
        if res >= 0:
            args["created"] = bool(flags & F_CREATED)
            # the size the truncation of an existing file found (another size seen during
            # the open, an access time update say, is not one)
            if flags & F_SIZE_BEFORE and oflags & O_TRUNC and not flags & F_CREATED:
                args["size_before"] = aux
        if fkind == FDK_NONE:
            ftype = "directory" if oflags & O_DIRECTORY else "file"
            return FdInfo(num=res if res >= 0 else -1, type=ftype, name=path, nameraw=raw)
        return FdInfo(num=res, type=KIND_TYPE.get(fkind) or "file", name=path, nameraw=raw,
                      ino=fino, dev=user_dev(fdev),
                      end=pipe_end(fmode) if fkind == FDK_PIPE else None)

    # ------------------------------------------------------------------ exec

    def _path(self, seg: bytes) -> str | None:
        """`kernel_path`, cached: the same executables and directories come back."""
        p = self._paths.get(seg)
        if p is None:
            p = kernel_path(seg)
            if len(self._paths) > _PATH_CACHE_MAX:
                self._paths.clear()
            self._paths[seg] = p
        return p

    def _exec(self, ts: int, proc: Process, comm: str, flags: int,
              buf: memoryview | bytes, start: int, lens: tuple[int, ...], tty: int, sid: int,
              pgid: int, open_fds: int, exe_ino: int) -> Event:
        l0, l1, l2, l3, l4, l5 = lens
        a = start
        exepath = self._path(bytes(buf[a:a + l0])) if l0 else None
        a += l0
        argv = str(buf[a:a + l1], "utf-8", "backslashreplace").rstrip("\0").split("\0") \
            if l1 else []
        a += l1
        cwd = self._path(bytes(buf[a:a + l2])) if l2 else None
        a += l2
        at_path = str(buf[a:a + l3], "utf-8", "backslashreplace").rstrip("\0") if l3 else None
        a += l3
        # the kernel reports execve's number after any exec: one through an fd is marked
        name = "execveat" if flags & F_EXEC_AT else "execve"
        memfd = False
        if exepath is not None and flags & F_EXE_NLINK0:
            leaf = exepath.rsplit("/", 1)[-1]
            if leaf.startswith("memfd:"):
                memfd, exepath = True, leaf
        pid = proc.pid or 0
        stdio = self._stdio(buf, a, l4, pid) if l4 else None
        a += l4
        # the kernel looked for listening sockets when it described stdio (l4)
        listening = (self._listeners(buf, a, l5) if l5 else _NO_LISTENERS) if l4 else None
        if flags & F_FDS_BEYOND:
            self.counts.fds_beyond_exec_view += 1
        if flags & F_LISTENERS_CUT:
            self.counts.listeners_cut += 1
        info = ExecInfo(
            exepath=exepath, argv=argv, args_truncated=bool(flags & F_ARGV_TRUNCATED),
            cwd=cwd, tty=encode_tty(tty >> 32, tty & 0xFFFFFFFF) if flags & F_HAS_TTY else 0,
            sid=sid or None, pgid=pgid or None, exe_from_memfd=memfd, exe_ino=exe_ino,
            stdio=stdio, listening=listening, open_fds=open_fds if l4 else None)
        new = self.table.on_exec(proc, info, ts, comm)
        args: dict[str, Any] = {"exe": new.exe, "filename": exepath, "cwd": new.cwd}
        if at_path is not None:
            args.update(_exec_at(at_path))
        ev = Event(type=name, ts=ts, res=0, proc=new, hostname=self.hostname, args=args)
        if stdio and len(stdio) > 1:
            # who writes into stdin, who reads stdout (the fields there are)
            fin, fout = stdio[0], stdio[1]
            if fin.type == "pipe" and fin.end == "r" and fin.ino:
                self._wait(fin, "w", new, ts, ev)
            if fout.type == "pipe" and fout.end == "w" and fout.ino:
                self._wait(fout, "r", new, ts, ev)
        return ev

    def _wait(self, fd: FdInfo, want: str, proc: Process, ts: int, ev: Event) -> None:
        p = _Pending(fd, fd.ino or 0, want, proc, ts)
        p.event = ev
        self._pending.append(p)

    def _stdio(self, buf: memoryview | bytes, a: int, n: int, pid: int) -> list[FdInfo]:
        """fds 0-2 of an exec. Most execs share their terminal, /dev/null, a log file or a
        build's pipe with many others: the same bytes are decoded once. The cached
        descriptions are shared (no one changes them; a dup onto stdio makes a new list),
        except pipe ends, copied per exec because each gets its own `peer`. Sockets are
        not cached: their role can change."""
        raw = bytes(buf[a:a + n])
        hit = self._stdio_cache.get(raw)
        if hit is not None:
            return [replace(f) if f.type == "pipe" else f for f in hit]
        out = self._descs(raw, 0, n, pid)
        # the kind is byte 2 of each `struct fd_desc`
        if FDK_SOCK not in raw[2:n:FD_DESC_SIZE]:
            if len(self._stdio_cache) > 1024:
                self._stdio_cache.clear()
            self._stdio_cache[raw] = out
            out = [replace(f) if f.type == "pipe" else f for f in out]
        return out

    def _descs(self, buf: memoryview | bytes, a: int, n: int, pid: int) -> list[FdInfo]:
        """An array of `struct fd_desc` as `FdInfo`s (names from the table when the inode
        is the one the table knows)."""
        out = []
        for off in range(a, a + n - FD_DESC_SIZE + 1, FD_DESC_SIZE):
            num, kind, fmode, dev, ino, tail = FD_DESC.unpack_from(buf, off)
            out.append(self._describe("", pid, num, kind, fmode, dev, ino, tail, b""))
        return out

    def _listeners(self, buf: memoryview | bytes, a: int, n: int) -> list[Listener]:
        out: list[Listener] = []
        for off in range(a, a + n - FD_DESC_SIZE + 1, FD_DESC_SIZE):
            _num, kind, _fm, _dev, ino, tail = FD_DESC.unpack_from(buf, off)
            if kind != FDK_SOCK:
                continue
            lis = _listener(tail)
            if lis is not None:
                self.roles.set(ino, "server")
                if lis not in out:
                    out.append(lis)
        return out

    # ------------------------------------------------------------------ fd descriptions

    def _describe(self, call: str, pid: int, num: int, kind: int, fmode: int, kdev: int,
                  ino: int, tail: bytes, ubuf: bytes, proc: Process | None = None) -> FdInfo:
        """The `FdInfo` of an fd the kernel described."""
        fdnum = -1 if num == FD_BEYOND else num
        if kind == FDK_SOCK:
            ports = _listen_ports(proc) if proc is not None else \
                _listen_ports(self.table.get(pid))
            fd = socket_fd(call, fdnum, tail, ubuf, ino=ino, role=self.roles.get(ino),
                           listen_ports=ports)
            if fd is None:
                return FdInfo(num=fdnum, type="socket", ino=ino)
            if fd.type == "unix" and not fd.name:
                known = self.table.named(pid, fdnum, ino)
                if known is not None and known.name:
                    fd.name = known.name
            return fd
        if kind == FDK_NONE:
            return FdInfo(num=fdnum)
        dev = user_dev(kdev)
        if kind == FDK_PIPE:
            return FdInfo(num=fdnum, type="pipe", name=f"pipe:[{ino}]", ino=ino, dev=dev,
                          end=pipe_end(fmode))
        if kind == FDK_CHR:
            return FdInfo(num=fdnum, type="file", name=device_name(kdev), ino=ino, dev=dev)
        if kind == FDK_ANON:
            return FdInfo(num=fdnum, type=anon_type(tail), ino=ino, dev=dev)
        known = self._inodes.get((kdev, ino))
        if known is not None:
            return FdInfo(num=fdnum, type=known.type, name=known.name, nameraw=known.nameraw,
                          ino=ino, dev=dev)
        return FdInfo(num=fdnum, type=KIND_TYPE.get(kind), ino=ino, dev=dev)

    def _named_inode(self, kdev: int, ino: int, fd: FdInfo) -> None:
        """Remember the name an open gave an inode: an fd of it met later (inherited, dup'd,
        on a child's stdio) is named so, whatever its number."""
        inodes = self._inodes
        if len(inodes) >= _INODES_MAX:
            for k in list(inodes)[:_INODES_MAX // 8]:  # the oldest first
                del inodes[k]
        inodes[(kdev, ino)] = fd

    # ------------------------------------------------------------------ other syscalls

    def _syscall(self, sdef: sc.SyscallDef, ts: int, res: int, proc: Process,
                 regs: tuple[int, ...], segs: list[bytes]) -> tuple[Event, dict[str, str]]:
        """The event with its register arguments; and the paths as passed, by argument."""
        args: dict[str, Any] = {}
        raw_paths: dict[str, str] = {}
        si = 0
        dirfd = AT_FDCWD
        for i, a in enumerate(sdef.args):
            if a is None:
                continue
            name, kind = a
            v = regs[i]
            if kind == "i":
                args[name] = _i32(v)
            elif kind == "u":
                args[name] = _u32(v)
            elif kind == "d":
                dirfd = _i32(v)
                args[name] = dirfd
            elif kind in "sp":
                s = _text(segs[si].rstrip(b"\0")) if si < sc.SEG_BUF else ""
                si += 1
                if kind == "p":
                    raw_paths[name] = s
                    s = self._abspath(proc, s, dirfd)
                    dirfd = AT_FDCWD
                args[name] = s
            else:
                args[name] = v
        ev = Event(type=sdef.name, ts=ts, res=res, args=args, proc=proc, hostname=self.hostname)
        return ev, raw_paths

    def _abspath(self, proc: Process, path: str, dirfd: int) -> str:
        if not path or path[0] == "/":
            return posixpath.normpath(path) if path else path
        if dirfd == AT_FDCWD:
            base = proc.cwd
        else:
            info = self.table.fd(proc.pid or 0, dirfd)
            base = info.name if info is not None and info.type in ("directory", "file") else None
        if not base:
            return path
        return posixpath.normpath(posixpath.join(base, path))

    def _target_from_proc(self, sdef: sc.SyscallDef, args: dict[str, Any]) -> None:
        """The signalled task's name and thread group from /proc (or the table), for a
        record without them; nothing when the task is gone and unknown."""
        spec = sdef.args[sdef.extra_arg] if sdef.extra_arg < len(sdef.args) else None
        pid = args.get(spec[0]) if spec is not None else None
        if not isinstance(pid, int) or pid <= 0:
            return
        name, tgid = _proc_name_tgid(pid)
        if name is None:
            known = self.table.get(pid)
            if known is None:
                return
            name, tgid = known.name, pid
        args["target_pid"] = tgid
        args["target_name"] = name

    def _fill(self, ev: Event, sdef: sc.SyscallDef, proc: Process, res: int, segs: list[bytes],
              raw_paths: dict[str, str], aux: int, fdnum: int, fkind: int, fmode: int, fdev: int, fino: int,
              flags: int) -> None:
        """Arguments from the copied buffer, the event's fd, and the table's bookkeeping."""
        name = sdef.name
        pid = proc.pid or 0
        table = self.table
        args = ev.args
        ubuf, fdseg, extra = segs[sc.SEG_BUF], segs[sc.SEG_FDS], segs[sc.SEG_EXTRA]
        kind = sdef.buf_kind
        if kind is not None and ubuf and (kind != "bpf_attr" or args.get("cmd") == BPF_PROG_LOAD):
            _buffer_args(kind, ubuf, args)
        if flags & F_SIZE_BEFORE and name not in _OPEN_NAMES:
            args["size_before"] = aux
        if name in _OPEN_NAMES:  # openat2 (the others take _open)
            path = args.get("name", "")
            ev.fd = self._opened(res, fkind, fmode, fdev, fino, args.get("flags", 0), path,
                                 raw_paths.get("name"), flags, aux, args)
            if res >= 0:
                table.set_fd(pid, res, ev.fd)
                if fino and fkind in (FDK_FILE, FDK_DIR):
                    self._named_inode(fdev, fino, ev.fd)
            return
        if flags & F_TARGET:
            args["target_pid"] = aux
            args["target_name"] = _text(extra.split(b"\0", 1)[0])
        elif sdef.extra == sc.EXTRA_TARGET and res == 0:
            # the compat object cannot look tasks up in the kernel (no bpf_task_from_vpid)
            self._target_from_proc(sdef, args)
        if "target_pid" in args:
            target = table.get(args["target_pid"])
            if target is not None and target.exepath:
                args["target_exepath"] = target.exepath
            if target is not None and target.ppid:
                args["target_ppid"] = target.ppid
        fd: FdInfo | None = None
        if sdef.fd_source in (sc.FD_ARG0, sc.FD_RES) and (sdef.fd_source == sc.FD_ARG0
                                                          or res >= 0):
            # the kernel's desc stays in the record for a socket's tuple or an anon name
            tail = fdseg[_TAIL:_TAIL + 44] if len(fdseg) >= FD_DESC_SIZE else b""
            fd = self._describe(name, pid, fdnum, fkind, fmode, fdev, fino, tail, ubuf, proc)
            if sdef.extra == sc.EXTRA_FD_PATH and extra and fkind != FDK_NONE:
                fd.name = self._path(extra)
            ev.fd = fd
        if name == "memfd_create":
            fd = FdInfo(num=res if res >= 0 else -1, type="memfd",
                        name="memfd:" + str(args.get("name", "")), ino=fino or None)
            ev.fd = fd
            if res >= 0:
                table.set_fd(pid, res, fd)
                if fino:
                    self._named_inode(fdev, fino, fd)
            return
        if name == "socket":
            domain = args.get("domain", 0)
            ev.fd = FdInfo(num=res if res >= 0 else -1, type=FAMILY_TYPE.get(domain, "socket"),
                           l4proto=SOCKTYPE_L4.get(args.get("type", 0) & 0xF), ino=fino or None)
            if res >= 0:
                table.set_fd(pid, res, ev.fd)
            return
        if name in ("chdir", "fchdir"):
            if res == 0:
                cwd = args.get("path") if name == "chdir" else (fd.name if fd else None)
                if cwd:
                    table.set_cwd(pid, cwd)
            return
        if sdef.fd_source == sc.FD_PAIR:
            self._pair(ev, name, pid, res, fdseg)
            return
        if name == "close":
            closed = table.close_fd(pid, args.get("fd", -1)) if res == 0 else None
            ev.fd = closed
            if res == 0 and 0 <= args.get("fd", -1) <= 2:
                ev.proc = table.set_stdio(pid, args["fd"], None) or proc
            return
        if name == "close_range":
            if res == 0 and not args.get("flags", 0) & CLOSE_RANGE_CLOEXEC:
                first, last = args.get("first", 0), args.get("last", 0)
                table.close_fds(pid, first, last)
                new = proc
                for n in range(first, min(last, 2) + 1):
                    new = table.set_stdio(pid, n, None) or new
                ev.proc = new
            return
        if fd is None:
            if ev.fd is None and isinstance(args.get("fd"), int):
                ev.fd = table.fd(pid, args["fd"])
            return
        if fd.type in ("ipv4", "ipv6", "unix") and res >= 0 or name == "connect":
            if name in ("accept", "accept4", "listen", "bind"):
                self.roles.set(fino, "server")
            elif name == "connect":
                self.roles.set(fino, "client")
        if flags & F_DNS:
            self._dns(ev, fd, ubuf, extra, flags)
        elif flags & F_FIRST_SEND and extra:
            args["payload"] = _text(extra)
            if flags & F_PAYLOAD_CUT:
                args["payload_cut"] = True
        if res < 0:
            return
        # TCP listens; a datagram socket bound on purpose serves on its port (the kernel's
        # answer: a port 0 bind gets one)
        if name == "listen" or (name == "bind" and fd.l4proto == "udp"):
            lis = (Listener(proto="unix", ip=fd.name or None) if fd.type == "unix" else
                   Listener(proto=fd.l4proto or "tcp", ip=fd.lip, port=fd.lport)
                   if fd.lport else None)
            if lis is not None:
                new = table.add_listener(pid, lis)
                if new is not None:
                    ev.proc = new
        if sdef.returns_fd or name in ("connect", "bind", "listen"):
            num = res if sdef.fd_source == sc.FD_RES else args.get("fd", -1)
            if name in _DUP_NAMES:
                self._dup_name(fd, pid, args)
            table.set_fd(pid, num, fd)
            if name in _DUP_NAMES and 0 <= num <= 2:
                ev.proc = table.set_stdio(pid, num, fd) or proc

    def _dup_name(self, fd: FdInfo, pid: int, args: dict[str, Any]) -> None:
        """A duplicated file or directory is named like the fd it copies (an inode no open
        named, opened before the sensor started say: as the table has the old fd)."""
        if fd.name is not None or fd.type not in ("file", "directory"):
            return
        old = self.table.named(pid, args.get("oldfd", args.get("fd", -1)), fd.ino)
        if old is not None:
            fd.name, fd.nameraw = old.name, old.nameraw

    def _pair(self, ev: Event, name: str, pid: int, res: int, fdseg: bytes) -> None:
        """pipe, pipe2, socketpair: both new fds."""
        if res != 0 or len(fdseg) < 2 * FD_DESC_SIZE:
            return
        fds = self._descs(fdseg, 0, len(fdseg), pid)
        ev.args["fd1"], ev.args["fd2"] = fds[0].num, fds[1].num
        if name != "socketpair":
            ev.args["ino"] = fds[0].ino
        ev.fd = fds[0]
        for f in fds:
            if f.num is not None and f.num >= 0:
                self.table.set_fd(pid, f.num, f)

    def _dns(self, ev: Event, fd: FdInfo, ubuf: bytes, payload: bytes, flags: int) -> None:
        """The question of a DNS query sent on this event (the payload the kernel copied)."""
        counts = self.counts
        if flags & F_PAYLOAD_CUT:
            counts.dns_cut += 1
        q = parse_question(payload, stream=fd.l4proto == "tcp")
        if q is None:
            counts.dns_malformed += 1
            return
        counts.dns_queries += 1
        server, port = fd.rip, fd.rport
        if ubuf:
            _f, addr, uport = parse_sockaddr(ubuf)
            if addr is not None and uport:
                server, port = addr, uport
        ev.dns = DnsQuery(qname=q[0], qtype=q[1], server=server, port=port)


def _buffer_args(kind: str, ubuf: bytes, args: dict[str, Any]) -> None:
    """Arguments read from a copied user structure."""
    if kind == "open_how" and len(ubuf) >= 16:
        flags, mode, resolve = _OPEN_HOW.unpack_from(ubuf.ljust(24, b"\0"))
        args["flags"], args["mode"], args["resolve"] = flags, mode, resolve
    elif kind == "clone_args" and len(ubuf) >= 8:
        args["flags"] = _U64.unpack_from(ubuf)[0]
    elif kind == "timespec2" and len(ubuf) >= _TIMESPEC2.size:
        # utimensat's times: explicit values only (UTIME_NOW and UTIME_OMIT leave the
        # argument out; no buffer at all means "now" for both)
        a_sec, a_nsec, m_sec, m_nsec = _TIMESPEC2.unpack_from(ubuf)
        for key, tsec, tnsec in (("atime", a_sec, a_nsec), ("mtime", m_sec, m_nsec)):
            if tnsec not in (_UTIME_NOW, _UTIME_OMIT) and 0 <= tnsec < 10**9:
                args[key] = max(-_I64_MAX, min(_I64_MAX, tsec * 10**9 + tnsec))
    elif kind == "bpf_attr" and len(ubuf) >= _BPF_ATTR.size:
        prog_type, insn_cnt, name = _BPF_ATTR.unpack_from(ubuf)
        args["prog_type"], args["insn_cnt"] = prog_type, insn_cnt
        args["prog_name"] = _text(name.split(b"\0", 1)[0])
    elif kind == "xattr" and args.get("name") == "security.capability":
        caps = parse_vfs_caps(ubuf)
        if caps is not None:
            args["cap_permitted"], args["cap_inheritable"], args["cap_effective"] = caps


#: struct vfs_cap_data / vfs_ns_cap_data (linux/capability.h): magic_etc, then two
#: {permitted, inheritable} pairs of 32-bit words (the low and the high half)
_VFS_CAP = struct.Struct("<IIIII")
_VFS_CAP_REVISIONS = (0x01000000, 0x02000000, 0x03000000)
_VFS_CAP_FLAGS_EFFECTIVE = 0x000001


def parse_vfs_caps(value: bytes) -> tuple[int, int, bool] | None:
    """(permitted mask, inheritable mask, effective bit) of a `security.capability` value,
    None when it is not one."""
    if len(value) < 12:
        return None
    magic = struct.unpack_from("<I", value)[0]
    if magic & 0xFF000000 not in _VFS_CAP_REVISIONS:
        return None
    if magic & 0xFF000000 == 0x01000000 or len(value) < _VFS_CAP.size:
        _m, perm, inh = struct.unpack_from("<III", value)
        return perm, inh, bool(magic & _VFS_CAP_FLAGS_EFFECTIVE)
    _m, perm_lo, inh_lo, perm_hi, inh_hi = _VFS_CAP.unpack_from(value)
    return (perm_lo | perm_hi << 32, inh_lo | inh_hi << 32,
            bool(magic & _VFS_CAP_FLAGS_EFFECTIVE))


def _listen_ports(p: Process | None) -> frozenset[int] | None:
    if p is None or not p.listening:
        return None
    return frozenset(lis.port for lis in p.listening if lis.port)


def _listener(tail: bytes) -> Listener | None:
    family, stype, proto, lport, _rport, _state, laddr, _raddr = TUPLE.unpack_from(tail)
    ftype = FAMILY_TYPE.get(family)
    if ftype == "unix":
        # an application behind a proxy serves on a unix socket: a server, without a port
        return Listener(proto="unix")
    if ftype not in ("ipv4", "ipv6") or not lport:
        return None
    if ftype == "ipv6":
        ip = socket.inet_ntop(socket.AF_INET6, laddr)
    else:
        ip = socket.inet_ntop(socket.AF_INET, laddr[:4])
    return Listener(proto="tcp" if stype == SOCK_STREAM else "udp", ip=ip, port=lport)


def _signed_regs(regs: tuple[int, ...]) -> tuple[int, ...]:
    """The registers as the event model holds them: signed 64-bit (two's complement)."""
    if max(regs) < 0x8000000000000000:
        return regs
    return tuple(v - 0x10000000000000000 if v >= 0x8000000000000000 else v for v in regs)


def _exec_at(fdpath: str) -> dict[str, Any]:
    """dirfd, flags and pathname of an exec through an fd, from the kernel's name for it:
    `/dev/fd/3` (fexecve: AT_EMPTY_PATH) or `/dev/fd/3/true` (relative to dirfd 3)."""
    rest = fdpath.removeprefix("/dev/fd/")
    num, _, path = rest.partition("/")
    out: dict[str, Any] = {"pathname": path, "flags": 0 if path else AT_EMPTY_PATH}
    if num.isdigit():
        out["dirfd"] = int(num)
    return out


def _clip(room: int, lens: tuple[int, ...]) -> tuple[int, ...]:
    out = []
    for n in lens:
        n = min(n, room)
        out.append(n)
        room -= n
    return tuple(out)


def _segments(buf: memoryview | bytes, off: int, lens: tuple[int, ...]) -> list[bytes]:
    out = []
    for n in lens:
        out.append(bytes(buf[off:off + n]))
        off += n
    return out


def _proc_name_tgid(tid: int) -> tuple[str | None, int]:
    """A live task's comm and thread group id from /proc/<tid>/status ((None, 0): gone)."""
    name: str | None = None
    tgid = 0
    try:
        with open(f"/proc/{tid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"Name:"):
                    # the kernel escapes newlines and backslashes in this line
                    name = _text(line[5:].removeprefix(b"\t").removesuffix(b"\n"))
                elif line.startswith(b"Tgid:"):
                    tgid = int(line[5:])
                    break
    except (OSError, ValueError):
        return None, 0
    return (name, tgid) if name is not None and tgid else (None, 0)


def flood_event(ts: int, proc: Process, nr: int, folded: int, offered: int, window_ns: int,
                priority: bool, sample: str | None, hostname: str | None) -> Event:
    """The `flood` event of one aggregate of flood control (docs/events.md): `proc` sent
    `offered` records of syscall `nr` in `window_ns`, of which `folded` were not sent."""
    sdef = sc.BY_NR.get(nr)
    args: dict[str, Any] = {
        "syscall": sdef.name if sdef is not None else str(nr), "count": folded,
        "offered": offered, "interval_ms": window_ns // 1_000_000,
        "lane": "priority" if priority else "bulk"}
    if sample:
        args["sample"] = sample
    return Event(type="flood", ts=ts, res=0, proc=proc, hostname=hostname, args=args)
