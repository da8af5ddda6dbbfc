"""Priority lane, flood control and lost-event reports: decoder units and the real kernel.

The live tests load each BPF object (full and compat), flood from a child process for a
second or two (short: they saturate a core), and check what reaches user space.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from ebpf_records import record

from needs import requires_bpf
from vigil.detectors.sensor_health import EventFloodDetector, EventsLostDetector
from vigil.events.model import Event, Process
from vigil.events.proctable import ProcessTable
from vigil.priority import Priority
from vigil.sensors.ebpf import syscalls as sc
from vigil.sensors.ebpf.decode import RecordDecoder
from vigil.sensors.ebpf.lanes import SensitivePaths
from vigil.sensors.ebpf.sensor import OBJECT_ENV, EbpfSensor

def needs_bpf(test):  # noqa: ANN001, ANN201 (a decorator)
    """`requires_bpf` for one test (the decoder tests here need no kernel)."""
    for mark in requires_bpf:
        test = mark(test)
    return test


FLOOD = """
import os, sys, time
path, secs = sys.argv[1], float(sys.argv[2])
end = time.monotonic() + secs
while time.monotonic() < end:
    for _ in range(500):
        os.close(os.open(path, os.O_RDONLY))
"""


def test_a_flood_record_decodes_to_a_flood_event():
    dec = RecordDecoder(ProcessTable(), "h")
    raw = record(sc.EV_FLOOD, args=(257, 9000, 11000, 1_000_000_000, 0, 0),
                 strings=[b"/tmp/x\0".ljust(64, b"\0")], comm=b"flooder")
    ev = dec.decode(raw, 0, len(raw))
    assert ev is not None and ev.type == "flood" and ev.proc.pid == 4242
    assert ev.args == {"syscall": "openat", "count": 9000, "offered": 11000,
                       "interval_ms": 1000, "lane": "bulk", "sample": "/tmp/x"}
    prio = record(sc.EV_FLOOD, args=(59, 5, 2005, 1, 1, 0), strings=[bytes(64)])
    ev = dec.decode(prio, 0, len(prio))
    assert ev.args["lane"] == "priority" and "sample" not in ev.args


def test_urgent_and_path_flags_reach_the_kernel_spec():
    spec = sc.BY_NAME["setuid"].spec_bytes()
    assert spec[0] & sc.SPEC_URGENT
    assert not sc.BY_NAME["openat"].spec_bytes()[0] & sc.SPEC_URGENT
    assert sc.BY_NAME["openat"].spec_bytes()[0] & sc.SPEC_PATH0
    # a symlink's first string is its target, not a path the call acts on
    assert not sc.BY_NAME["symlink"].spec_bytes()[0] & sc.SPEC_PATH0


def test_sensitive_path_keys_match_exactly_or_by_prefix(tmp_path):
    f = tmp_path / "secret"
    f.write_text("x")
    paths = SensitivePaths(files=(str(f), "/nonexistent/vigil"), prefixes=("/etc/pam.d/",))
    keys = paths.path_keys()
    # an exact file carries its NUL (it matches itself only), a prefix does not
    assert keys[0][:4] == ((len(str(f)) + 1) * 8).to_bytes(4, "little")
    assert keys[2][4:4 + 11] == b"/etc/pam.d/" and keys[2][:4] == (88).to_bytes(4, "little")
    st = f.stat()
    inodes = paths.inode_keys()
    assert len(inodes) == 1  # the missing file has no inode
    assert int.from_bytes(inodes[0][:8], "little") == st.st_ino


def _flood_event(pid: int, count: int, ts: int, lane: str = "bulk") -> Event:
    return Event(type="flood", ts=ts, proc=Process(pid=pid, name="flooder"),
                 args={"syscall": "openat", "count": count, "offered": count + 2000,
                       "interval_ms": 1000, "lane": lane, "sample": "/tmp/x"})


def test_flood_detector_reports_once_per_window_and_sums_between():
    det = EventFloodDetector()
    first = det.on_event(_flood_event(7, 100, 1))
    assert len(first) == 1 and first[0].priority is Priority.WARNING
    assert "flooder" in first[0].output and "openat" in first[0].output
    assert "2000/s" in first[0].output and "/tmp/x" in first[0].output
    assert det.on_event(_flood_event(7, 50, 2)) == []
    later = det.on_event(_flood_event(7, 10, 61 * 10**9))
    assert later[0].data["folded"] == 60  # 50 between reports + 10 now
    # another process is its own story; high-value floods are errors
    other = det.on_event(_flood_event(8, 5, 3, lane="priority"))
    assert other[0].priority is Priority.ERROR


def test_tree_walk_floods_are_audited_and_blinding_loops_alerted():
    """emulation benign `disk-usage-admin`: du and find pass flood_limit at ~10-15 k
    directory opens/s; a loop burying events runs at 200 k+/s. Only the latter alerts;
    high-value floods always do."""
    det = EventFloodDetector()
    walk = det.on_event(_flood_event(7, 11_000, 1))[0]
    assert walk.suppressed is not None and walk.suppressed.entry == "event_flood.min_rate=50000"
    assert walk.data["rate"] == 13_000 and "13000/s" in walk.suppressed.reason
    loop = det.on_event(_flood_event(8, 300_000, 1))[0]
    assert loop.suppressed is None and loop.data["rate"] == 302_000
    slow_but_sensitive = det.on_event(_flood_event(9, 500, 1, lane="priority"))[0]
    assert slow_but_sensitive.suppressed is None
    # a window the kernel closed early is not read as a fast loop
    burst = Event(type="flood", ts=1, proc=Process(pid=10, name="find"),
                  args={"syscall": "openat", "count": 1, "offered": 2001, "interval_ms": 5})
    assert det.on_event(burst)[0].suppressed is not None


def test_events_lost_detector_names_types_and_emitters():
    ev = Event(type="events_lost", ts=5, proc=Process(pid=9, name="noisy"),
               args={"count": 1200, "priority": 3, "by_type": {"openat": 1100, "close": 100},
                     "top": [{"pid": 9, "name": "noisy", "count": 1150}]})
    (d,) = EventsLostDetector().on_event(ev)
    assert d.priority is Priority.WARNING and d.name == "events_lost"
    assert "1200 records" in d.output and "3 of them high-value" in d.output
    assert "openat 1100" in d.output and "noisy (pid 9) 1150" in d.output
    assert d.data["title"] == "Events lost (sensor overloaded)"


@needs_bpf
@pytest.mark.parametrize("kind", ["full", "compat"])
def test_a_flood_is_folded_and_a_sensitive_read_in_it_still_arrives(kind, monkeypatch,
                                                                    tmp_path):
    monkeypatch.delenv(OBJECT_ENV, raising=False)
    target = tmp_path / "flood"
    target.write_text("x")
    secret = tmp_path / "secret"
    secret.write_text("s")
    link = tmp_path / "innocent"
    os.link(secret, link)
    sensor = EbpfSensor(event_types={"openat", "flood"}, bpf_object=kind, flood_limit=500,
                        sensitive=SensitivePaths(files=(str(secret),), prefixes=()))
    sensor.start()
    try:
        flood = subprocess.Popen([sys.executable, "-c", FLOOD, str(target), "1.5"])
        time.sleep(0.5)
        # the same process floods and reads: its high-value reads are not folded, and the
        # hard link is caught by its inode
        code = (f"import os\n" + "".join(
            f"os.close(os.open({str(p)!r}, os.O_RDONLY))\n" for p in (secret, link)))
        reader = subprocess.Popen([sys.executable, "-c", FLOOD + code, str(target), "0.5"])
        assert reader.wait(10) == 0
        flood.wait(10)
        events: list[Event] = []
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            events.extend(sensor.read(0.1))
            floods = {e.proc.pid for e in events if e.type == "flood"}
            if {flood.pid, reader.pid} <= floods and len(
                    [e for e in events if e.type == "openat"
                     and e.args.get("name") in (str(secret), str(link))]) == 2:
                break
        st = sensor.stats()
    finally:
        sensor.stop()
    assert st["flood_folded"] > 0 and st["flood_records"] + sensor.swept_floods > 0
    fl = [e for e in events if e.type == "flood" and e.proc.pid == flood.pid]
    assert fl and fl[0].args["syscall"] == "openat"
    # the kernel keeps the first 63 bytes of the path (pytest's tmp paths can be longer)
    sample = fl[0].args["sample"]
    assert sample == str(target) or (fl[0].args.get("sample_cut") is True
                                     and len(sample) == 63 and str(target).startswith(sample))
    assert all(e.args["offered"] > e.args["count"] > 0 for e in fl)
    sensitive = [e for e in events if e.type == "openat" and e.proc.pid == reader.pid
                 and e.args.get("name") in (str(secret), str(link))]
    assert {e.args["name"] for e in sensitive} == {str(secret), str(link)}
    # what reached user space from the flooder is about the limit per second, not all
    delivered = len([e for e in events if e.type == "openat" and e.proc.pid == flood.pid])
    folded = sum(e.args["count"] for e in fl)
    assert delivered < folded
    assert st["priority_events"] >= 2


@needs_bpf
def test_lost_records_become_one_events_lost_event(monkeypatch, tmp_path):
    """A ring of 4 KiB cannot hold a burst: the losses are reported with their type and
    the process that lost them, once per interval."""
    monkeypatch.delenv(OBJECT_ENV, raising=False)
    target = tmp_path / "f"
    target.write_text("x")
    sensor = EbpfSensor(event_types={"openat", "events_lost"}, ring_size=4096, lost_interval=60.0)
    sensor.start()
    try:
        burst = subprocess.Popen([sys.executable, "-c", FLOOD, str(target), "0.3"])
        assert burst.wait(10) == 0
        events: list[Event] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(e.type == "events_lost"
                                                      for e in events):
            events.extend(sensor.read(0.1))
        # more losses within the interval make no second report
        subprocess.run([sys.executable, "-c", FLOOD, str(target), "0.3"])
        for _ in range(15):
            events.extend(sensor.read(0.1))
    finally:
        sensor.stop()
    lost = [e for e in events if e.type == "events_lost"]
    assert len(lost) == 1
    args = lost[0].args
    assert args["count"] > 0 and args["by_type"]["openat"] > 0
    assert args["top"][0]["pid"] == burst.pid and lost[0].proc.pid == burst.pid
