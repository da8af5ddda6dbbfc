"""Events built in code for the detector tests: processes with ancestry, and syscalls.

Timestamps are nanoseconds from `T0`; `sec(n)` converts seconds. Processes are real
`Process` structs with parent chains, as the eBPF sensor's process table produces them.
"""

from __future__ import annotations

from typing import Any

from vigil.detections import Detection
from vigil.events.model import Event, FdInfo, Process

T0 = 1_764_158_400 * 10**9  # 2025-11-26 12:00 UTC
O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC = 0, 0o1, 0o2, 0o100, 0o1000


def sec(n: float) -> int:
    """`n` seconds after T0, in ns."""
    return T0 + int(n * 1e9)


def proc(exepath: str, *args: str, pid: int = 1000, uid: int = 0, user: str | None = None,
         parent: Process | None = None, name: str | None = None, **kw: Any) -> Process:
    """A process running `exepath` with `args` (argv after argv[0])."""
    comm = name or exepath.rsplit("/", 1)[-1][:15]
    return Process(pid=pid, tid=pid, ppid=parent.pid if parent else None, name=comm,
                   exe=exepath, exepath=exepath, args=list(args), uid=uid,
                   user=user or ("root" if uid == 0 else f"user{uid}"), parent=parent, **kw)


def init() -> Process:
    """pid 1."""
    return proc("/usr/lib/systemd/systemd", pid=1, name="systemd")


def login_shell(pid: int = 500, uid: int = 1000, user: str = "alice") -> Process:
    """An interactive bash under sshd."""
    sshd = proc("/usr/sbin/sshd", pid=pid - 1, parent=init(), name="sshd")
    return proc("/usr/bin/bash", pid=pid, uid=uid, user=user, parent=sshd, name="bash")


def sh_c(command: str, *, parent: Process, pid: int, uid: int | None = None,
         exepath: str = "/usr/bin/dash") -> Process:
    """`/bin/sh -c <command>` (dash, as on Debian)."""
    return proc(exepath, "-c", command, pid=pid, uid=parent.uid if uid is None else uid,
                user=parent.user if uid is None else None, parent=parent, name="sh")


def execve(p: Process, ts: int = T0, fd_types: dict[int, str] | None = None) -> Event:
    """The exec of `p` (exit event, success)."""
    fd = FdInfo(types=fd_types) if fd_types else None
    return Event(type="execve", ts=ts, res=0, proc=p, fd=fd)


def open_file(p: Process, path: str, flags: int = O_RDONLY, ts: int = T0, res: int = 3) -> Event:
    """openat of `path`."""
    return Event(type="openat", ts=ts, res=res, proc=p, args={"flags": flags, "name": path},
                 fd=FdInfo(num=res, type="file", name=path))


def connect(p: Process, ip: str, port: int, ts: int = T0, proto: str = "tcp",
            res: int = 0, etype: str = "connect") -> Event:
    """A client connect to ip:port."""
    fam = "ipv6" if ":" in ip else "ipv4"
    return Event(type=etype, ts=ts, res=res, proc=p,
                 fd=FdInfo(num=4, type=fam, l4proto=proto, lip="10.0.0.5", lport=40000,
                           rip=ip, rport=port, role="client", connected=True))


def syscall(p: Process, etype: str, ts: int = T0, res: int = 0, fd: FdInfo | None = None,
            **args: Any) -> Event:
    """Any syscall with raw args."""
    return Event(type=etype, ts=ts, res=res, proc=p, args=args, fd=fd)


def dup2(p: Process, newfd: int, ip: str = "203.0.113.7", port: int = 4444,
         ts: int = T0) -> Event:
    """dup2(socket, newfd)."""
    return Event(type="dup2", ts=ts, res=newfd, proc=p, args={"newfd": newfd},
                 fd=FdInfo(num=3, type="ipv4", l4proto="tcp", rip=ip, rport=port,
                           role="client"))


def alerts(dets: list[Detection]) -> list[Detection]:
    """Detections no static allowlist covered."""
    return [d for d in dets if d.suppressed is None]


def run(detector: Any, events: list[Event]) -> list[Detection]:
    """Feed events in order; collect every detection."""
    out: list[Detection] = []
    for e in events:
        if e.type in detector.event_types:
            out.extend(detector.on_event(e))
    return out
