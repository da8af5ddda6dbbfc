"""The state directory: one writer at a time, readable by its owner only.

Everything Vigil keeps between runs (audit trail, alert outbox, baseline, log offsets,
journal cursor) lives under `state_dir`. Two agents writing it at once would send every
alert twice and interleave two hash chains in one audit trail, so a writer takes an
exclusive `flock` on `<state_dir>/vigil.lock` for as long as it runs; a second one gets
`StateDirBusy`, whose message is the one line to show the user. The kernel drops the lock
when the holder exits, however it exits (kill -9 included), so there is no stale lock to
clean up.

The state holds full command lines, user names and alert texts: directories are created
0700 and files 0600 (`private_dir`, `create_private`), and `restrict_umask()` makes
everything else the process creates (SQLite journals, offsets files) private as well.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import sys
from pathlib import Path

LOCK_NAME = "vigil.lock"
DIR_MODE = 0o700
FILE_MODE = 0o600
#: the umask a Vigil process runs with: nothing it creates is readable by others
PRIVATE_UMASK = 0o077


class StateDirBusy(RuntimeError):
    """Another process holds the state directory's lock (the message says which)."""


def restrict_umask() -> int:
    """Make files and directories this process creates private; returns the old umask."""
    return os.umask(PRIVATE_UMASK)


def private_dir(path: str | Path) -> Path:
    """Create `path` (and missing parents) as 0700; an existing directory of ours that
    others can read is narrowed to 0700. Returns the path."""
    p = Path(path)
    p.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    st = p.stat()
    if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(p, stat.S_IMODE(st.st_mode) & ~0o077)
    return p


def create_private(path: str | Path) -> Path:
    """Create `path` as an empty 0600 file if it does not exist (so that a library that
    creates it later, like SQLite, inherits the mode); narrow an existing file of ours that
    others can read. Returns the path."""
    p = Path(path)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        st = os.fstat(fd)
        if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & 0o077:
            os.fchmod(fd, stat.S_IMODE(st.st_mode) & ~0o077)
    finally:
        os.close(fd)
    return p


class StateDirLock:
    """The exclusive lock of one state directory, held until `release()` (or exit).

    `acquire` never waits: a second writer must fail at once with a clear message rather
    than hang until the first one stops.
    """

    def __init__(self, state_dir: Path, fd: int) -> None:
        self.state_dir = state_dir
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, state_dir: str | Path, purpose: str | None = None) -> "StateDirLock":
        """Lock `state_dir` (created 0700 if missing). `purpose` is recorded in the lock
        file for the message a second writer gets (default: `vigil` and this process'
        arguments).
        Raises `StateDirBusy`, or `OSError` when the directory cannot be created."""
        d = private_dir(state_dir)
        path = d / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_holder(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            raise StateDirBusy(f"state_dir {d} is in use by another Vigil ({holder}); stop "
                               "it first, or give this one its own state_dir") from None
        what = purpose or ("vigil " + " ".join(sys.argv[1:]))[:160]
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {what}\n".encode(), 0)
        return cls(d, fd)

    @property
    def held(self) -> bool:
        """True until `release()`."""
        return self._fd is not None

    def release(self) -> None:
        """Give the lock up (closing the file drops it); safe to call twice."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        os.close(fd)

    def __enter__(self) -> "StateDirLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text.splitlines()[0] if text else "pid unknown"
