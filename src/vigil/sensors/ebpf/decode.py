"""Kernel records -> `Event`s, with Falco's event names, argument names and fd fields.

A record is the fixed 128-byte header of `struct vigil_event` (vigil.bpf.c) followed by up
to four segments. Which segments a record has follows from its syscall's `SyscallDef`:
its string arguments in register order, then the copied user buffer, then the socket
tuple; an exec record has the executable path, argv and cwd. Paths from the kernel are
written leaf first (see `put_path`), one NUL-terminated component each.

The decoder also keeps the process table current (fork, exec, exit, chdir, fds), because
only it sees the records in order.
"""

from __future__ import annotations

import posixpath
import struct
from typing import Any

from vigil.events.model import Event, FdInfo, Process
from vigil.events.proctable import ExecInfo, ProcessTable, encode_tty
from vigil.sensors.ebpf import syscalls as sc
from vigil.sensors.ebpf.sockets import FAMILY_TYPE, SOCKTYPE_L4, socket_fd

HEADER = struct.Struct("<QQq6Q7IHH16s4H")
HEADER_SIZE = HEADER.size
#: where the syscall number (or EV_FORK / EV_EXIT) is in a record
NR_OFFSET = 100
_OPEN_HOW = struct.Struct("<QQQ")

F_ARGV_TRUNCATED, F_EXE_NLINK0, F_HAS_TTY = 1, 2, 4
AT_FDCWD = -100
O_DIRECTORY = 0o200000
#: open, openat, creat: decoded by `_open`
_OPEN_FAST = frozenset({2, 257, 85})


def _i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - 0x100000000 if v & 0x80000000 else v


def _u32(v: int) -> int:
    return v & 0xFFFFFFFF


def _text(b: bytes) -> str:
    return b.decode("utf-8", "backslashreplace")


def kernel_path(seg: bytes) -> str:
    """A leaf-first component list from the kernel as an absolute path."""
    parts = seg.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    if not parts:
        return "/"
    return "/" + "/".join(_text(p) for p in reversed(parts))


