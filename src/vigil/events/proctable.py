"""The process table: what the agent knows about every live process, behind the `proc.*` fields.

It is seeded from `/proc` at start and then kept by the sensor's fork, exec and exit
events. Each entry is an immutable `Process` snapshot: an exec or a credential change
makes a new object instead of changing the old one, so an event already queued keeps the
process as it was when the event happened. `Process.parent` links to the parent's entry
as it was when the child was created or exec'd, which gives `proc.aname[N]`.

The table also keeps, per process, the file descriptors the sensor saw being created
(open, socket, accept, dup, pipe ...) with their inodes. It is a cache of names, not the
truth: every event that acts on an fd carries the kernel's own description of it (kind,
inode, socket ends), and a name from the table is used only when its inode matches. At
exec the kernel reports which fds survived (close-on-exec ones are gone), what fds 0-2
really are, and which sockets the new image listens on; the table follows.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from vigil.events.model import FdInfo, Listener, Process
from vigil.events.pipes import PipeHolders

#: the kernel's "no login uid" value, reported as -1 as Falco does
AUDIT_UID_UNSET = 4294967295
#: container ids in cgroup path components: docker, containerd (CRI), podman, CRI-O
_CONTAINER_RE = re.compile(
    r"(?:^|[/-])(?:docker-|cri-containerd-|crio-|crio-conmon-|libpod-|libpod-conmon-)?"
    r"([0-9a-f]{64})(?:\.scope)?$")
_MAX_THREAD_VIEWS = 8192
#: fds the table keeps per process; higher numbers are counted, not kept
MAX_TRACKED_FD = 65534
#: fds whose survival of an exec the kernel reports (its bitmap covers 0..63)
EXEC_FD_VIEW = 64


def container_id_from_cgroup(path: str) -> str:
    """Falco's short (12 character) container id from a cgroup path, `host` if none."""
    for comp in reversed(path.rstrip("/").split("/")):
        m = _CONTAINER_RE.search(comp)
        if m:
            return m.group(1)[:12]
    return "host"


def cgroup2_mount(proc_root: Path = Path("/proc")) -> Path | None:
    """Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup` or `.../unified`)."""
    try:
        text = (proc_root / "mounts").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[2] == "cgroup2":
            return Path(parts[1])
    return None


def encode_tty(major: int, minor: int) -> int:
    """The tty device number as `/proc/<pid>/stat` prints it (Falco's proc.tty)."""
    return (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)


class NameDb:
    """uid -> user name and gid -> group name from /etc/passwd and /etc/group, cached.

    The files are re-read when they change (checked on a lookup miss only), so a user
    created while the agent runs is found without a stat per event.
    """

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._mtime = -1.0
        self._names: dict[int, str] = {}

    def _reload(self) -> None:
        try:
            st = self._path.stat()
        except OSError:
            return
        if st.st_mtime == self._mtime:
            return
        names: dict[int, str] = {}
        try:
            text = self._path.read_text(errors="replace")
        except OSError:
            return
        for line in text.splitlines():
            parts = line.split(":")
            if len(parts) >= 3 and parts[2].isdigit():
                names.setdefault(int(parts[2]), parts[0])
        self._names = names
        self._mtime = st.st_mtime

    def name(self, ident: int | None) -> str | None:
        """The name of an id, or None when unknown."""
        if ident is None or ident < 0:
            return None
        n = self._names.get(ident)
        if n is None:
            self._reload()
            n = self._names.get(ident)
        return n


