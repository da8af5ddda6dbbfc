"""Real kernel: the rule-derived read filter keeps only the read-only opens rules can need.

Both BPF objects. The filter is given by hand here (what `vigil.rules.kernel_filters`
computes is tested in tests/rules/test_kernel_filters.py and, end to end, by replaying a
raw recording in tests/e2e/test_e2e_rule_filter.py).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from ebpf_harness import requires_bpf

from vigil.sensors.ebpf.lanes import ReadFilter
from vigil.sensors.ebpf.sensor import OBJECT_ENV, EbpfSensor

pytestmark = requires_bpf


@pytest.mark.parametrize("kind", ["full", "compat"])
def test_only_needed_reads_cross_and_the_rest_is_counted(kind, monkeypatch, tmp_path):
    monkeypatch.delenv(OBJECT_ENV, raising=False)
    (tmp_path / "keep").mkdir()
    (tmp_path / "x").mkdir()
    for n in ("a", "b", "keep/c", "server.key"):
        (tmp_path / n).write_text("x")
    d = str(tmp_path)
    sensor = EbpfSensor(event_types={"openat"}, bpf_object=kind,
                        read_filter=ReadFilter((f"{d}/a",), (f"{d}/keep/",), (".key",)))
    sensor.start()
    code = (f"import os\n"
            f"for p in ['{d}/a', '{d}/b', '{d}/keep/c', '{d}/./b', '{d}//b', '{d}/server.key',"
            f"          '{d}/x/../b']:\n"
            f"    os.close(os.open(p, os.O_RDONLY))\n"
            f"os.chdir('{d}'); os.close(os.open('b', os.O_RDONLY))\n"
            f"os.close(os.open('{d}/b', os.O_WRONLY))\n")

    def opens() -> list[tuple[str, int]]:
        child = subprocess.Popen([sys.executable, "-c", code])
        assert child.wait(10) == 0
        got = []
        for _ in range(10):
            got += [(e.args["name"], e.args["flags"] & 3) for e in sensor.read(0.1)
                    if e.type == "openat" and e.proc.pid == child.pid
                    and e.args.get("name", "").startswith(d)]
        return sorted(got)

    try:
        filtered = opens()
        dropped = sensor.stats()["ignored_by_rules"]
        sensor.set_read_filter(None)  # as a rule reload that needs every read does
        unfiltered = opens()
    finally:
        sensor.stop()
    # the plain read of b stays in the kernel; "./", "//", "..", relative and the write
    # cross, and a file name ending wanted
    assert filtered == sorted([(f"{d}/a", 0), (f"{d}/keep/c", 0), (f"{d}/b", 0),
                               (f"{d}/b", 0), (f"{d}/b", 0), (f"{d}/b", 0), (f"{d}/b", 1),
                               (f"{d}/server.key", 0)])
    assert dropped >= 1
    assert len(unfiltered) == len(filtered) + 1
