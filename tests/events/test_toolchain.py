"""`vigil.events.toolchain`: which programs are the compiler toolchain's."""

from __future__ import annotations

import os
import shutil
import struct

import pytest

from vigil.events.toolchain import is_toolchain_binary, is_toolchain_name, toolchain_inode_keys


@pytest.mark.parametrize("path, expected", [
    ("/usr/bin/x86_64-linux-gnu-gcc-12", True), ("/usr/bin/gcc", True),
    ("/usr/bin/x86_64-linux-gnu-as", True), ("/usr/bin/clang-14", True),
    ("/usr/lib/gcc/x86_64-linux-gnu/12/cc1", True), ("/usr/lib/gcc/x86_64-linux-gnu/12/collect2", True),
    ("/usr/lib/llvm-14/bin/clang", True), ("/usr/libexec/gcc/x86_64-redhat-linux/13/cc1plus", True),
    # linkers embed any file (ld -b binary); build drivers run anything
    ("/usr/bin/x86_64-linux-gnu-ld.bfd", False), ("/usr/bin/make", False),
    ("/usr/bin/gcc-ar-12", False), ("/usr/bin/python3", False),
    # the name alone is not enough: a copy in a world-writable or home directory
    ("/tmp/gcc", False), ("/home/u/bin/cc1", False), ("/usr/bin/../../tmp/as", False),
    (None, False), ("", False)])
def test_toolchain_programs_by_installed_path(path, expected):
    assert is_toolchain_binary(path) is expected


def test_names():
    assert is_toolchain_name("aarch64-linux-gnu-g++-13")
    assert not is_toolchain_name("ascii") and not is_toolchain_name("gccgo-x")


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no gcc installed on this machine")
def test_the_installed_compiler_and_assembler_are_found_by_inode():
    keys = {struct.unpack("<QII", k)[:2] for k in toolchain_inode_keys()}
    for name in ("gcc", "as"):
        st = os.stat(os.path.realpath(shutil.which(name)))
        kdev = (os.major(st.st_dev) << 20) | os.minor(st.st_dev)
        assert (st.st_ino, kdev) in keys, name
    ld = os.stat(os.path.realpath(shutil.which("ld")))
    assert (ld.st_ino, (os.major(ld.st_dev) << 20) | os.minor(ld.st_dev)) not in keys
