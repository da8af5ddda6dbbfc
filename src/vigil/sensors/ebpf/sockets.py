"""Socket records: the kernel's socket tuple and user sockaddrs as Falco's fd fields.

`socket_fd` combines the two sources the program copies for a socket syscall: the tuple
read from the kernel `struct sock` (both ends, protocol, state) and the address the caller
passed (connect/sendto target, bind address), which also names the target of a failed
connect.

Which end is the server is not in the kernel socket. `SocketRoles` remembers it by socket
inode from the calls that decide it (accept: server; connect: client; bind/listen:
server), so a `sendto`, a `dup2` or a child's stdio on the same socket gets the role its
socket really has; a socket never seen being created is judged by its state (listening,
or a datagram socket bound without a peer, is a server) and by whether its local port is
one the process listens on.
"""

from __future__ import annotations

import socket
import struct

from vigil.events.model import FdInfo

#: `struct sock_tuple` of vigil.bpf.c
TUPLE = struct.Struct("<5HBx16s16s")
_U16BE = struct.Struct(">H")
AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
SOCK_STREAM, SOCK_DGRAM = 1, 2
TCP_ESTABLISHED, TCP_CLOSE, TCP_LISTEN = 1, 7, 10
_L4 = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp", 136: "udp"}
SOCKTYPE_L4 = {1: "tcp", 2: "udp", 3: "raw", 5: "tcp"}
FAMILY_TYPE = {AF_INET: "ipv4", AF_INET6: "ipv6", AF_UNIX: "unix", AF_NETLINK: "netlink"}
#: calls that make the caller's end the server, and the client
SERVER_CALLS = frozenset({"accept", "accept4", "listen", "bind"})
CLIENT_CALLS = frozenset({"connect"})
_UNSENT_CALLS = frozenset({"sendto", "sendmsg", "sendmmsg"})


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


class SocketRoles:
    """Socket inode -> "server" or "client", as decided by accept/connect/bind/listen.

    Bounded: the oldest entries go first when it is full (inodes of closed sockets are
    never looked up again, and a reused inode gets a new entry from its own call).
    """

    def __init__(self, limit: int = 65536) -> None:
        self._roles: dict[int, str] = {}
        self._limit = limit

    def set(self, ino: int | None, role: str) -> None:
        """Record the role a call gave a socket."""
        if not ino:
            return
        roles = self._roles
        if ino in roles:
            if roles[ino] == role:
                return
            del roles[ino]
        elif len(roles) >= self._limit:
            for old in list(roles)[: self._limit // 8]:
                del roles[old]
        roles[ino] = role

    def get(self, ino: int | None) -> str | None:
        """The recorded role of a socket, or None."""
        return self._roles.get(ino) if ino else None

    def __len__(self) -> int:
        return len(self._roles)


def tuple_role(call: str, state: int, lport: int,
               listen_ports: frozenset[int] | None) -> str:
    """The role of a socket nothing recorded, from what the kernel says of it."""
    if call in SERVER_CALLS:
        return "server"
    if call in CLIENT_CALLS:
        return "client"
    if state == TCP_LISTEN:
        return "server"
    # a port the process listens on (TCP or a bound datagram socket) answers as the server
    if listen_ports and lport in listen_ports:
        return "server"
    return "client"


def socket_fd(call: str, fdnum: int, tup: bytes, ubuf: bytes, *, ino: int | None = None,
              role: str | None = None, listen_ports: frozenset[int] | None = None) -> FdInfo | None:
    """The `FdInfo` of a socket from its kernel tuple and the address the caller passed.

    `role`: the socket's recorded role (`SocketRoles`); without one it follows from the
    call and the socket's state (`tuple_role`).
    """
    if len(tup) < TUPLE.size:
        return None
    family, stype, proto, lport, rport, state, laddr, raddr = TUPLE.unpack_from(tup)
    ftype = FAMILY_TYPE.get(family)
    if ftype is None:
        return FdInfo(num=fdnum, type="socket", ino=ino)
    uf, uaddr, uport = parse_sockaddr(ubuf) if ubuf else (0, None, None)
    if role is None or call in SERVER_CALLS or call in CLIENT_CALLS:
        role = tuple_role(call, state, lport, listen_ports)
    if family == AF_UNIX:
        return FdInfo(num=fdnum, type="unix", name=uaddr or "", l4proto=None, role=role,
                      ino=ino)
    if ftype == "netlink":
        return FdInfo(num=fdnum, type="netlink", ino=ino)
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
    if role == "server":
        name = f"{rip}:{rport}->{lip}:{lport}" if rport else f"{lip}:{lport}"
    else:
        name = f"{lip}:{lport}->{rip}:{rport}"
    return FdInfo(num=fdnum, type=ftype, name=name, l4proto=l4, lip=lip, lport=lport,
                  rip=rip, rport=rport, role=role, connected=connected,
                  name_changed=name_changed, ino=ino)