@dataclass
class CgroupResolver:
    """cgroup id -> container id, from `/proc/<pid>/cgroup` the first time an id is seen.

    The kernel's cgroup id is the cgroup v2 one. On a hybrid (v1 + v2) host a container
    may differ from the host only in its v1 paths, so an answer is cached by cgroup id
    only when the v2 path alone gives it (and "host" only on a v2-only host).
    """

    proc_root: Path
    #: where the cgroup v2 hierarchy is mounted (None: not mounted, or not looked up)
    cgroup2_root: Path | None = None
    _cache: dict[int, str] = field(default_factory=dict)
    _walked: dict[int, str] = field(default_factory=dict)

    def container_id(self, cgroup_id: int | None, pid: int) -> str:
        """The container id of a process in that cgroup (`host` when not in a container)."""
        if cgroup_id is not None:
            cid = self._cache.get(cgroup_id)
            if cid is not None:
                return cid
        found = self._from_proc(pid)
        if found is None:
            # the process is already gone: find its cgroup by id in the v2 hierarchy
            found = self._from_cgroupfs(cgroup_id)
            if found is None:
                return "host"
        cid, v2_says_so = found
        if cgroup_id is not None and v2_says_so:
            if len(self._cache) > 65536:
                self._cache.clear()
            self._cache[cgroup_id] = cid
        return cid

    def _from_proc(self, pid: int) -> tuple[str, bool] | None:
        try:
            text = (self.proc_root / str(pid) / "cgroup").read_text()
        except OSError:
            return None
        cid, v2, v1_lines = "host", None, 0
        for line in text.splitlines():
            hier, _, path = line.partition(":")
            path = path.partition(":")[2]
            found = container_id_from_cgroup(path)
            if hier == "0":
                v2 = found
            else:
                v1_lines += 1
            if found != "host" and cid == "host":
                cid = found
        # "host" from v2 is only trusted where there is no v1 hierarchy to say otherwise
        return cid, v2 == cid and (cid != "host" or v1_lines == 0)

    def _from_cgroupfs(self, cgroup_id: int | None) -> tuple[str, bool] | None:
        """The container id of a v2 cgroup found by its id in the cgroup tree.

        Cgroup ids are not reused, so the answer (found or not) is remembered: the walk is
        done once per cgroup, not once per short-lived process.
        """
        if cgroup_id is None or self.cgroup2_root is None:
            return None
        hit = self._walked.get(cgroup_id)
        if hit is None:
            if len(self._walked) > 65536:
                self._walked.clear()
            hit = self._walked[cgroup_id] = self._walk(cgroup_id)
        return hit, False

    def _walk(self, cgroup_id: int) -> str:
        root = str(self.cgroup2_root)
        stack, seen = [root], 0
        while stack and seen < 20000:
            top = stack.pop()
            try:
                entries = list(os.scandir(top))
            except OSError:
                continue
            for entry in entries:
                if not entry.is_dir(follow_symlinks=False):
                    continue
                seen += 1
                if entry.inode() == cgroup_id:
                    return container_id_from_cgroup(entry.path[len(root):])
                stack.append(entry.path)
        return "host"


@dataclass(slots=True)
class ExecInfo:
    """What a successful exec tells about the new image (decoded from the kernel record).

    Made once per exec on the hot path and read once: slots, not frozen (a frozen
    dataclass pays an `object.__setattr__` per field)."""

    exepath: str | None
    argv: list[str]
    args_truncated: bool
    cwd: str | None
    tty: int | None
    sid: int | None
    pgid: int | None
    exe_from_memfd: bool
    exe_ino: int | None = None
    #: fds 0, 1, 2 of the new image (None: not reported)
    stdio: list[FdInfo] | None = None
    #: sockets the new image listens on (None: not reported, the old list is kept)
    listening: list[Listener] | None = None
    #: bit n set: fd n (0..63) is open after the exec (None: not reported)
    open_fds: int | None = None


