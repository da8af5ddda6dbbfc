"""Which processes belong to which scenario: the kernel's fork events, in order.

The runner listens to the proc connector (netlink, `CONFIG_PROC_EVENTS`, needs root) for
the whole run and records every new process as (parent tgid, child tgid). A scenario's
processes are its root (a child of the runner) and everything forked below it, whatever
it is reparented to later: so an incident about a pid of that set belongs to that
scenario, and an incident only about processes seen outside every scenario (another
user's work on a shared machine) belongs to none. Pids are reused (pid_max may be 32768);
events are processed in arrival order, so a reused pid takes the owner of its new parent.

Without the proc connector (not root, kernel without it) `ForkLog.start` returns a
reason and attribution falls back to time windows alone.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import threading
from dataclasses import dataclass, field

NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN = 1
PROC_EVENT_FORK = 0x00000001
NLMSG_DONE = 3
_NLMSG = struct.Struct("=IHHII")
_CN_MSG = struct.Struct("=IIIIHH")
_EVENT_HEAD = struct.Struct("=IIQ")
_FORK = struct.Struct("=IIII")


@dataclass(frozen=True)
class Fork:
    """A new process (thread-group leader): its parent's tgid and its own."""

    parent: int
    child: int


def parse_proc_events(data: bytes) -> list[Fork]:
    """The fork events of new processes (not threads) in one netlink datagram."""
    out: list[Fork] = []
    off = 0
    while off + _NLMSG.size <= len(data):
        length, _type, _flags, _seq, _pid = _NLMSG.unpack_from(data, off)
        if length < _NLMSG.size:
            break
        body = off + _NLMSG.size
        ev = body + _CN_MSG.size
        if ev + _EVENT_HEAD.size + _FORK.size <= off + length:
            what, _cpu, _ts = _EVENT_HEAD.unpack_from(data, ev)
            if what == PROC_EVENT_FORK:
                _ppid, ptgid, cpid, ctgid = _FORK.unpack_from(data, ev + _EVENT_HEAD.size)
                if cpid == ctgid:
                    out.append(Fork(ptgid, ctgid))
        off += (length + 3) & ~3
    return out


class ForkLog:
    """Records every fork on the host while the runner runs (a reader thread)."""

    def __init__(self) -> None:
        self.forks: list[Fork] = []
        self.lost = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> str | None:
        """Subscribe to the proc connector; returns why it cannot, or None."""
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
            try:
                sock.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
            sock.bind((0, CN_IDX_PROC))
            msg = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, 4, 0) \
                + struct.pack("=I", PROC_CN_MCAST_LISTEN)
            sock.send(_NLMSG.pack(_NLMSG.size + len(msg), NLMSG_DONE, 0, 0, os.getpid()) + msg)
            sock.settimeout(0.2)
        except OSError as exc:
            return f"process tracking off (proc connector: {exc.strerror or exc})"
        self._sock = sock
        self._thread = threading.Thread(target=self._read, name="forklog", daemon=True)
        self._thread.start()
        return None

    def _read(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65536)
            except socket.timeout:
                continue
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.lost += 1
                    continue
                return
            forks = parse_proc_events(data)
            if forks:
                with self._lock:
                    self.forks.extend(forks)

    def snapshot(self) -> list[Fork]:
        """The forks recorded so far, in order."""
        with self._lock:
            return list(self.forks)

    def stop(self) -> None:
        """Stop reading and close the socket."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._sock is not None:
            self._sock.close()


@dataclass
class Ownership:
    """The pids each scenario owned during the run, and the pids seen outside them."""

    by_scenario: dict[str, set[int]] = field(default_factory=dict)
    #: pids that existed at start or were forked outside every scenario
    outside: set[int] = field(default_factory=set)
    #: scenarios whose root's fork was seen (the others cannot be judged by pid)
    claimed: set[str] = field(default_factory=set)
    #: owner of each pid as of its latest fork (None: not a scenario's)
    current: dict[int, str | None] = field(default_factory=dict)

    def verdict(self, scenario: str, pids: set[int]) -> str:
        """"in" (a pid of the scenario), "out" (only pids seen elsewhere) or "unknown"."""
        if scenario not in self.claimed or not pids:
            return "unknown"
        if pids & self.by_scenario.get(scenario, set()):
            return "in"
        if pids & self.outside:
            return "out"
        return "unknown"


def existing_pids(proc: str = "/proc") -> set[int]:
    """The pids alive now."""
    return {int(n) for n in os.listdir(proc) if n.isdigit()}


def compute_ownership(forks: list[Fork], runner_pid: int, roots: list[tuple[str, int]],
                      initial: set[int]) -> Ownership:
    """Replay the fork log: a root is claimed by the first fork runner → its pid (roots
    sharing a reused pid in their order); every other child takes its parent's owner."""
    owner: dict[int, str | None] = {}
    own = Ownership(by_scenario={name: set() for name, _ in roots}, outside=set(initial))
    pending: dict[int, list[str]] = {}
    for name, pid in roots:
        pending.setdefault(pid, []).append(name)
    for f in forks:
        if f.parent == runner_pid and pending.get(f.child):
            name = pending[f.child].pop(0)
            owner[f.child] = name
            own.claimed.add(name)
        else:
            owner[f.child] = owner.get(f.parent)
        who = owner[f.child]
        if who is None:
            own.outside.add(f.child)
        else:
            own.by_scenario[who].add(f.child)
    own.current = owner
    return own
