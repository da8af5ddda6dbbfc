"""Rendering of raw syscall argument values the way Falco prints them.

Sensors store raw integers in `Event.args`; `evt.arg.<name>` renders them here
(`O_WRONLY|O_CREAT`, `PTRACE_ATTACH`, `AF_INET`, `CAP_SYS_ADMIN ...`) and `evt.rawarg.<name>`
gives the integer. Tables are Linux x86-64 values.
"""

from __future__ import annotations

import errno as _errno
import os as _os
from typing import Any

O_ACCMODE = 0o3
O_WRONLY = 0o1
O_RDWR = 0o2
O_CREAT = 0o100
O_TMPFILE = 0o20200000

_OPEN_FLAG_BITS: tuple[tuple[int, str], ...] = (
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o4010000, "O_SYNC"),
    (0o10000, "O_DSYNC"),
    (0o40000, "O_DIRECT"),
    (0o100000, "O_LARGEFILE"),
    (0o20200000, "O_TMPFILE"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o10000000, "O_PATH"),
)


def format_open_flags(flags: int) -> str:
    """`O_RDONLY|O_CLOEXEC`-style rendering of open(2) flags, access mode first."""
    acc = flags & O_ACCMODE
    parts = ["O_RDWR" if acc == O_RDWR else "O_WRONLY" if acc == O_WRONLY else "O_RDONLY"]
    seen = 0
    for bit, name in _OPEN_FLAG_BITS:
        if flags & bit == bit and not seen & bit:
            parts.append(name)
            seen |= bit
    return "|".join(parts)


def is_open_read(flags: int) -> bool:
    """Opened for reading: O_RDONLY or O_RDWR (Falco's evt.is_open_read)."""
    return flags & O_ACCMODE in (0, O_RDWR)


def is_open_write(flags: int) -> bool:
    """Opened for writing: O_WRONLY or O_RDWR (Falco's evt.is_open_write)."""
    return flags & O_ACCMODE in (O_WRONLY, O_RDWR)


PTRACE_REQUESTS: dict[int, str] = {
    0: "PTRACE_TRACEME", 1: "PTRACE_PEEKTEXT", 2: "PTRACE_PEEKDATA", 3: "PTRACE_PEEKUSR",
    4: "PTRACE_POKETEXT", 5: "PTRACE_POKEDATA", 6: "PTRACE_POKEUSR", 7: "PTRACE_CONT",
    8: "PTRACE_KILL", 9: "PTRACE_SINGLESTEP", 12: "PTRACE_GETREGS", 13: "PTRACE_SETREGS",
    14: "PTRACE_GETFPREGS", 15: "PTRACE_SETFPREGS", 16: "PTRACE_ATTACH", 17: "PTRACE_DETACH",
    24: "PTRACE_SYSCALL", 0x4200: "PTRACE_SETOPTIONS", 0x4201: "PTRACE_GETEVENTMSG",
    0x4202: "PTRACE_GETSIGINFO", 0x4203: "PTRACE_SETSIGINFO", 0x4206: "PTRACE_SEIZE",
    0x4207: "PTRACE_INTERRUPT", 0x4208: "PTRACE_LISTEN",
}

SOCKET_FAMILIES: dict[int, str] = {
    0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET",
}

CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)


def format_caps(mask: int) -> str:
    """Space-separated capability names of a capability bit mask."""
    return " ".join(name for bit, name in enumerate(CAPABILITIES) if mask >> bit & 1)


def errno_name(res: int) -> str:
    """`ENOENT` for -2; Falco's evt.res rendering of a failed syscall."""
    return _errno.errorcode.get(-res, f"E{-res}")


def format_res(res: int) -> str:
    """Falco's evt.res: `SUCCESS` for a non-negative result, the errno name otherwise."""
    return "SUCCESS" if res >= 0 else errno_name(res)


def format_mode(mode: int) -> str:
    """File mode in octal as Falco prints it (`0755`)."""
    return f"0{mode & 0o7777:o}"


def _fmt_flags(event_type: str, value: int) -> str:
    if event_type in ("open", "openat", "openat2", "creat", "open_by_handle_at"):
        return format_open_flags(value)
    return str(value)


DNS_QTYPES: dict[int, str] = {
    1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 10: "NULL", 12: "PTR", 13: "HINFO", 15: "MX",
    16: "TXT", 28: "AAAA", 33: "SRV", 35: "NAPTR", 43: "DS", 48: "DNSKEY", 64: "SVCB",
    65: "HTTPS", 99: "SPF", 251: "IXFR", 252: "AXFR", 255: "ANY", 257: "CAA",
}


def dns_qtype_name(qtype: int) -> str:
    """`A`, `AAAA`, `TXT` ... for a DNS question type (`TYPE<n>` without a mnemonic, as
    RFC 3597 writes unknown types)."""
    return DNS_QTYPES.get(qtype) or f"TYPE{qtype}"


def format_arg(event_type: str, name: str, value: Any) -> Any:
    """Render one raw argument value as Falco's `evt.arg.<name>` shows it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, int):
        return value
    if name == "flags":
        return _fmt_flags(event_type, value)
    if name == "request" and event_type == "ptrace":
        return PTRACE_REQUESTS.get(value, str(value))
    if name == "domain":
        return SOCKET_FAMILIES.get(value, str(value))
    if name == "mode":
        return format_mode(value)
    if name == "res":
        return format_res(value)
    return value


# os.O_* sanity: the tables above are the Linux values this module assumes.
assert not hasattr(_os, "O_CLOEXEC") or _os.O_CLOEXEC == 0o2000000
