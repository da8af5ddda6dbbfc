"""Raw kernel calls for the kernel scenarios (no kmod, no libbpf): the module-loading
syscalls and bpf(BPF_PROG_LOAD), through libc's syscall().

    kernel_calls.py finit-module FILE     finit_module(fd of FILE, "", 0)
    kernel_calls.py init-module FILE      init_module(FILE's bytes, len, "")
    kernel_calls.py bpf-load TYPE         load `r0 = 0; exit` as a program of TYPE
                                          (socket_filter, kprobe, tracepoint), close it

Each prints the kernel's answer; a refusal is the expected outcome for modules.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys

NR = {"x86_64": {"init_module": 175, "finit_module": 313, "bpf": 321},
      "aarch64": {"init_module": 105, "finit_module": 273, "bpf": 280}}
PROG_TYPES = {"socket_filter": 1, "kprobe": 2, "tracepoint": 5}
libc = ctypes.CDLL(None, use_errno=True)


def call(name: str, *args: object) -> str:
    nr = NR[platform.machine()][name]
    ret = libc.syscall(nr, *args)
    if ret < 0:
        err = ctypes.get_errno()
        return f"{name}: refused ({os.strerror(err)})"
    return f"{name}: returned {ret}"


def main() -> int:
    what, arg = sys.argv[1], sys.argv[2]
    if what == "finit-module":
        fd = os.open(arg, os.O_RDONLY)
        print(call("finit_module", ctypes.c_int(fd), ctypes.c_char_p(b""), ctypes.c_int(0)))
        os.close(fd)
    elif what == "init-module":
        data = open(arg, "rb").read()
        buf = ctypes.create_string_buffer(data, len(data))
        print(call("init_module", buf, ctypes.c_ulong(len(data)), ctypes.c_char_p(b"")))
    elif what == "bpf-load":
        insns = struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)
        ibuf = ctypes.create_string_buffer(insns, len(insns))
        lic = ctypes.create_string_buffer(b"GPL")
        attr = ctypes.create_string_buffer(128)
        struct.pack_into("<IIQQIIQI", attr, 0, PROG_TYPES[arg], 2,
                         ctypes.addressof(ibuf), ctypes.addressof(lic), 0, 0, 0, 0)
        nr = NR[platform.machine()]["bpf"]
        fd = libc.syscall(nr, ctypes.c_int(5), attr, ctypes.c_uint(128))  # BPF_PROG_LOAD
        if fd < 0:
            print(f"bpf: refused ({os.strerror(ctypes.get_errno())})")
            return 1
        print(f"bpf: {arg} program loaded as fd {fd}")
        os.close(fd)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
