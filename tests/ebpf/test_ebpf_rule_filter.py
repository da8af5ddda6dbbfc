"""Real kernel: the rule-derived read filter keeps only the read-only opens rules can need.

Both BPF objects. The filter is given by hand here (what `vigil.rules.kernel_filters`
computes is tested in tests/rules/test_kernel_filters.py and, end to end, by replaying a
raw recording in tests/e2e/test_e2e_rule_filter.py).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

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


def _own_events(sensor: EbpfSensor, pids: set[int], rounds: int = 10) -> list:
    got = []
    for _ in range(rounds):
        got += [e for e in sensor.read(0.1) if e.proc.pid in pids]
    return got


@pytest.mark.parametrize("kind", ["full", "compat"])
def test_relative_reads_in_a_quiet_working_directory_stay_in_the_kernel(kind, monkeypatch,
                                                                        tmp_path):
    monkeypatch.delenv(OBJECT_ENV, raising=False)
    src, keep = tmp_path / "src", tmp_path / "keep"
    (src / "sub").mkdir(parents=True)
    keep.mkdir()
    for n in ("src/a", "src/b", "src/c", "src/server.key", "src/.hidden", "keep/x"):
        (tmp_path / n).write_text("x")
    sensor = EbpfSensor(event_types={"openat", "rename"}, bpf_object=kind,
                        read_filter=ReadFilter(("/etc/shadow",), (f"{keep}/",), (".key",)))
    sensor.start()

    def run(code: str) -> list[str]:
        child = subprocess.Popen([sys.executable, "-c", code])
        assert child.wait(10) == 0
        return sorted(e.fd.nameraw for e in _own_events(sensor, {child.pid})
                      if e.type == "openat" and e.fd is not None
                      and not (e.fd.nameraw or "/").startswith("/"))

    opens = ("import os\n"
             "def o(p):\n"
             "    os.close(os.open(p, os.O_RDONLY))\n")
    try:
        first = run(opens + f"os.chdir('{src}'); o('a')\n")
        before = sensor.stats()["ignored_by_rules"]
        second = run(opens + f"os.chdir('{src}')\n"
                     "for p in ['a', 'b', 'c', 'server.key', '.hidden', './b', '../src/b',"
                     "          'sub/../b']:\n"
                     "    o(p)\n"
                     f"os.chdir('{keep}'); o('x')\n")
        dropped = sensor.stats()["ignored_by_rules"] - before
        # the directory moves (seen as a rename): its verdict is forgotten
        run(f"import os; os.rename('{src}', '{tmp_path}/moved')")
        third = run(opens + f"os.chdir('{tmp_path}/moved'); o('b')\n")
    finally:
        sensor.stop()
    assert first == ["a"]   # the first relative open there crosses and teaches user space
    # a, b and c stay in the kernel; a wanted ending, a hidden file, "./", ".." and a
    # directory under a wanted prefix cross
    assert second == sorted(["server.key", ".hidden", "./b", "../src/b", "sub/../b", "x"])
    assert dropped >= 3
    assert third == ["b"]


needs_clang = pytest.mark.skipif(shutil.which("clang") is None,
                                 reason="clang (installed by `make test`) is missing")


@needs_clang
@pytest.mark.parametrize("kind", ["full", "compat"])
def test_a_compilers_writes_cross_only_where_a_rule_looks(kind, monkeypatch, tmp_path):
    monkeypatch.delenv(OBJECT_ENV, raising=False)
    src, out, watched = tmp_path / "src", tmp_path / "out", tmp_path / "watched"
    for d in (src, out, watched):
        d.mkdir()
    (src / "x.c").write_text("int f(void) { return 1; }\n")
    sensor = EbpfSensor(event_types={"openat", "creat", "unlink", "unlinkat", "rename"},
                        bpf_object=kind, read_filter=ReadFilter(("/etc/shadow",), (), ()),
                        write_filter=ReadFilter((), (f"{watched}/",), ()))
    sensor.start()

    def written(cmd: list[str], cwd: Path = src) -> list[str]:
        """The paths under tmp_path opened for writing or unlinked while `cmd` ran."""
        child = subprocess.Popen(cmd, cwd=cwd)
        assert child.wait(60) == 0
        events = []
        for _ in range(10):
            events += sensor.read(0.1)
        paths = [e.fd.name if e.fd is not None and e.fd.name else
                 e.args.get("name") or e.args.get("path") or "" for e in events
                 if (e.type in ("openat", "creat") and e.args.get("flags", 1) & 0o1103)
                 or e.type in ("unlink", "unlinkat")]
        return [p for p in paths if p.startswith(str(tmp_path))]

    try:
        written(["clang", "-c", "x.c", "-o", "x.o"])   # teaches that src is quiet
        before = sensor.stats()["ignored_toolchain_writes"]
        quiet = written(["clang", "-c", "x.c", "-o", "x2.o"]) + written(
            ["clang", "-c", f"{src}/x.c", "-o", f"{out}/y.o"])
        dropped = sensor.stats()["ignored_toolchain_writes"] - before
        seen = written(["clang", "-c", "x.c", "-o", f"{watched}/z.o"])
        other = written([sys.executable, "-c", f"open('{out}/by-python', 'w').close()"])
    finally:
        sensor.stop()
    assert not any(p.startswith((str(src), str(out))) for p in quiet), quiet
    assert dropped >= 2
    assert any(p.startswith(f"{watched}/") for p in seen), seen
    assert f"{out}/by-python" in other   # anyone else's writes always cross
