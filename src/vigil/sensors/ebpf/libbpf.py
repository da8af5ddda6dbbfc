"""A small ctypes binding to the system libbpf (`libbpf.so.1`): open, load, attach, maps.

Only the calls Vigil uses are declared, each with explicit argtypes and restype so that
pointers are never truncated to C ints. libbpf's own log lines go to the Python logger
`vigil.sensors.ebpf.libbpf` (warnings as warnings, debug output as debug).

Events are not read through libbpf's ring_buffer API: `ringbuf.py` maps the ring itself,
which avoids one ctypes callback per event.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from pathlib import Path

log = logging.getLogger("vigil.sensors.ebpf.libbpf")

_c_p = ctypes.c_void_p


class LibbpfError(OSError):
    """A libbpf call failed; the message names the call and the errno."""


def _declare(lib: ctypes.CDLL, name: str, restype: object, *argtypes: object) -> None:
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


# libbpf_print_fn_t: int (*)(enum libbpf_print_level, const char *fmt, va_list args)
_PRINT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, _c_p)
_LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}


class Libbpf:
    """The loaded library, with its functions declared; one per process is enough."""

    def __init__(self, path: str | None = None) -> None:
        name = path or ctypes.util.find_library("bpf") or "libbpf.so.1"
        try:
            self.lib = ctypes.CDLL(name, use_errno=True)
        except OSError as exc:
            raise LibbpfError(f"cannot load libbpf ({name}): {exc}") from exc
        self._libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        self._libc.vsnprintf.restype = ctypes.c_int
        self._libc.vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, _c_p]
        lib = self.lib
        _declare(lib, "libbpf_set_print", _c_p, _PRINT_FN)
        _declare(lib, "bpf_object__open_file", _c_p, ctypes.c_char_p, _c_p)
        _declare(lib, "bpf_object__load", ctypes.c_int, _c_p)
        _declare(lib, "bpf_object__close", None, _c_p)
        _declare(lib, "bpf_object__find_map_by_name", _c_p, _c_p, ctypes.c_char_p)
        _declare(lib, "bpf_object__find_program_by_name", _c_p, _c_p, ctypes.c_char_p)
        _declare(lib, "bpf_program__attach", _c_p, _c_p)
        _declare(lib, "bpf_program__set_autoload", ctypes.c_int, _c_p, ctypes.c_bool)
        _declare(lib, "bpf_program__autoload", ctypes.c_bool, _c_p)
        _declare(lib, "bpf_link__destroy", ctypes.c_int, _c_p)
        _declare(lib, "bpf_map__fd", ctypes.c_int, _c_p)
        _declare(lib, "bpf_map__set_max_entries", ctypes.c_int, _c_p, ctypes.c_uint32)
        _declare(lib, "bpf_map__max_entries", ctypes.c_uint32, _c_p)
        _declare(lib, "bpf_map_update_elem", ctypes.c_int, ctypes.c_int, _c_p, _c_p,
                 ctypes.c_uint64)
        _declare(lib, "bpf_map_lookup_elem", ctypes.c_int, ctypes.c_int, _c_p, _c_p)
        _declare(lib, "bpf_map_delete_elem", ctypes.c_int, ctypes.c_int, _c_p)
        _declare(lib, "bpf_map_get_next_key", ctypes.c_int, ctypes.c_int, _c_p, _c_p)
        _declare(lib, "libbpf_num_possible_cpus", ctypes.c_int)
        #: True while libbpf's messages are expected failures (logged at DEBUG only)
        self.muted = False
        #: libbpf's first warning since the caller last cleared it, muted or not (the most
        #: precise reason a load failed: a missing kfunc, the verifier's verdict ...)
        self.first_warning = ""
        # keep a reference: libbpf calls it for as long as the process lives
        self._print_cb = _PRINT_FN(self._print)
        lib.libbpf_set_print(self._print_cb)

    def _print(self, level: int, fmt: bytes, va_list: int) -> int:
        buf = ctypes.create_string_buffer(1024)
        self._libc.vsnprintf(buf, len(buf), fmt, va_list)
        msg = buf.value.decode("utf-8", "replace").rstrip()
        if msg and level == 0 and not self.first_warning:
            self.first_warning = msg.removeprefix("libbpf: ")
        if msg:
            log.log(logging.DEBUG if self.muted else _LEVELS.get(level, logging.DEBUG), "%s",
                    msg)
        return 0

    @staticmethod
    def _fail(call: str) -> LibbpfError:
        err = ctypes.get_errno()
        return LibbpfError(err, f"{call}: {os.strerror(err) if err else 'failed'}")

    def check(self, rc: int, call: str) -> int:
        """Raise `LibbpfError` for a negative libbpf return code."""
        if rc < 0:
            err = -rc
            raise LibbpfError(err, f"{call}: {os.strerror(err)}")
        return rc

    def num_possible_cpus(self) -> int:
        """How many per-CPU slots a per-CPU map value has."""
        return self.check(self.lib.libbpf_num_possible_cpus(), "libbpf_num_possible_cpus")


class BpfObject:
    """One opened (then loaded) BPF object file with its maps, programs and links."""

    def __init__(self, libbpf: Libbpf, path: str | Path) -> None:
        self._bpf = libbpf
        self._lib = libbpf.lib
        ctypes.set_errno(0)
        obj = self._lib.bpf_object__open_file(str(path).encode(), None)
        if not obj:
            raise libbpf._fail(f"bpf_object__open_file({path})")
        self._obj: int | None = obj
        self._links: list[int] = []

    def _handle(self) -> int:
        if self._obj is None:
            raise LibbpfError("BPF object already closed")
        return self._obj

    def _map(self, name: str) -> int:
        m = self._lib.bpf_object__find_map_by_name(self._handle(), name.encode())
        if not m:
            raise LibbpfError(f"no map named {name} in the BPF object")
        return m

    def set_max_entries(self, map_name: str, n: int) -> None:
        """Resize a map before `load()` (ring buffer size, ...)."""
        self._bpf.check(self._lib.bpf_map__set_max_entries(self._map(map_name), n),
                        f"bpf_map__set_max_entries({map_name})")

    def max_entries(self, map_name: str) -> int:
        """The size of a map."""
        return int(self._lib.bpf_map__max_entries(self._map(map_name)))

    def load(self) -> None:
        """Load every program and create the maps (CO-RE relocations happen here)."""
        self._bpf.check(self._lib.bpf_object__load(self._handle()), "bpf_object__load")

    def map_fd(self, map_name: str) -> int:
        """The file descriptor of a loaded map."""
        return self._bpf.check(self._lib.bpf_map__fd(self._map(map_name)), f"bpf_map__fd({map_name})")

    def update(self, map_name: str, key: bytes, value: bytes) -> None:
        """Set one element of a map (key and value as packed bytes)."""
        k = ctypes.create_string_buffer(key, len(key))
        v = ctypes.create_string_buffer(value, len(value))
        rc = self._lib.bpf_map_update_elem(self.map_fd(map_name), k, v, 0)
        if rc < 0:
            raise self._bpf._fail(f"bpf_map_update_elem({map_name})")

    def lookup(self, map_name: str, key: bytes, value_size: int) -> bytes | None:
        """One element of a map, or None when absent."""
        k = ctypes.create_string_buffer(key, len(key))
        v = ctypes.create_string_buffer(value_size)
        rc = self._lib.bpf_map_lookup_elem(self.map_fd(map_name), k, v)
        return None if rc < 0 else v.raw

    def delete(self, map_name: str, key: bytes) -> None:
        """Remove one element of a hash map (absent is fine)."""
        k = ctypes.create_string_buffer(key, len(key))
        self._lib.bpf_map_delete_elem(self.map_fd(map_name), k)

    def keys(self, map_name: str, key_size: int, limit: int = 1 << 16) -> list[bytes]:
        """The keys of a hash map (at most `limit`; a map changing meanwhile may give a key
        twice or miss one, as the kernel's iteration does)."""
        fd = self.map_fd(map_name)
        out: list[bytes] = []
        prev: ctypes.Array[ctypes.c_char] | None = None
        nxt = ctypes.create_string_buffer(key_size)
        while len(out) < limit:
            if self._lib.bpf_map_get_next_key(fd, prev, nxt) < 0:
                break
            out.append(nxt.raw)
            prev = ctypes.create_string_buffer(nxt.raw, key_size)
        return out

    def _program(self, prog_name: str) -> int:
        prog = self._lib.bpf_object__find_program_by_name(self._handle(), prog_name.encode())
        if not prog:
            raise LibbpfError(f"no program named {prog_name} in the BPF object")
        return prog

    def set_autoload(self, prog_name: str, load: bool) -> None:
        """Whether `load()` loads this program (before `load()`)."""
        self._bpf.check(self._lib.bpf_program__set_autoload(self._program(prog_name), load),
                        f"bpf_program__set_autoload({prog_name})")

    def autoloaded(self, prog_name: str) -> bool:
        """Whether the program is (to be) loaded."""
        return bool(self._lib.bpf_program__autoload(self._program(prog_name)))

    def attach(self, prog_name: str) -> None:
        """Attach a program by the section it declares (tp_btf/..., fentry/...)."""
        prog = self._program(prog_name)
        ctypes.set_errno(0)
        link = self._lib.bpf_program__attach(prog)
        if not link:
            raise self._bpf._fail(f"bpf_program__attach({prog_name})")
        self._links.append(link)

    def detach_all(self) -> None:
        """Destroy every link (the programs stop running); safe to call twice."""
        while self._links:
            self._lib.bpf_link__destroy(self._links.pop())

    def close(self) -> None:
        """Detach and free the object; safe to call twice."""
        self.detach_all()
        if self._obj is not None:
            self._lib.bpf_object__close(self._obj)
            self._obj = None
