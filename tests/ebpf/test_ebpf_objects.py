"""Real kernel: both BPF objects (full, compat) load and report, and `auto` falls back.

The kernel here (6.18) accepts both; a kernel that refuses the full object is stood in for
by the full object with one kfunc name changed in its ELF and BTF strings: libbpf then
fails on exactly what a 6.1 kernel lacks (a kfunc it cannot resolve).
"""

from __future__ import annotations

import logging
import subprocess

import pytest
from ebpf_harness import LiveCapture
from needs import requires_bpf

from vigil.sensors.base import SensorUnavailable
from vigil.sensors.ebpf import sensor as sensor_mod
from vigil.sensors.ebpf.sensor import COMPAT_OBJECT, DEFAULT_OBJECT, OBJECT_ENV, EbpfSensor

KFUNCS = (b"bpf_rdonly_cast", b"bpf_task_from_vpid", b"bpf_task_release")


pytestmark = requires_bpf


def test_only_the_full_object_references_kfuncs():
    full, compat = DEFAULT_OBJECT.read_bytes(), COMPAT_OBJECT.read_bytes()
    assert all(k in full for k in KFUNCS)
    assert not any(k in compat for k in KFUNCS)


@pytest.mark.parametrize("kind", ["full", "compat"])
def test_each_object_loads_and_reports_execs_and_opens(kind, monkeypatch, tmp_path):
    monkeypatch.delenv(OBJECT_ENV, raising=False)
    target = tmp_path / "seen"
    target.write_text("x")
    sensor = EbpfSensor(event_types={"execve", "openat", "kill"}, bpf_object=kind)
    sensor.start()
    try:
        assert sensor.object_kind == kind
        live = LiveCapture(sensor)
        events = live.run(["cat", str(target)],
                          lambda e: e.type == "openat" and e.args.get("name") == str(target))
        ex = [e for e in events if e.type == "execve" and e.proc.pid == live.pid and e.res == 0]
        assert ex and ex[0].proc.exepath == "/usr/bin/cat"
        op = [e for e in events if e.type == "openat" and e.args.get("name") == str(target)]
        assert op[0].fd is not None and op[0].fd.ino == target.stat().st_ino
        # a signalled live task is named on both objects (compat: from /proc)
        with subprocess.Popen(["sleep", "5"]) as victim:
            try:
                events = live.python(f"import os; os.kill({victim.pid}, 0)",
                                     lambda e: e.type == "kill" and e.proc.pid == live.pid)
            finally:
                victim.kill()
        k = [e for e in events if e.type == "kill" and e.proc.pid == live.pid][0]
        assert k.args["target_pid"] == victim.pid and k.args["target_name"] == "sleep"
        assert k.args["target_exepath"] == "/usr/bin/sleep"
    finally:
        sensor.stop()


def test_auto_falls_back_to_compat_with_one_line_saying_why(monkeypatch, tmp_path, caplog):
    monkeypatch.delenv(OBJECT_ENV, raising=False)
    broken = tmp_path / "vigil.bpf.o"
    broken.write_bytes(DEFAULT_OBJECT.read_bytes().replace(b"bpf_task_from_vpid",
                                                           b"bpf_task_from_vpiX"))
    monkeypatch.setattr(sensor_mod, "DEFAULT_OBJECT", broken)
    monkeypatch.setitem(sensor_mod.OBJECTS, "full", broken)
    sensor = EbpfSensor(event_types={"openat"})
    with caplog.at_level(logging.INFO):
        sensor.start()
    try:
        assert sensor.object_kind == "compat"
    finally:
        sensor.stop()
    mine = [r for r in caplog.records if r.name == "vigil.sensors.ebpf"
            and r.levelno >= logging.WARNING]
    assert len(mine) == 1
    assert "refused the full BPF object" in mine[0].getMessage()
    assert "bpf_task_from_vpiX" in mine[0].getMessage()
    # libbpf's own failure messages for the refused object are not shown as warnings
    assert not [r for r in caplog.records if r.name.endswith("libbpf")
                and r.levelno >= logging.WARNING]


def test_forcing_the_full_object_does_not_fall_back(monkeypatch, tmp_path):
    broken = tmp_path / "vigil.bpf.o"
    broken.write_bytes(DEFAULT_OBJECT.read_bytes().replace(b"bpf_task_from_vpid",
                                                           b"bpf_task_from_vpiX"))
    monkeypatch.setattr(sensor_mod, "DEFAULT_OBJECT", broken)
    monkeypatch.setitem(sensor_mod.OBJECTS, "full", broken)
    monkeypatch.setenv(OBJECT_ENV, "full")
    with pytest.raises(SensorUnavailable, match="vigil.bpf.o failed to load"):
        EbpfSensor(event_types={"openat"}, bpf_object="compat").start()


def test_environment_variable_overrides_and_is_checked(monkeypatch):
    monkeypatch.setenv(OBJECT_ENV, "compat")
    s = EbpfSensor(event_types={"openat"}, bpf_object="full")
    s.start()
    try:
        assert s.object_kind == "compat"
    finally:
        s.stop()
    monkeypatch.setenv(OBJECT_ENV, "newest")
    with pytest.raises(SensorUnavailable, match="VIGIL_BPF_OBJECT: must be one of auto, full, "
                                                "compat, not 'newest'"):
        EbpfSensor(event_types={"openat"}).start()