class ProcessTable:
    """Live processes by pid (thread-group id), as `Process` snapshots with parent links."""

    def __init__(self, proc_root: str | Path = "/proc", etc_root: str | Path = "/etc",
                 max_processes: int = 65536, pipe_grace_ns: int = 5_000_000_000) -> None:
        self._proc_root = Path(proc_root)
        self._procs: dict[int, Process] = {}
        self._threads: dict[int, Process] = {}
        self._fds: dict[int, dict[int, FdInfo]] = {}
        self._users = NameDb(Path(etc_root) / "passwd")
        self._groups = NameDb(Path(etc_root) / "group")
        self._cgroups = CgroupResolver(self._proc_root, cgroup2_mount(self._proc_root))
        self._max = max_processes
        #: pipe ends held by processes, from their stdio at exec
        self.pipes = PipeHolders(pipe_grace_ns)
        #: children not exec'd yet, by parent: ppid -> {pid: fork time}
        self._unexeced: dict[int, dict[int, int]] = {}
        #: the program each process exec'd while watched (pid -> path), and the reverse
        self._exec_of: dict[int, str] = {}
        self._exec_users: dict[str, set[int]] = {}
        #: fds the table could not keep or check: numbers beyond MAX_TRACKED_FD, and fds
        #: beyond the exec view (64 and up) dropped at an exec
        self.untracked_fds = 0
        self.boot_epoch_ns = time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)

    def __len__(self) -> int:
        return len(self._procs)

    def get(self, pid: int) -> Process | None:
        """The current snapshot of a process, or None when unknown."""
        return self._procs.get(pid)

    # ------------------------------------------------------------------ seeding from /proc

    def seed(self) -> int:
        """Load every process of `/proc`; returns how many were read."""
        raw: dict[int, Process] = {}
        for entry in os.scandir(self._proc_root):
            if entry.name.isdigit():
                p = self._read_proc(int(entry.name))
                if p is not None:
                    raw[p.pid] = p  # type: ignore[index]
        # parents first, so each child links to its parent's final object
        done: dict[int, Process] = {}

        def link(pid: int, depth: int = 0) -> Process:
            if pid in done:
                return done[pid]
            p = raw[pid]
            ppid = p.ppid or 0
            parent = link(ppid, depth + 1) if ppid in raw and ppid != pid and depth < 256 else None
            p = msgspec.structs.replace(p, parent=parent)
            done[pid] = p
            return p

        for pid in raw:
            link(pid)
        self._procs.update(done)
        return len(done)

    def _read_proc(self, pid: int) -> Process | None:
        base = self._proc_root / str(pid)
        try:
            stat = (base / "stat").read_text()
            status = (base / "status").read_text()
        except OSError:
            return None
        # comm is in parentheses and may itself contain ") "
        lpar, rpar = stat.find("("), stat.rfind(")")
        name = stat[lpar + 1:rpar]
        fields = stat[rpar + 2:].split()
        ppid, pgid, sid, tty = int(fields[1]), int(fields[2]), int(fields[3]), int(fields[4])
        start_ticks = int(fields[19])
        ids: dict[str, list[int]] = {}
        for line in status.splitlines():
            key, _, val = line.partition(":")
            if key in ("Uid", "Gid"):
                ids[key] = [int(x) for x in val.split()]
        uid, euid = (ids.get("Uid") or [None, None])[:2]
        gid, egid = (ids.get("Gid") or [None, None])[:2]
        argv = _read_cmdline(base / "cmdline")
        exepath = _readlink(base / "exe")
        loginuid = _read_int(base / "loginuid")
        hz = os.sysconf("SC_CLK_TCK")
        exe_from_memfd = bool(exepath and exepath.startswith("/memfd:"))
        if exe_from_memfd and exepath:
            exepath = exepath[1:].removesuffix(" (deleted)")
        return Process(
            pid=pid, tid=pid, ppid=ppid, vpid=pid, sid=sid, pgid=pgid, name=name,
            exe=argv[0] if argv else None, exepath=exepath, args=argv[1:],
            cwd=_readlink(base / "cwd"), tty=tty, uid=uid, gid=gid, euid=euid, egid=egid,
            loginuid=_loginuid(loginuid), user=self._users.name(uid),
            group=self._groups.name(gid), loginname=self._users.name(_loginuid(loginuid)),
            start_ts=self.boot_epoch_ns + start_ticks * 1_000_000_000 // hz,
            exe_from_memfd=exe_from_memfd,
            container_id=self._cgroups.container_id(None, pid))

    # ------------------------------------------------------------------ per-event views

    def view(self, tgid: int, tid: int, ppid: int, uid: int, gid: int, euid: int,
             loginuid: int, comm: str, cgroup_id: int) -> Process:
        """The process an event came from, with the thread and credentials of that event.

        `loginuid` is -1 when unset. This is the hot path: when nothing changed since the
        last event of the process, the stored snapshot is returned as is.
        """
        p = self._procs.get(tgid)
        if (p is not None and p.tid == tid and p.name == comm and p.uid == uid
                and p.euid == euid and p.gid == gid and p.ppid == ppid
                and p.loginuid == loginuid and p.cgroup_id == cgroup_id):
            return p
        return self._slow_view(p, tgid, tid, ppid, uid, gid, euid, loginuid, comm, cgroup_id)

    def exec_view(self, tgid: int, tid: int, ppid: int, uid: int, gid: int, euid: int,
                  loginuid: int, comm: str, cgroup_id: int) -> Process:
        """`view` for an exec record: the comm is the new image's, which `on_exec` sets, so
        a snapshot that differs only by it is returned as is (one copy instead of two)."""
        p = self._procs.get(tgid)
        if (p is not None and p.tid == tid and p.uid == uid and p.euid == euid
                and p.gid == gid and p.ppid == ppid and p.loginuid == loginuid
                and p.cgroup_id == cgroup_id):
            return p
        return self._slow_view(p, tgid, tid, ppid, uid, gid, euid, loginuid, comm, cgroup_id)

    def _slow_view(self, p: Process | None, tgid: int, tid: int, ppid: int, uid: int,
                   gid: int, euid: int, loginuid: int, comm: str, cgroup_id: int) -> Process:
        if p is None:
            p = self._read_proc(tgid) or Process(pid=tgid, tid=tgid, vpid=tgid)
            p = msgspec.structs.replace(p, parent=self._procs.get(ppid))
            self._insert(tgid, p)
        if tid != tgid:
            t = self._threads.get(tid)
            if (t is not None and t.pid == tgid and t.name == comm and t.uid == uid
                    and t.euid == euid and t.gid == gid and t.ppid == ppid
                    and t.loginuid == loginuid and t.cgroup_id == cgroup_id):
                return t
        parent = p.parent if p.ppid == ppid else self._procs.get(ppid)
        new = msgspec.structs.replace(
            p, tid=tid, ppid=ppid, uid=uid, gid=gid, euid=euid, loginuid=loginuid, name=comm,
            cgroup_id=cgroup_id, parent=parent,
            user=p.user if p.uid == uid else self._users.name(uid),
            group=p.group if p.gid == gid else self._groups.name(gid),
            loginname=p.loginname if p.loginuid == loginuid else self._users.name(loginuid),
            container_id=(p.container_id if p.cgroup_id == cgroup_id and p.container_id
                          else self._cgroups.container_id(cgroup_id, tgid)))
        if tid == tgid:
            self._procs[tgid] = new
        else:
            if len(self._threads) > _MAX_THREAD_VIEWS:
                self._threads.clear()
            self._threads[tid] = new
        return new

    # ------------------------------------------------------------------ lifecycle

    def on_fork(self, parent_pid: int, child_pid: int, ts: int) -> Process:
        """A new process: a copy of its parent with its own pid and start time."""
        parent = self._procs.get(parent_pid)
        if parent is None:
            child = Process(pid=child_pid, tid=child_pid, vpid=child_pid, ppid=parent_pid,
                            start_ts=ts)
        else:
            child = msgspec.structs.replace(parent, pid=child_pid, tid=child_pid,
                                            vpid=child_pid, ppid=parent_pid, start_ts=ts,
                                            parent=parent)
        self._insert(child_pid, child)
        kids = self._unexeced.setdefault(parent_pid, {})
        if len(kids) > 4096:
            kids.clear()
        kids[child_pid] = ts
        fds = self._fds.get(parent_pid)
        if fds:
            self._fds[child_pid] = dict(fds)
        return child

    def on_exec(self, current: Process, info: ExecInfo, ts: int = 0,
                comm: str | None = None) -> Process:
        """The process `current` now runs a new image (named `comm`); returns (and stores)
        its new snapshot."""
        pid = current.pid or 0
        argv = info.argv
        new = msgspec.structs.replace(
            current, name=comm or current.name, exe=argv[0] if argv else None,
            exepath=info.exepath, args=argv[1:],
            args_truncated=info.args_truncated, cwd=info.cwd or current.cwd,
            tty=current.tty if info.tty is None else info.tty,
            sid=current.sid if info.sid is None else info.sid,
            pgid=current.pgid if info.pgid is None else info.pgid,
            exe_from_memfd=info.exe_from_memfd, exe_ino=info.exe_ino or None,
            stdio=info.stdio if info.stdio is not None else current.stdio,
            listening=info.listening if info.listening is not None else current.listening,
            parent=self._procs.get(current.ppid or 0))
        self._insert(pid, new)
        self._exec_done(pid, current.ppid)
        self._forget_exec(pid)
        if info.exepath:
            self._exec_of[pid] = info.exepath
            self._exec_users.setdefault(info.exepath, set()).add(pid)
        if info.open_fds is not None:
            self._close_on_exec(pid, info.open_fds)
        self.pipes.release(pid, ts)
        for fd in info.stdio or ():
            if fd.type == "pipe" and fd.ino and fd.end:
                self.pipes.hold(new, fd.ino, fd.end, ts)
        return new

    def _exec_done(self, pid: int, ppid: int | None) -> None:
        kids = self._unexeced.get(ppid or 0)
        if kids is not None:
            kids.pop(pid, None)
            if not kids:
                del self._unexeced[ppid or 0]

    def forked_sibling_pending(self, proc: Process, since: int) -> bool:
        """A sibling of `proc` (same parent) forked at `since` or later has not exec'd yet:
        the other end of a pipeline it is in may still be about to exec."""
        kids = self._unexeced.get(proc.ppid or 0)
        if not kids:
            return False
        return any(pid != proc.pid and ts >= since for pid, ts in kids.items())

    def _close_on_exec(self, pid: int, open_fds: int) -> None:
        """Forget the fds an exec closed; fds beyond the kernel's view cannot be checked."""
        fds = self._fds.get(pid)
        if not fds:
            return
        kept = {n: f for n, f in fds.items() if n < EXEC_FD_VIEW and open_fds >> n & 1}
        self.untracked_fds += sum(1 for n in fds if n >= EXEC_FD_VIEW)
        if kept:
            self._fds[pid] = kept
        else:
            del self._fds[pid]

    def on_exit(self, pid: int, ts: int = 0) -> Process | None:
        """The process ended: forget it (and its fds); returns its last snapshot."""
        self._fds.pop(pid, None)
        self.pipes.release(pid, ts)
        self._forget_exec(pid)
        gone = self._procs.pop(pid, None)
        if gone is not None:
            self._exec_done(pid, gone.ppid)
        self._unexeced.pop(pid, None)
        return gone

    def set_stdio(self, pid: int, fd: int, info: FdInfo | None) -> Process | None:
        """fd 0, 1 or 2 of the process changed (dup onto it, close): a new snapshot."""
        p = self._procs.get(pid)
        if p is None or not 0 <= fd <= 2:
            return p
        stdio = list(p.stdio) if p.stdio else [FdInfo(num=0), FdInfo(num=1), FdInfo(num=2)]
        stdio[fd] = info if info is not None else FdInfo(num=fd)
        new = msgspec.structs.replace(p, stdio=stdio)
        self._procs[pid] = new
        return new

    def add_listener(self, pid: int, listener: Listener) -> Process | None:
        """The process now listens on a socket (listen, bind of a datagram socket)."""
        p = self._procs.get(pid)
        if p is None or listener in p.listening:
            return p
        new = msgspec.structs.replace(p, listening=[*p.listening, listener])
        self._procs[pid] = new
        return new

    def set_cwd(self, pid: int, cwd: str) -> None:
        """chdir/fchdir succeeded."""
        p = self._procs.get(pid)
        if p is not None and p.cwd != cwd:
            self._procs[pid] = msgspec.structs.replace(p, cwd=cwd)

    def _insert(self, pid: int, p: Process) -> None:
        if len(self._procs) >= self._max and pid not in self._procs:
            self._purge_dead()
        self._procs[pid] = p

    def _purge_dead(self) -> None:
        """Drop entries whose process is gone (their exit event was lost)."""
        for pid in [pid for pid in self._procs if not (self._proc_root / str(pid)).exists()]:
            self._procs.pop(pid, None)
            self._fds.pop(pid, None)
            self._forget_exec(pid)

    def _forget_exec(self, pid: int) -> None:
        path = self._exec_of.pop(pid, None)
        if path is not None:
            users = self._exec_users.get(path)
            if users is not None:
                users.discard(pid)
                if not users:
                    del self._exec_users[path]

    def exec_users(self, path: str) -> list[int]:
        """The running processes whose exec (seen by the sensor) started the program at
        `path`, in pid order: whom deleting that file leaves running a deleted program."""
        return sorted(self._exec_users.get(path, ()))

    # ------------------------------------------------------------------ file descriptors

    def fd(self, pid: int, fd: int) -> FdInfo | None:
        """What the table knows of one fd of a process."""
        fds = self._fds.get(pid)
        return None if fds is None else fds.get(fd)

    def set_fd(self, pid: int, fd: int, info: FdInfo) -> None:
        """Record a new fd (open, socket, accept, dup ...)."""
        if not 0 <= fd <= MAX_TRACKED_FD:
            self.untracked_fds += 1
            return
        fds = self._fds.get(pid)
        if fds is None:
            fds = self._fds[pid] = {}
        elif len(fds) > 4096:
            fds.clear()
        fds[fd] = info

    def close_fd(self, pid: int, fd: int) -> FdInfo | None:
        """The process closed an fd; returns what the table knew of it."""
        fds = self._fds.get(pid)
        return None if fds is None else fds.pop(fd, None)

    def close_fds(self, pid: int, first: int, last: int) -> int:
        """close_range: forget the fds first..last; returns how many the table knew."""
        fds = self._fds.get(pid)
        if not fds:
            return 0
        gone = [n for n in fds if first <= n <= last]
        for n in gone:
            del fds[n]
        return len(gone)

    def named(self, pid: int, fd: int, ino: int | None) -> FdInfo | None:
        """The table's entry for an fd if it is still the same file (same inode)."""
        info = self.fd(pid, fd)
        if info is None or not ino or info.ino != ino:
            return None
        return info


def _loginuid(v: int | None) -> int:
    return -1 if v is None or v == AUDIT_UID_UNSET or v < 0 else v


def _readlink(p: Path) -> str | None:
    try:
        return os.readlink(p)
    except OSError:
        return None


def _read_int(p: Path) -> int | None:
    try:
        return int(p.read_text().strip())
    except (OSError, ValueError):
        return None


def _read_cmdline(p: Path) -> list[str]:
    try:
        data = p.read_bytes()
    except OSError:
        return []
    return [a.decode("utf-8", "backslashreplace") for a in data.rstrip(b"\0").split(b"\0")] \
        if data else []
