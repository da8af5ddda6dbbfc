"""The eBPF program's `quiet_dirs`: working directories no wanted path can lie under.

The kernel filters compare a path against the paths the rules want, but a process often
names files relative to its working directory (a compiler opening `foo.h`), and the
kernel does not resolve that name. User space knows each process's working directory:
when a relative open reaches it, it decides once per directory whether any wanted path
can lie under it (`kernel_filters.quiet_bits`) and, if none can, stores the directory's
(inode, device, mount id) with the verdict. Later relative opens there stay in the kernel
unless their name's ending is wanted.

A directory is keyed by its identity, so the verdict must follow its path: an entry whose
path no longer names the same directory (renamed, replaced, removed: its inode number may
be reused) is removed when a rename or removal of it or of a parent is seen, and at the
latest at the next `revalidate` (every 10 s).
"""

from __future__ import annotations

import os
import struct
from typing import Callable

from vigil.rules.kernel_filters import quiet_bits
from vigil.sensors.ebpf.lanes import ReadFilter

_KEY = struct.Struct("<QII")
_VALUE = struct.Struct("<BB2x")
#: vigil.bpf.c: quiet_dirs max_entries (an LRU map: the kernel forgets the oldest itself)
CAPACITY = 1024


def _mount_id(fd: int) -> int | None:
    try:
        with open(f"/proc/self/fdinfo/{fd}", encoding="ascii") as f:
            for line in f:
                if line.startswith("mnt_id:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def dir_key(path: str) -> bytes | None:
    """The `quiet_dirs` key of the directory `path` names now (None: not a directory
    reachable from here)."""
    try:
        fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        mnt = _mount_id(fd)
    finally:
        os.close(fd)
    if mnt is None:
        return None
    kdev = (os.major(st.st_dev) << 20) | os.minor(st.st_dev)
    return _KEY.pack(st.st_ino, kdev, mnt)


class QuietDirs:
    """Decides and stores the quiet working directories (see the module docstring).
    `update(key, value)` and `delete(key)` write the kernel map."""

    def __init__(self, update: Callable[[bytes, bytes], None],
                 delete: Callable[[bytes], None]) -> None:
        self._update = update
        self._delete = delete
        self._reads: ReadFilter | None = None
        self._writes: ReadFilter | None = None
        #: directory -> its key in the map
        self._stored: dict[str, bytes] = {}
        #: directories judged and not stored (not quiet, or not reachable)
        self._judged: set[str] = set()
        #: each stored directory and its ancestors -> how many stored directories are
        #: at or under it (a rename or removal elsewhere costs one lookup)
        self._covered: dict[str, int] = {}

    @property
    def active(self) -> bool:
        """Whether any filter can use a quiet directory."""
        return self._reads is not None or self._writes is not None

    def __len__(self) -> int:
        return len(self._stored)

    def set_filters(self, reads: ReadFilter | None, writes: ReadFilter | None) -> None:
        """New wanted paths: every verdict is void."""
        self.clear()
        self._reads, self._writes = reads, writes

    def clear(self) -> None:
        """Remove every entry."""
        for key in self._stored.values():
            self._forget_key(key)
        self._stored.clear()
        self._judged.clear()
        self._covered.clear()

    def note(self, directory: str | None) -> None:
        """A relative open was sent from `directory`: judge it, once."""
        if not directory or directory in self._stored or directory in self._judged:
            return
        if len(self._judged) > 4 * CAPACITY:
            self._judged.clear()
        if len(self._stored) >= CAPACITY:
            self.clear()
        bits, room = quiet_bits(directory, self._reads, self._writes)
        key = dir_key(directory) if bits else None
        if key is None:
            self._judged.add(directory)
            return
        self._update(key, _VALUE.pack(bits, room))
        self._stored[directory] = key
        for a in _self_and_ancestors(directory):
            self._covered[a] = self._covered.get(a, 0) + 1

    def renamed(self, old: str | None) -> None:
        """`old` was renamed or removed: the directories at or under it no longer have
        their paths."""
        if not old:
            return
        old = old.rstrip("/") or "/"
        if old in self._covered:
            under = old.rstrip("/") + "/"
            for d in [d for d in self._stored if d == old or d.startswith(under)]:
                self._drop(d)
        # a judged directory's verdict may change too, once a new one takes the path
        self._judged.discard(old)

    def revalidate(self) -> None:
        """Drop the entries whose path now names another directory, or none."""
        for d, key in list(self._stored.items()):
            if dir_key(d) != key:
                self._drop(d)

    def _drop(self, directory: str) -> None:
        self._forget_key(self._stored.pop(directory))
        for a in _self_and_ancestors(directory):
            n = self._covered.get(a, 0) - 1
            if n > 0:
                self._covered[a] = n
            else:
                self._covered.pop(a, None)

    def _forget_key(self, key: bytes) -> None:
        try:
            self._delete(key)
        except Exception:  # the LRU map may have forgotten it already
            pass


def _self_and_ancestors(directory: str) -> list[str]:
    """`/a/b` -> [`/a/b`, `/a`, `/`]."""
    out = [directory]
    while directory not in ("/", ""):
        directory = directory.rsplit("/", 1)[0] or "/"
        out.append(directory)
    return out
