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


@dataclass(frozen=True)
class SensitivePaths:
    """The exact files and the prefixes of the priority lane."""

    files: tuple[str, ...] = SENSITIVE_FILES
    prefixes: tuple[str, ...] = SENSITIVE_PREFIXES

    def path_keys(self) -> list[bytes]:
        """The `sensitive_paths` trie's keys (bit length, then the bytes)."""
        out: list[bytes] = []
        for path in self.files:
            raw = path.encode() + b"\0"
            if len(raw) <= PATH_MAX_BYTES:  # a longer one is still caught by its inode
                out.append(_LPM.pack(len(raw) * 8, raw))
        for prefix in self.prefixes:
            raw = prefix.encode()[:PATH_MAX_BYTES]
            out.append(_LPM.pack(len(raw) * 8, raw))
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
