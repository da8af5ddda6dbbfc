"""What the kernel leaves out on purpose: read-only opens under `[sensors]
ignore_read_prefixes`, and opens/execs of paths that do not exist; writes, reads elsewhere
and other failures still arrive. Real kernel, real child processes."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from ebpf_harness import requires_bpf

from vigil.sensors.ebpf.sensor import EbpfSensor

pytestmark = requires_bpf


def test_read_only_opens_under_ignored_prefixes_do_not_reach_user_space():
    # a short directory: kernel-side prefixes are at most 64 bytes
    tmp_path = Path(tempfile.mkdtemp(prefix="vg", dir="/tmp"))
    quiet = tmp_path / "lib"
    quiet.mkdir()
    (quiet / "libx.so").write_text("x")
    loud = tmp_path / "etc"
    loud.mkdir()
    (loud / "conf").write_text("y")
    sensor = EbpfSensor(event_types={"openat", "open"},
                        ignore_read_prefixes=(f"{quiet}/",))
    sensor.start()
    try:
        code = (f"open({str(quiet / 'libx.so')!r}).read(); open({str(loud / 'conf')!r}).read(); "
                f"open({str(quiet / 'new.so')!r}, 'w').write('z')")
        child = subprocess.run(["python3", "-c", code], check=True)
        assert child.returncode == 0
        seen: list[str] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and str(quiet / "new.so") not in seen:
            seen += [e.fd.name for e in sensor.read(0.1) if e.fd is not None and e.fd.name
                     and e.fd.name.startswith(str(tmp_path))]
        ignored = sensor.stats()["ignored_reads"]
    finally:
        sensor.stop()
        shutil.rmtree(tmp_path, ignore_errors=True)
    assert str(loud / "conf") in seen            # a read elsewhere arrives
    assert str(quiet / "new.so") in seen         # a write under the prefix arrives
    assert str(quiet / "libx.so") not in seen    # the read under the prefix does not
    assert ignored >= 1


def test_default_configuration_drops_the_dynamic_loaders_reads():
    """With `vigil.toml`'s defaults, starting a dynamically linked program sends the file it
    reads, but not the loader cache and shared libraries every program start reads."""
    from vigil.config import load_config

    cfg = load_config(None)
    sensor = EbpfSensor(event_types={"openat", "open", "execve"},
                        ignore_read_prefixes=cfg.sensors.ignore_read_prefixes)
    sensor.start()
    try:
        child = subprocess.Popen(["cat", "/etc/hostname"], stdout=subprocess.DEVNULL)
        child.wait()
        opened: list[str] = []
        execs = 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "/etc/hostname" not in opened:
            for e in sensor.read(0.1):
                if e.proc.pid != child.pid:
                    continue
                if e.type == "execve":
                    execs += e.res == 0  # execvp also tries the PATH entries before /usr/bin
                elif e.fd is not None and e.fd.name:
                    opened.append(e.fd.name)
        ignored = sensor.stats()["ignored_reads"]
    finally:
        sensor.stop()
    assert execs == 1
    assert "/etc/hostname" in opened
    assert "/etc/ld.so.cache" not in opened
    assert not [p for p in opened if p.startswith(("/usr/lib/", "/lib/"))], opened
    assert ignored >= 2  # at least the loader cache and libc


def _paths_seen(sensor: EbpfSensor, code: str, tmp: Path, last: str,
                counter: str) -> tuple[list[tuple[str, int]], int]:
    """Run `code` in a child; the (path, result) of its events under `tmp` until one names
    `last`, and the sensor's `counter`."""
    sensor.start()
    try:
        subprocess.run(["python3", "-c", code], check=True)
        seen: list[tuple[str, int]] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(last in p for p, _ in seen):
            for e in sensor.read(0.1):
                path = e.fd.name if e.fd is not None else e.args.get("filename")
                if path and (str(tmp) in path or str(tmp) in " ".join(e.proc.args)):
                    seen.append((path, e.res))
        return seen, sensor.stats()[counter]
    finally:
        sensor.stop()


def _failed_opens(ignore_missing: bool, tmp: Path) -> tuple[list[tuple[str, int]], int]:
    missing_read, missing_write = tmp / "nothing-here.h", tmp / "no-dir" / "new"
    code = (f"import os\n"
            f"for p, f in (({str(missing_read)!r}, os.O_RDONLY), "
            f"({str(missing_write)!r}, os.O_WRONLY | os.O_CREAT)):\n"
            f"    try: os.open(p, f)\n"
            f"    except FileNotFoundError: pass\n"
            f"os.open({str(tmp / 'marker')!r}, os.O_WRONLY | os.O_CREAT)\n")
    sensor = EbpfSensor(event_types={"openat", "open"}, ignore_missing_reads=ignore_missing)
    return _paths_seen(sensor, code, tmp, "marker", "ignored_missing_reads")


def _execs(ignore_missing: bool, tmp: Path) -> tuple[list[tuple[str, int]], int]:
    code = (f"import os\n"
            f"try: os.execv({str(tmp / 'no-such-program')!r}, ['x'])\n"
            f"except FileNotFoundError: pass\n"
            f"os.execv('/bin/true', ['true', {str(tmp)!r}])\n")
    sensor = EbpfSensor(event_types={"execve", "execveat"}, ignore_missing_execs=ignore_missing)
    return _paths_seen(sensor, code, tmp, "/true", "ignored_missing_execs")


@pytest.mark.parametrize("run, missing, still_sent", [
    # a read-only open failing with ENOENT (a compiler searching its include path) stays
    # in the kernel; a failed create still arrives
    (_failed_opens, "nothing-here.h", ("no-dir/new", -2)),
    # an exec of a path that does not exist (execvp trying each PATH directory) stays in
    # the kernel; the exec that runs arrives
    (_execs, "no-such-program", ("/true", 0)),
], ids=["ignore_missing_reads", "ignore_missing_execs"])
def test_missing_paths_are_dropped_in_the_kernel_only_when_asked(tmp_path, run, missing,
                                                                 still_sent):
    """`[sensors] ignore_missing_reads` / `ignore_missing_execs`."""
    kept, none_counted = run(False, tmp_path)
    assert (str(tmp_path / missing), -2) in kept
    assert none_counted == 0
    dropped, counted = run(True, tmp_path)
    assert str(tmp_path / missing) not in [p for p, _ in dropped]
    tail, res = still_sent
    assert any(p.endswith(tail) and r == res for p, r in dropped), dropped
    assert counted >= 1
