"""Decoding what the kernel-load and credential-access detectors need (records built by
hand, no kernel): file capability values, the target of /proc/PID/mem opens, the uids a
process had before a set*uid call, and the bpf() commands the kernel lets through."""

from __future__ import annotations

import struct

import pytest

from ebpf_records import record

from vigil.events.proctable import ProcessTable
from vigil.sensors.ebpf import syscalls as sc
from vigil.sensors.ebpf.decode import RecordDecoder, parse_vfs_caps

CAP_SETUID, CAP_NET_RAW = 7, 13
AT_FDCWD = -100 & 0xFFFFFFFF


@pytest.fixture
def dec(tmp_path):
    (tmp_path / "passwd").write_text("root:x:0:0::/root:/bin/bash\nnobody:x:65534:65534::/:/x\n")
    (tmp_path / "group").write_text("root:x:0:\n")
    return RecordDecoder(ProcessTable(proc_root=tmp_path / "noproc", etc_root=tmp_path), "h")


def _decode(dec, rec):
    return dec.decode(rec, 0, len(rec))


def test_vfs_cap_values_of_each_revision():
    v2 = struct.pack("<IIIII", 0x02000001, 1 << CAP_SETUID, 0, 0, 0)
    assert parse_vfs_caps(v2) == (1 << CAP_SETUID, 0, True)
    v3 = struct.pack("<IIIIII", 0x03000000, 1 << CAP_NET_RAW, 0, 1, 0, 1000)  # rootid 1000
    assert parse_vfs_caps(v3) == ((1 << CAP_NET_RAW) | (1 << 32), 0, False)
    v1 = struct.pack("<III", 0x01000001, 1 << CAP_SETUID, 0)
    assert parse_vfs_caps(v1) == (1 << CAP_SETUID, 0, True)
    assert parse_vfs_caps(b"\x00" * 20) is None and parse_vfs_caps(b"abc") is None


def test_setxattr_of_security_capability_is_decoded(dec):
    value = struct.pack("<IIIII", 0x02000001, 1 << CAP_SETUID, 0, 0, 0)
    ev = _decode(dec, record(188, args=(0, 0, 0, len(value), 0, 0),
                             strings=[b"/var/tmp/x/perl\0", b"security.capability\0"], buf=value))
    assert ev.type == "setxattr" and ev.args["path"] == "/var/tmp/x/perl"
    assert (ev.args["cap_permitted"], ev.args["cap_effective"]) == (1 << CAP_SETUID, True)
    other = _decode(dec, record(188, args=(0, 0, 0, 3, 0, 0),
                                strings=[b"/srv/f\0", b"user.comment\0"], buf=b"abc"))
    assert "cap_permitted" not in other.args


def test_proc_mem_opens_name_their_target(dec):
    dec.table.on_fork(1, 812, 0)
    _decode(dec, record(59, res=0, tgid=812, comm=b"sshd"))  # sshd execs: the table knows it
    ev = _decode(dec, record(257, res=5, args=(AT_FDCWD, 0, 0, 0, 0, 0),
                             strings=[b"/proc/812/mem\0"]))
    assert (ev.args["target_pid"], ev.args["target_name"]) == (812, "sshd")
    task = _decode(dec, record(257, res=6, args=(AT_FDCWD, 0, 0, 0, 0, 0),
                               strings=[b"/proc/812/task/813/mem\0"]))
    assert task.args["target_pid"] == 812
    for path in (b"/proc/self/mem\0", b"/proc/812/maps\0", b"/proc/812/memx\0"):
        ev = _decode(dec, record(257, res=7, args=(AT_FDCWD, 0, 0, 0, 0, 0), strings=[path]))
        assert "target_pid" not in ev.args, path


def test_set_uid_calls_carry_the_uids_before_them(dec):
    dec.table.on_fork(1, 4242, 0)
    _decode(dec, record(257, res=3, args=(AT_FDCWD, 0, 0, 0, 0, 0), strings=[b"/x\0"],
                        uid=65534))  # the process runs as nobody
    ev = _decode(dec, record(105, res=0, args=(0, 0, 0, 0, 0, 0), uid=0))  # setuid(0)
    assert ev.proc.uid == 0 and (ev.args["uid_before"], ev.args["euid_before"]) == (65534, 65534)
    other = _decode(dec, record(257, res=4, args=(AT_FDCWD, 0, 0, 0, 0, 0), strings=[b"/y\0"]))
    assert "uid_before" not in other.args


def test_only_code_loading_bpf_commands_pass_the_kernel_filter():
    bpf = sc.BY_NAME["bpf"]
    assert bpf.arg_filter is not None and bpf.arg_filter[0] == 0
    assert sc.BPF_PROG_LOAD in bpf.arg_filter[1] and 1 not in bpf.arg_filter[1]  # MAP_LOOKUP
    assert len(bpf.arg_filter[1]) <= 4  # the program compares at most four values
