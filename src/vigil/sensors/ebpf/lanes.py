"""What the eBPF sensor's priority lane carries: the sensitive paths, as the kernel holds them.

The program sends high-value records through a ring of their own (`urgent` in
vigil.bpf.c), so that a flood of ordinary records cannot crowd them out: every record of
the syscalls in `syscalls.URGENT_SYSCALLS`, fork and exit, and any record whose first path
is under one of the prefixes here or whose file is one of the inodes here. This module
turns paths into the keys of the two maps: `sensitive_paths` (an LPM trie; an exact file
is stored with its terminating NUL so that it matches itself only) and `sensitive_inodes`
(the device and inode of the files that exist, so that a relative path, a hard link or a
`/proc/<pid>/root/...` path still names them).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import NamedTuple

#: vigil.bpf.c: PRIO_PATH_MAX (bytes of a path the trie compares), map sizes
PATH_MAX_BYTES = 128
MAX_PATHS = 512

#: files whose every access is high-value: credentials, sudo and PAM configuration, the
#: loader's preload list, SSH server keys and configuration, cron
SENSITIVE_FILES: tuple[str, ...] = (
    "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers",
    "/etc/pam.conf", "/etc/security/pwquality.conf", "/etc/security/opasswd",
    "/etc/ld.so.preload", "/etc/ssh/sshd_config", "/etc/crontab", "/etc/master.passwd",
)
#: directories whose every file is high-value (a prefix ends with "/")
SENSITIVE_PREFIXES: tuple[str, ...] = (
    "/etc/sudoers.d/", "/etc/pam.d/", "/etc/ssh/ssh_host_", "/root/.ssh/",
    "/etc/cron.d/", "/var/spool/cron/", "/etc/systemd/system/", "/boot/",
    "/lib/modules/", "/usr/lib/modules/",
)

_LPM = struct.Struct(f"<I{PATH_MAX_BYTES}s")
_INODE = struct.Struct("<QII")


#: vigil.bpf.c: SUFFIXES, SUFFIX_MAX (the read filter's file name endings)
MAX_SUFFIXES, SUFFIX_MAX_BYTES = 16, 32
_SUFFIX = struct.Struct(f"<I{SUFFIX_MAX_BYTES}s")


class ReadFilter(NamedTuple):
    """The read-only opens the kernel still sends when the rule-derived filter is on:
    paths equal to one of `exact`, under one of `prefixes` or ending with one of
    `suffixes` (plus, always, relative, unnormalised and over-long ones)."""

    exact: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()

    def fits(self) -> bool:
        """Whether the kernel's maps hold it."""
        return (len(self.exact) + len(self.prefixes) <= 4096
                and len(self.suffixes) <= MAX_SUFFIXES
                and all(0 < len(x.encode()) <= SUFFIX_MAX_BYTES for x in self.suffixes))


def suffix_value(suffix: str) -> bytes:
    """A `wanted_suffixes` value."""
    raw = suffix.encode()
    return _SUFFIX.pack(len(raw), raw)


def lpm_key(path: str, exact: bool = False) -> bytes:
    """The key of a path in one of the program's path tries: a prefix as is, an exact path
    with its NUL (so that it matches itself only). An exact path longer than the trie
    compares becomes the prefix of its first bytes (it then matches a little more)."""
    raw = path.encode() + (b"\0" if exact else b"")
    raw = raw[:PATH_MAX_BYTES]
    return _LPM.pack(len(raw) * 8, raw)


@dataclass(frozen=True)
class SensitivePaths:
    """The exact files and the prefixes of the priority lane."""

    files: tuple[str, ...] = SENSITIVE_FILES
    prefixes: tuple[str, ...] = SENSITIVE_PREFIXES

    def path_keys(self) -> list[bytes]:
        """The `sensitive_paths` trie's keys (bit length, then the bytes)."""
        out = [lpm_key(p, exact=True) for p in self.files]
        out += [lpm_key(p) for p in self.prefixes]
        return out[:MAX_PATHS]

    def inode_keys(self) -> list[bytes]:
        """The `sensitive_inodes` keys of the files that exist now (device in the kernel's
        encoding, major << 20 | minor)."""
        out: list[bytes] = []
        for path in self.files:
            try:
                st = os.stat(path)
            except OSError:
                continue
            kdev = (os.major(st.st_dev) << 20) | os.minor(st.st_dev)
            out.append(_INODE.pack(st.st_ino, kdev, 0))
        return out[:MAX_PATHS]
