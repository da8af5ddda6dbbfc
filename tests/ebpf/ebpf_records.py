"""Kernel records built by hand in the program's layout (vigil.bpf.c), for decoder tests."""

from __future__ import annotations

import struct

from vigil.sensors.ebpf.decode import HEADER
from vigil.sensors.ebpf.fdview import FD_DESC
from vigil.sensors.ebpf.sockets import TUPLE


def record(nr: int, res: int = 0, args=(0,) * 6, strings=(), buf: bytes = b"", fds: bytes = b"",
           extra: bytes = b"", flags: int = 0, aux: int = 0, fd=(0, 0, 0, 0, 0),
           tgid: int = 4242, ppid: int = 1, comm: bytes = b"tester", uid: int = 0) -> bytes:
    """One record: header, then up to three strings, the user buffer, the fd segment and
    the extra segment. `fd`: the header's (num, kind, fmode, kernel dev, ino); `uid` the
    task's uid and euid as the call left them."""
    strings = list(strings) + [b""] * (3 - len(strings))
    segs = [*strings, buf, fds, extra]
    hdr = HEADER.pack(1_000, 0, res, *args, aux, *fd, tgid, tgid, ppid, uid, 0, uid, 0xFFFFFFFF,
                      nr, flags, comm, *(len(s) for s in segs))
    return hdr + b"".join(segs)


def fd_desc(num: int, kind: int, fmode: int = 0, kdev: int = 0, ino: int = 0,
            tail: bytes = b"") -> bytes:
    """One `struct fd_desc`."""
    return FD_DESC.pack(num, kind, fmode, kdev, ino, tail.ljust(44, b"\0"))


def sock_tuple(family: int, stype: int, proto: int, lport: int, rport: int, state: int,
               laddr: bytes, raddr: bytes) -> bytes:
    """One `struct sock_tuple` (addresses as packed bytes, padded to 16)."""
    return TUPLE.pack(family, stype, proto, lport, rport, state, laddr.ljust(16, b"\0"),
                      raddr.ljust(16, b"\0"))


def sockaddr_in(ip: bytes, port: int) -> bytes:
    """A user `struct sockaddr_in` (ip: 4 packed bytes)."""
    return struct.pack("<H", 2) + struct.pack(">H", port) + ip + bytes(8)
