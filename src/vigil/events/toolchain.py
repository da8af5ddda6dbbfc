"""The compiler toolchain: programs whose file writes are a build's, not an attack's.

A C build writes three files per source (the driver's temporary file, the compiler's
assembly, the assembler's object) and deletes one: most of the writes a build host makes.
What a compiler driver, compiler proper or assembler writes is its own output, so the
detectors that judge writes anywhere (ransomware, droppers, copied keys, deleted running
programs) ignore these programs, and the eBPF sensor leaves their writes in the kernel
unless a rule or detector names the path (`vigil.rules.kernel_filters.plan_writes`):
`gcc -o /etc/cron.d/x` still crosses and is judged.

Identity: by the executable's real path, installed where the distribution puts them
(`/usr/bin/`, `/bin/`, gcc's and LLVM's library directories) under a toolchain name
(`gcc`, `x86_64-linux-gnu-gcc-12`, `cc1`, `as`, `clang-14` ...). A copy elsewhere (`/tmp/as`)
is not one. The kernel matches the same programs by (device, inode) of the root-owned,
not group- or world-writable files (`toolchain_inode_keys`), so a renamed process or a
copy cannot pass for one. Linkers are not in the set: `ld -b binary` embeds any file in
its output.
"""

from __future__ import annotations

import os
import posixpath
import re
import struct

#: where the distribution installs the toolchain's programs
TOOLCHAIN_DIRS: tuple[str, ...] = ("/usr/bin/", "/bin/", "/usr/lib/gcc/", "/usr/libexec/gcc/",
                                   "/usr/lib/llvm-")

#: drivers and assemblers (optionally with a target triplet and a version), and the
#: compilers proper and helpers the gcc driver runs
_NAME = re.compile(
    r"(?:[a-z0-9_]+-(?:[a-z0-9_]+-)?linux-gnu[a-z0-9_]*-)?"
    r"(?:gcc|g\+\+|c\+\+|cc|cpp|as|clang|clang\+\+|clang-cpp)(?:-\d+(?:\.\d+)*)?"
    r"|cc1|cc1plus|cc1obj|cc1objplus|lto1|lto-wrapper|collect2")

_INODE = struct.Struct("<QII")


def is_toolchain_name(name: str) -> bool:
    """Whether a file name is one of the toolchain's programs."""
    return _NAME.fullmatch(name) is not None


def is_toolchain_binary(exepath: str | None) -> bool:
    """Whether an executable path (as the kernel reports it: real, absolute) is one of the
    toolchain's installed programs."""
    if not exepath or not exepath.startswith(TOOLCHAIN_DIRS):
        return False
    if "/." in exepath or "//" in exepath:
        return False
    return is_toolchain_name(posixpath.basename(exepath))


def _candidates() -> set[str]:
    out: set[str] = set()
    for top in ("/usr/bin", "/bin"):
        try:
            names = os.listdir(top)
        except OSError:
            continue
        out.update(f"{top}/{n}" for n in names if is_toolchain_name(n))
    for top, depth in (("/usr/lib/gcc", 2), ("/usr/libexec/gcc", 2)):
        dirs = [top]
        for _ in range(depth):
            nxt = []
            for d in dirs:
                try:
                    nxt += [f"{d}/{n}" for n in os.listdir(d)]
                except OSError:
                    continue
            dirs = nxt
        for d in dirs:
            try:
                out.update(f"{d}/{n}" for n in os.listdir(d) if is_toolchain_name(n))
            except OSError:
                continue
    try:
        llvm = [f"/usr/lib/{n}/bin" for n in os.listdir("/usr/lib") if n.startswith("llvm-")]
    except OSError:
        llvm = []
    for d in llvm:
        try:
            out.update(f"{d}/{n}" for n in os.listdir(d) if is_toolchain_name(n))
        except OSError:
            continue
    return out


def toolchain_inode_keys() -> list[bytes]:
    """The kernel's `quiet_writers` keys (inode, device as major << 20 | minor) of the
    toolchain programs installed here: regular files owned by root that neither group nor
    others may write, whose real path is itself a toolchain program."""
    keys: set[bytes] = set()
    for path in _candidates():
        real = os.path.realpath(path)
        if not is_toolchain_binary(real):
            continue
        try:
            st = os.stat(real)
        except OSError:
            continue
        if not (st.st_mode & 0o170000 == 0o100000 and st.st_uid == 0
                and not st.st_mode & 0o022):
            continue
        kdev = (os.major(st.st_dev) << 20) | os.minor(st.st_dev)
        keys.add(_INODE.pack(st.st_ino, kdev, 0))
    return sorted(keys)
