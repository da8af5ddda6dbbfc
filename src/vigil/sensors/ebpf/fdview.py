"""What the kernel says an fd is (`struct fd_head` / `struct fd_desc` of vigil.bpf.c), as
Falco's fd types and names.

The program describes an fd by kind (file, directory, pipe, socket, character device ...),
read/write mode, inode and device, plus a socket's tuple or an anonymous inode's name.
These helpers turn that into `FdInfo` values; names of regular files come from the process
table (the open that created the fd), checked against the inode.
"""

from __future__ import annotations

import os
import struct

FDK_NONE, FDK_FILE, FDK_DIR, FDK_PIPE, FDK_SOCK, FDK_CHR, FDK_BLK, FDK_LINK, FDK_ANON = range(9)
#: `struct fd_desc`: fd, kind, fmode, dev, ino, 44-byte tail (socket tuple or name), pad
FD_DESC = struct.Struct("<HBBIQ44s4x")
FD_DESC_SIZE = FD_DESC.size
#: the fd number the program writes for an fd beyond 65534
FD_BEYOND = 0xFFFF
FMODE_READ, FMODE_WRITE = 1, 2

#: fd.type of the kinds that are not sockets (sockets: by family)
KIND_TYPE: dict[int, str | None] = {
    FDK_NONE: None, FDK_FILE: "file", FDK_DIR: "directory", FDK_PIPE: "pipe",
    FDK_CHR: "file", FDK_BLK: "file", FDK_LINK: "file", FDK_ANON: None,
}

#: anonymous inode names -> Falco's fd.type
_ANON_TYPES = {
    "[eventfd]": "event", "[eventpoll]": "eventpoll", "[signalfd]": "signalfd",
    "[timerfd]": "timerfd", "inotify": "inotify", "[userfaultfd]": "userfaultfd",
    "[io_uring]": "io_uring", "bpf-map": "bpf", "bpf-prog": "bpf", "bpf_link": "bpf",
    "bpf_iter": "bpf", "[pidfd]": "pidfd", "[fanotify]": "fanotify",
    "[perf_event]": "perf_event",
}

_MEM_DEVICES = {3: "/dev/null", 5: "/dev/zero", 7: "/dev/full", 8: "/dev/random",
                9: "/dev/urandom", 1: "/dev/mem", 2: "/dev/kmem", 11: "/dev/kmsg"}


def user_dev(kdev: int) -> int:
    """A kernel `dev_t` (major << 20 | minor) as `os.stat` gives it (`st_dev`, `st_rdev`)."""
    return os.makedev(kdev >> 20, kdev & 0xFFFFF)


def device_name(kdev: int) -> str | None:
    """The /dev path of a character device every Linux names the same way, else None."""
    major, minor = kdev >> 20, kdev & 0xFFFFF
    if 136 <= major <= 143:
        return f"/dev/pts/{(major - 136) * 256 + minor}"
    if major == 1:
        return _MEM_DEVICES.get(minor)
    if major == 4:
        return f"/dev/tty{minor}" if minor < 64 else f"/dev/ttyS{minor - 64}"
    if major == 5:
        return {0: "/dev/tty", 1: "/dev/console", 2: "/dev/ptmx"}.get(minor)
    return None


def anon_type(tail: bytes) -> str | None:
    """Falco's fd.type of an anonymous inode from its name (`[eventfd]` -> event)."""
    name = tail.split(b"\0", 1)[0].decode("ascii", "replace")
    return _ANON_TYPES.get(name) or _ANON_TYPES.get(name.split(":", 1)[0])


def pipe_end(fmode: int) -> str | None:
    """"r" or "w" for a pipe end opened for reading or writing (a FIFO may be both)."""
    if fmode == FMODE_READ:
        return "r"
    if fmode == FMODE_WRITE:
        return "w"
    return None
