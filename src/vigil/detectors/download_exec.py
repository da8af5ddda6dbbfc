"""`download_exec`: a file fetched from the network, then executed (a dropper).

A fetcher that made a network connection writes a file (`curl -o x URL`, `wget URL`,
`curl URL > x`: the shell opens the file in the child that becomes curl); within
`window_seconds` that file is executed, as a program (by path or by inode, so a `mv` in
between keeps it) or as the script an interpreter runs (`sh ./x.sh`). Reported as
`download_exec.executed`, Critical when the file lies in a world-writable or hidden
place (`/tmp`, `/var/tmp`, `/dev/shm`, a dot-directory), Error otherwise. A file unpacked
or built by another program (`tar`, `cc`) is not the download itself and is not reported.

A fetcher is a download tool (`curl`, `wget`, `aria2c`, `scp`, `nc` ... by binary), an
interpreter running inline code (`python3 -c "import urllib..."`, `perl -e`, `php -r`),
or a program run from a world-writable place (a dropped first stage): long-lived
programs that talk to a database and write and run their own scripts (a test runner, a
build) are not judged as downloaders.

Static allowlist (`download_exec_allowlist.py`): `package_managers` — the writer is (or
runs under) a package manager or a language's package tool (`apt`, `pip`, `npm`,
`cargo`, `go` ...): installing what they fetched is their job.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import ClassVar

from vigil.detections import Detection
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.download_exec_allowlist import FETCHING_INSTALLERS
from vigil.detectors.event_args import int_arg
from vigil.detectors.expiring_map import ExpiringMap
from vigil.detectors.params import minimum
from vigil.detectors.pipe_to_interpreter import is_downloader
from vigil.detectors.process_identity import (AgentIdentity, INTERPRETERS, UNTRUSTED_DIRS,
                                              binary_name, lineage_binary)
from vigil.events.model import Event, Process
from vigil.events.toolchain import is_toolchain_binary
from vigil.priority import Priority

NAME = "download_exec"
TAGS = ("attack.command_and_control", "T1105", "attack.execution", "T1204.002")
_EXEC = frozenset({"execve", "execveat"})
_OPEN = frozenset({"open", "openat", "openat2", "creat"})
_CONNECT = frozenset({"connect"})
_O_ACCMODE, _O_WRONLY, _O_RDWR = 3, 1, 2
_EINPROGRESS = -115
_DNS_PORTS = frozenset({53})


@dataclass(frozen=True)
class DownloadExecParams(DetectorParams):
    """`[detectors.download_exec]`."""

    DETECTOR: ClassVar[str] = NAME
    #: how long after the download an execution of the file counts
    window_seconds: float = field(default=600.0, metadata=minimum(0))


@dataclass(frozen=True)
class _Write:
    pid: int
    #: the writing process (judged only when its file is executed: most never are)
    proc: Process
    path: str
    ts: int


def _is_pm(proc: Process) -> str | None:
    hit = lineage_binary(proc, FETCHING_INSTALLERS)
    if hit:
        return hit
    if binary_name(proc).startswith("python") and "-m" in proc.args:
        i = proc.args.index("-m")
        if i + 1 < len(proc.args) and proc.args[i + 1] in FETCHING_INSTALLERS:
            return proc.args[i + 1]
    return None


def is_fetcher(proc: Process) -> bool:
    """A program made to download, a one-liner, or a dropped program (see module doc)."""
    binary = binary_name(proc)
    if is_downloader(binary, proc.args) or (proc.exepath or "").startswith(UNTRUSTED_DIRS):
        return True
    return binary in INTERPRETERS and any(a in ("-c", "-e", "-E", "-r") for a in proc.args)


def _untrusted(path: str) -> bool:
    return path.startswith(UNTRUSTED_DIRS) or "/." in posixpath.dirname(path)


class DownloadExecDetector(BuiltinDetector):
    """Files written by a process that fetched from the network, then executed."""

    name = NAME
    Params = DownloadExecParams
    event_types = _EXEC | _OPEN | _CONNECT
    #: read-only opens it needs for the kernel filter (vigil.rules.kernel_filters): none,
    #: it follows files opened for writing
    kernel_read_paths: tuple[str, ...] = ()
    #: the compiler toolchain's writes it needs: none, what a compiler writes is built,
    #: not downloaded (ignored below as well)
    kernel_write_paths: tuple[str, ...] = ()

    params: DownloadExecParams

    def __init__(self, params: DownloadExecParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        window_ns = int(self.params.window_seconds * 1e9)
        #: pid -> remote end of its last outbound connection
        self._connected: ExpiringMap[int, str] = ExpiringMap(window_ns)
        #: files written: by path and by inode
        self._by_path: ExpiringMap[str, _Write] = ExpiringMap(window_ns)
        self._by_ino: ExpiringMap[int, _Write] = ExpiringMap(window_ns)
        #: pid of a writer -> the program it runs now (`curl URL > x`: the shell's child
        #: opens x, then becomes curl)
        self._image: ExpiringMap[int, Process] = ExpiringMap(window_ns)

    def on_event(self, event: Event) -> list[Detection]:
        """Remember connections and written files; report the execution of a download."""
        if event.res is not None and event.res < 0 and not (
                event.type == "connect" and event.res == _EINPROGRESS):
            return []
        if event.type in _CONNECT:
            fd = event.fd
            if fd is not None and fd.type in ("ipv4", "ipv6") and event.proc.pid is not None \
                    and fd.rport not in _DNS_PORTS:
                self._connected.put(event.proc.pid, event.ts,
                                    f"{fd.rip or '?'}:{fd.rport if fd.rport is not None else '?'}")
            return []
        if event.type in _OPEN:
            self._on_open(event)
            return []
        if event.type in _EXEC:
            return self._on_exec(event)
        return []

    def _on_open(self, event: Event) -> None:
        fd, pid = event.fd, event.proc.pid
        flags = int_arg(event, "flags")
        if event.type == "creat":
            flags = _O_WRONLY
        if fd is None or pid is None or fd.type not in (None, "file") or not fd.name \
                or flags is None or (flags & _O_ACCMODE) not in (_O_WRONLY, _O_RDWR) \
                or is_toolchain_binary(event.proc.exepath):
            return
        write = _Write(pid, event.proc, fd.name, event.ts)
        if self._image.get(pid, event.ts) is None:
            self._image.put(pid, event.ts, event.proc)
        self._by_path.put(fd.name, event.ts, write)
        if fd.ino:
            self._by_ino.put(fd.ino, event.ts, write)

    def _written(self, event: Event) -> tuple[_Write, str] | None:
        """The download this exec runs: (write, path executed)."""
        proc = event.proc
        candidates: list[tuple[_Write | None, str]] = []
        if proc.exepath:
            candidates.append((self._by_path.get(proc.exepath, event.ts), proc.exepath))
        if proc.exe_ino:
            candidates.append((self._by_ino.get(proc.exe_ino, event.ts), proc.exepath or "?"))
        if binary_name(proc) in INTERPRETERS:
            script = next((a for a in proc.args if not a.startswith("-")), None)
            if script and "-c" not in proc.args:
                path = posixpath.normpath(posixpath.join(proc.cwd or "/", script))
                candidates.append((self._by_path.get(path, event.ts), path))
        for write, path in candidates:
            if write is not None:
                return write, path
        return None

    def _on_exec(self, event: Event) -> list[Detection]:
        pid = event.proc.pid
        if pid is not None and self._image.get(pid, event.ts) is not None:
            self._image.put(pid, event.ts, event.proc)
        if self.own.owns(event.proc):
            return []
        found = self._written(event)
        if found is None:
            return []
        write, path = found
        remote = self._connected.get(write.pid, event.ts)
        image = self._image.get(write.pid, event.ts) or write.proc
        if remote is None or not (is_fetcher(image) or is_fetcher(write.proc)):
            return []
        self._by_path.pop(write.path)
        writer = binary_name(image)
        manager = _is_pm(image) or _is_pm(write.proc)
        priority = Priority.CRITICAL if _untrusted(path) else Priority.ERROR
        output = (f"{path} was downloaded by {writer} (pid {write.pid}, from {remote}) "
                  f"and executed {((event.ts - write.ts) / 1e9):.1f} s later by "
                  f"{describe_process(event)}: {event.proc.cmdline() or '?'}")
        suppression = None if manager is None else static_suppression(
            NAME, "package_managers", manager,
            "package managers install and run what they fetch")
        return [build_detection(NAME, "executed", priority, output, TAGS, event, ip=remote
                                .rsplit(":", 1)[0], path=path,
                                data={"writer": writer, "writer_pid": write.pid,
                                      "remote": remote, "path": path},
                                suppressed=suppression)]
