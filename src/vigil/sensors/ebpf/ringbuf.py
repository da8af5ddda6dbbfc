"""A BPF ring buffer read directly through mmap, without a callback per record.

The kernel maps a ring buffer map as: one read-write page holding the consumer position,
then one read-only page holding the producer position, then the data area mapped twice in
a row (so a record that wraps around is still contiguous in memory). Each record has an
8-byte header (length with BUSY/DISCARD bits, page offset) and is padded to 8 bytes.

`RingReader.drain(handle)` gives each committed record to `handle(view, offset, size)`
as an offset into one memoryview, then releases them all at once; `wait(timeout)` blocks
on the map's fd until the program wakes the reader or the timeout passes.
"""

from __future__ import annotations

import mmap
import select
import struct
from typing import Callable

_BUSY = 1 << 31
_DISCARD = 1 << 30
_LEN_MASK = ~(_BUSY | _DISCARD) & 0xFFFFFFFF
_HDR = 8
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")

Handler = Callable[[memoryview, int, int], None]


class RingReader:
    """Consumer side of one BPF ring buffer map."""

    def __init__(self, map_fd: int, size: int) -> None:
        page = mmap.PAGESIZE
        self._size = size
        self._mask = size - 1
        self._cons = mmap.mmap(map_fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE,
                               offset=0)
        self._prod = mmap.mmap(map_fd, page + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ,
                               offset=page)
        self._view = memoryview(self._prod)
        self._data = self._view[page:]
        self._map_fd = map_fd
        self._poll = select.epoll()
        self._poll.register(map_fd, select.EPOLLIN)

    def also_wake_on(self, other: "RingReader") -> None:
        """`wait` returns when the other ring signals too (one thread reads both)."""
        self._poll.register(other._map_fd, select.EPOLLIN)

    def pending(self) -> int:
        """Bytes produced but not consumed yet."""
        return _U64.unpack_from(self._prod, 0)[0] - _U64.unpack_from(self._cons, 0)[0]

    def wait(self, timeout: float) -> bool:
        """Block until the kernel signals data or `timeout` seconds pass; True when signalled."""
        return bool(self._poll.poll(timeout))

    def drain(self, handle: Handler, max_records: int = 1 << 30) -> int:
        """Hand every committed record to `handle`, then release them; returns the count."""
        cons = _U64.unpack_from(self._cons, 0)[0]
        prod = _U64.unpack_from(self._prod, 0)[0]
        data, mask = self._data, self._mask
        n = 0
        unpack = _U32.unpack_from
        try:
            while cons < prod and n < max_records:
                pos = cons & mask
                hdr = unpack(data, pos)[0]
                if hdr & _BUSY:
                    break
                length = hdr & _LEN_MASK
                if not hdr & _DISCARD:
                    handle(data, pos + _HDR, length)
                    n += 1
                cons += (length + _HDR + 7) & ~7
        finally:
            # release only after the handler is done with the bytes: the kernel may
            # overwrite them as soon as the consumer position moves
            _U64.pack_into(self._cons, 0, cons)
        return n

    @property
    def data(self) -> memoryview:
        """The data area (records at the offsets `peek` gives)."""
        return self._data

    def peek(self, max_records: int = 1 << 30) -> tuple[list[tuple[int, int]], int]:
        """The committed records as (offset in `data`, size), without consuming them, and
        the consumer position after them: pass it to `release` once they are read."""
        cons = _U64.unpack_from(self._cons, 0)[0]
        prod = _U64.unpack_from(self._prod, 0)[0]
        data, mask = self._data, self._mask
        unpack = _U32.unpack_from
        out: list[tuple[int, int]] = []
        while cons < prod and len(out) < max_records:
            pos = cons & mask
            hdr = unpack(data, pos)[0]
            if hdr & _BUSY:
                break
            length = hdr & _LEN_MASK
            if not hdr & _DISCARD:
                out.append((pos + _HDR, length))
            cons += (length + _HDR + 7) & ~7
        return out, cons

    def release(self, cons: int) -> None:
        """Give the records before consumer position `cons` back to the kernel."""
        _U64.pack_into(self._cons, 0, cons)

    def close(self) -> None:
        """Unmap the ring; safe to call twice."""
        if self._poll.closed:
            return
        self._poll.close()
        self._data.release()
        self._view.release()
        self._prod.close()
        self._cons.close()