class RecordDecoder:
    """Turns records into events and keeps the process table in step with them."""

    def __init__(self, table: ProcessTable, hostname: str | None = None, *,
                 process_events: bool = True) -> None:
        self.table = table
        self.hostname = hostname
        #: False: fork and exit records only update the table (no rule asked for them)
        self.process_events = process_events
        self._epoch = table.boot_epoch_ns
        self._comms: dict[bytes, str] = {}
        self.errors = 0

    def decode(self, buf: memoryview | bytes, off: int, size: int) -> Event | None:
        """One record; None for a record that is not an event (malformed ones are counted)."""
        if size < HEADER_SIZE:
            self.errors += 1
            return None
        (ts, cgid, res, a0, a1, a2, a3, a4, a5, tgid, tid, ppid, uid, gid, euid, loginuid,
         nr, flags, comm_b, l0, l1, l2, l3) = HEADER.unpack_from(buf, off)
        comm = self._comms.get(comm_b)
        if comm is None:
            comm = _text(comm_b.split(b"\0", 1)[0])
            if len(self._comms) > 4096:
                self._comms.clear()
            self._comms[comm_b] = comm
        if loginuid == 0xFFFFFFFF:
            loginuid = -1
        table = self.table
        proc = table.view(tgid, tid, ppid, uid, gid, euid, loginuid, comm, cgid)
        ts += self._epoch
        if nr == sc.EV_FORK:
            child = table.on_fork(tgid, a0, ts)
            if not self.process_events:
                return None
            return Event(type="clone", ts=ts, res=child.pid, proc=proc, hostname=self.hostname,
                         args={"pid": child.pid})
        if nr == sc.EV_EXIT:
            table.on_exit(tgid)
            if not self.process_events:
                return None
            return Event(type="procexit", ts=ts, res=0, proc=proc, hostname=self.hostname,
                         args={"status": res})
        if nr in _OPEN_FAST:
            ev = self._open(nr, ts, res, a0, a1, a2, a3, proc, buf, off + HEADER_SIZE, l0)
            ev.regs = _signed_regs((a0, a1, a2, a3, a4, a5))
            return ev
        sdef = sc.BY_NR.get(nr)
        if sdef is None:
            self.errors += 1
            return None
        segs = _segments(buf, off + HEADER_SIZE, (l0, l1, l2, l3))
        if sdef.kind == sc.KIND_EXEC and res == 0:
            return self._exec(sdef, ts, proc, flags, segs, a0, a1, a2)
        regs = (a0, a1, a2, a3, a4, a5)
        ev = self._syscall(sdef, ts, res, proc, regs, segs)
        ev.regs = _signed_regs(regs)  # for auditd's a0..a3 (audit.syscall_arg)
        return ev

    def _open(self, nr: int, ts: int, res: int, a0: int, a1: int, a2: int, a3: int,
              proc: Process, buf: memoryview | bytes, start: int, plen: int) -> Event:
        """open/openat/creat: the bulk of the events, decoded without the generic loop."""
        raw = str(buf[start:start + plen - 1], "utf-8", "backslashreplace") if plen else ""
        if nr == 257:
            dirfd, flags, mode = _i32(a0), a2 & 0xFFFFFFFF, a3 & 0xFFFFFFFF
            args = {"dirfd": dirfd, "name": raw, "flags": flags, "mode": mode}
            name = "openat"
        elif nr == 2:
            dirfd, flags, mode = AT_FDCWD, a1 & 0xFFFFFFFF, a2 & 0xFFFFFFFF
            args = {"name": raw, "flags": flags, "mode": mode}
            name = "open"
        else:
            dirfd, flags, mode = AT_FDCWD, 0o1101, a1 & 0xFFFFFFFF
            args = {"name": raw, "mode": mode}
            name = "creat"
        path = raw
        if raw[:1] != "/" or "/." in raw or "//" in raw:
            path = self._abspath(proc, raw, dirfd)
            args["name"] = path
        fd = FdInfo(num=res if res >= 0 else -1,
                    type="directory" if flags & O_DIRECTORY else "file", name=path, nameraw=raw)
        if res >= 0:
            self.table.set_fd(proc.pid or 0, res, fd)
        return Event(type=name, ts=ts, res=res, args=args, proc=proc, fd=fd,
                     hostname=self.hostname)

    def _exec(self, sdef: sc.SyscallDef, ts: int, proc: Process, flags: int,
              segs: list[bytes], tty: int, sid: int, pgid: int) -> Event:
        exe_seg, argv_seg, cwd_seg = segs[0], segs[1], segs[2]
        exepath = kernel_path(exe_seg) if exe_seg else None
        leaf = exepath.rsplit("/", 1)[-1] if exepath else ""
        memfd = bool(flags & F_EXE_NLINK0) and leaf.startswith("memfd:")
        if memfd:
            exepath = leaf
        argv = [_text(a) for a in argv_seg.rstrip(b"\0").split(b"\0")] if argv_seg else []
        info = ExecInfo(
            exepath=exepath, argv=argv, args_truncated=bool(flags & F_ARGV_TRUNCATED),
            cwd=kernel_path(cwd_seg) if cwd_seg else None,
            tty=encode_tty(tty >> 32, tty & 0xFFFFFFFF) if flags & F_HAS_TTY else 0,
            sid=sid or None, pgid=pgid or None, exe_from_memfd=memfd)
        new = self.table.on_exec(proc, info)
        return Event(type=sdef.name, ts=ts, res=0, proc=new, hostname=self.hostname,
                     args={"exe": new.exe, "filename": exepath, "cwd": new.cwd})

    def _syscall(self, sdef: sc.SyscallDef, ts: int, res: int, proc: Process,
                 regs: tuple[int, ...], segs: list[bytes]) -> Event:
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
                s = _text(segs[si].rstrip(b"\0")) if si < len(segs) else ""
                si += 1
                if kind == "p":
                    raw_paths[name] = s
                    s = self._abspath(proc, s, dirfd)
                    dirfd = AT_FDCWD
                args[name] = s
            else:
                args[name] = v
        ev = Event(type=sdef.name, ts=ts, res=res, args=args, proc=proc, hostname=self.hostname)
        ubuf = b""
        if sdef.buf_arg is not None:
            ubuf = segs[si] if si < len(segs) else b""
            si += 1
        tup = segs[si] if sdef.fd_source != sc.FD_NONE and si < len(segs) else b""
        self._fill_fd(ev, sdef, proc, res, args, raw_paths, ubuf, tup)
        return ev

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

    def _fill_fd(self, ev: Event, sdef: sc.SyscallDef, proc: Process, res: int,
                 args: dict[str, Any], raw_paths: dict[str, str], ubuf: bytes,
                 tup: bytes) -> None:
        name = sdef.name
        pid = proc.pid or 0
        table = self.table
        if sdef.buf_kind == "open_how" and len(ubuf) >= 16:
            flags, mode, resolve = _OPEN_HOW.unpack_from(ubuf.ljust(24, b"\0"))
            args["flags"], args["mode"], args["resolve"] = flags, mode, resolve
        if name in ("open", "openat", "openat2", "creat"):
            path = args.get("name", "")
            flags = args.get("flags", 0o1101 if name == "creat" else 0)
            ftype = "directory" if flags & O_DIRECTORY else "file"
            fd = FdInfo(num=res if res >= 0 else -1, type=ftype, name=path,
                        nameraw=raw_paths.get("name"))
            ev.fd = fd
            if res >= 0:
                table.set_fd(pid, res, fd)
            return
        if name == "memfd_create":
            fd = FdInfo(num=res if res >= 0 else -1, type="memfd",
                        name="memfd:" + str(args.get("name", "")))
            ev.fd = fd
            if res >= 0:
                table.set_fd(pid, res, fd)
            return
        if name in ("chdir", "fchdir"):
            if res == 0:
                cwd = args.get("path") if name == "chdir" else None
                if cwd is None:
                    info = table.fd(pid, args.get("fd", -1))
                    cwd = info.name if info is not None else None
                if cwd:
                    table.set_cwd(pid, cwd)
            return
        if name == "socket":
            domain = args.get("domain", 0)
            fd = FdInfo(num=res if res >= 0 else -1, type=FAMILY_TYPE.get(domain, "socket"),
                        l4proto=SOCKTYPE_L4.get(args.get("type", 0) & 0xF))
            ev.fd = fd
            if res >= 0:
                table.set_fd(pid, res, fd)
            return
        if sdef.fd_source == sc.FD_NONE:
            # a syscall acting on an fd it was given (finit_module, fchmod, ftruncate ...):
            # the file it names, from the process' fd table
            if ev.fd is None and isinstance(args.get("fd"), int):
                ev.fd = table.fd(pid, args["fd"])
            return
        fdnum = res if sdef.fd_source == sc.FD_RES else args.get("fd", -1)
        fd = socket_fd(name, fdnum, tup, ubuf) if tup else None
        if fd is None and sdef.fd_source == sc.FD_RES and name.startswith("dup"):
            old = table.fd(pid, args.get("oldfd", args.get("fd", -1)))
            if old is not None:
                fd = FdInfo(num=res, type=old.type, name=old.name, l4proto=old.l4proto,
                            lip=old.lip, lport=old.lport, rip=old.rip, rport=old.rport,
                            role=old.role, connected=old.connected)
        if fd is None:
            return
        if res >= 0 and (sdef.returns_fd or name in ("connect", "bind", "listen")):
            table.set_fd(pid, fdnum, fd)
        if name.startswith("dup") and res >= 0:
            types = table.fd_types(pid) or {}
            fd.types = types
        ev.fd = fd

def _signed_regs(regs: tuple[int, ...]) -> tuple[int, ...]:
    """The registers as the event model holds them: signed 64-bit (two's complement)."""
    if max(regs) < 0x8000000000000000:
        return regs
    return tuple(v - 0x10000000000000000 if v >= 0x8000000000000000 else v for v in regs)


def _segments(buf: memoryview | bytes, off: int, lens: tuple[int, int, int, int]) -> list[bytes]:
    out = []
    for n in lens:
        out.append(bytes(buf[off:off + n]))
        off += n
    return out
