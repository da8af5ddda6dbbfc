"""Socket records: the kernel's socket tuple and user sockaddrs as Falco's fd fields.

`socket_fd` combines the two sources the program copies for a socket syscall: the tuple
read from the kernel `struct sock` (local end, protocol) and the address the caller passed
(connect/sendto target, bind address), which also names the target of a failed connect.
"""

from __future__ import annotations

import socket
import struct

from vigil.events.model import FdInfo

#: `struct sock_tuple` of vigil.bpf.c
TUPLE = struct.Struct("<6H16s16s")
_U16BE = struct.Struct(">H")
AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
_L4 = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp", 136: "udp"}
SOCKTYPE_L4 = {1: "tcp", 2: "udp", 3: "raw", 5: "tcp"}
FAMILY_TYPE = {AF_INET: "ipv4", AF_INET6: "ipv6", AF_UNIX: "unix", 16: "netlink"}
_SERVER_CALLS = frozenset({"accept", "accept4", "listen", "bind"})
_UNSENT_CALLS = frozenset({"sendto", "sendmsg"})


def _text(b: bytes) -> str:
    return b.decode("utf-8", "backslashreplace")


def _ip(family: int, raw: bytes) -> str:
    if family == AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, raw[:16])
    return socket.inet_ntop(socket.AF_INET, raw[:4])


def parse_sockaddr(raw: bytes) -> tuple[int, str | None, int | None]:
    """(family, address or unix path, port) of a `struct sockaddr` as copied from the user."""
    if len(raw) < 2:
        return 0, None, None
    family = raw[0] | raw[1] << 8
    if family == AF_INET and len(raw) >= 8:
        return family, _ip(AF_INET, raw[4:8]), _U16BE.unpack_from(raw, 2)[0]
    if family == AF_INET6 and len(raw) >= 24:
        return family, _ip(AF_INET6, raw[8:24]), _U16BE.unpack_from(raw, 2)[0]
    if family == AF_UNIX:
        path = raw[2:]
        if path[:1] == b"\0":
            return family, "@" + _text(path[1:].split(b"\0", 1)[0]), None
        return family, _text(path.split(b"\0", 1)[0]), None
    return family, None, None


def socket_fd(call: str, fdnum: int, tup: bytes, ubuf: bytes) -> FdInfo | None:
    """The `FdInfo` of a socket from its kernel tuple and the address the caller passed."""
    if len(tup) < TUPLE.size:
        return None
    family, stype, proto, lport, rport, _pad, laddr, raddr = TUPLE.unpack_from(tup)
    ftype = FAMILY_TYPE.get(family)
    if ftype is None:
        return FdInfo(num=fdnum, type="socket")
    uf, uaddr, uport = parse_sockaddr(ubuf) if ubuf else (0, None, None)
    if family == AF_UNIX:
        return FdInfo(num=fdnum, type="unix", name=uaddr or "", l4proto=None,
                      role="server" if call in _SERVER_CALLS else "client")
    if ftype == "netlink":
        return FdInfo(num=fdnum, type="netlink")
    lip, rip = _ip(family, laddr), _ip(family, raddr)
    l4 = _L4.get(proto) or SOCKTYPE_L4.get(stype)
    connected = rport != 0
    name_changed = None
    if uaddr is not None and uf in (AF_INET, AF_INET6):
        if call == "bind":
            lip, lport = uaddr, uport or lport
        else:
            if call in _UNSENT_CALLS:
                name_changed = (uaddr, uport) != (rip, rport)
            rip, rport = uaddr, uport
    elif call in _UNSENT_CALLS:
        name_changed = False
    server = call in _SERVER_CALLS
    if server:
        name = f"{rip}:{rport}->{lip}:{lport}" if call.startswith("accept") else f"{lip}:{lport}"
    else:
        name = f"{lip}:{lport}->{rip}:{rport}"
    return FdInfo(num=fdnum, type=ftype, name=name, l4proto=l4, lip=lip, lport=lport,
                  rip=rip, rport=rport, role="server" if server else "client",
                  connected=connected, name_changed=name_changed)
