"""Registers in the event model: signed 64-bit like every number of a recording, read by
`audit.syscall_arg[N]` unsigned in hex, as auditd prints a0..a3 (the live kernel side is
tests/ebpf/test_ebpf_syscall_regs.py)."""

from __future__ import annotations

import msgspec
import pytest

from vigil.events.fields import DEFAULT_FIELDS
from vigil.events.model import Event
from vigil.sensors.ebpf.decode import _signed_regs

ARG = DEFAULT_FIELDS.extractor


def test_registers_in_recordings_are_64_bit_and_read_unsigned():
    # a register with the top bit set (a sign-extended -100) is stored as a signed number
    regs = _signed_regs((0xFFFFFFFFFFFFFF9C, 1, 2, 3, 4, 5))
    assert regs[0] == -100
    ev = msgspec.json.decode(msgspec.json.encode(Event(type="openat", regs=regs)), type=Event)
    assert ARG("audit.syscall_arg", "0")(ev) == "ffffffffffffff9c"  # as auditd prints it
    for bad in (b'{"type":"x","regs":[18446744073709551616]}',
                b'{"type":"x","regs":[1,2,3,4,5,6,7]}', b'{"type":"x","regs":"1"}'):
        with pytest.raises(msgspec.ValidationError):
            msgspec.json.decode(bad, type=Event)
