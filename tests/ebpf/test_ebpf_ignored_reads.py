"""Read-only opens under `[sensors] ignore_read_prefixes` are dropped in the kernel; writes
under them, and reads elsewhere, still arrive. Real kernel, real child processes."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

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


def _failed_opens(ignore_missing: bool, tmp: Path) -> tuple[list[tuple[str, int]], int]:
    missing_read, missing_write = tmp / "nothing-here.h", tmp / "no-dir" / "new"
    sensor = EbpfSensor(event_types={"openat", "open"}, ignore_missing_reads=ignore_missing)
    sensor.start()
    try:
        code = (f"import os\n"
                f"for p, f in (({str(missing_read)!r}, os.O_RDONLY), "
                f"({str(missing_write)!r}, os.O_WRONLY | os.O_CREAT)):\n"
                f"    try: os.open(p, f)\n"
                f"    except FileNotFoundError: pass\n"
                f"os.open({str(tmp / 'marker')!r}, os.O_WRONLY | os.O_CREAT)\n")
        subprocess.run(["python3", "-c", code], check=True)
        seen: list[tuple[str, int]] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(p.endswith("marker") for p, _ in seen):
            seen += [(e.fd.name, e.res) for e in sensor.read(0.1)
                     if e.fd is not None and e.fd.name and e.fd.name.startswith(str(tmp))]
        return seen, sensor.stats()["ignored_missing_reads"]
    finally:
        sensor.stop()


def test_missing_reads_are_dropped_in_the_kernel_only_when_asked(tmp_path):
    """`[sensors] ignore_missing_reads`: a read-only open failing with ENOENT (a compiler
    searching its include path) stays in the kernel; a failed create still arrives."""
    ENOENT = -2
    kept, none_counted = _failed_opens(False, tmp_path)
    assert (str(tmp_path / "nothing-here.h"), ENOENT) in kept
    assert none_counted == 0
    dropped, counted = _failed_opens(True, tmp_path)
    assert str(tmp_path / "nothing-here.h") not in [p for p, _ in dropped]
    assert (str(tmp_path / "no-dir" / "new"), ENOENT) in dropped
    assert counted >= 1


def _execs(ignore_missing: bool, tmp: Path) -> tuple[list[tuple[str, int]], int]:
    missing = tmp / "no-such-program"
    sensor = EbpfSensor(event_types={"execve", "execveat"}, ignore_missing_execs=ignore_missing)
    sensor.start()
    try:
        code = (f"import os\n"
                f"try: os.execv({str(missing)!r}, ['x'])\n"
                f"except FileNotFoundError: pass\n"
                f"os.execv('/bin/true', ['true', {str(tmp)!r}])\n")
        subprocess.run(["python3", "-c", code], check=True)
        seen: list[tuple[str, int]] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(r == 0 for _, r in seen):
            seen += [(str(e.args.get("filename")), e.res) for e in sensor.read(0.1)
                     if str(tmp) in " ".join(e.proc.args) or str(tmp) in
                     str(e.args.get("filename"))]
        return seen, sensor.stats()["ignored_missing_execs"]
    finally:
        sensor.stop()


def test_missing_execs_are_dropped_in_the_kernel_only_when_asked(tmp_path):
    """`[sensors] ignore_missing_execs`: an exec of a path that does not exist (execvp
    trying each PATH directory) stays in the kernel; the exec that runs arrives."""
    kept, none_counted = _execs(False, tmp_path)
    assert (str(tmp_path / "no-such-program"), -2) in kept
    assert none_counted == 0
    dropped, counted = _execs(True, tmp_path)
    assert str(tmp_path / "no-such-program") not in [p for p, _ in dropped]
    assert ("/usr/bin/true", 0) in dropped or ("/bin/true", 0) in dropped, dropped
    assert counted >= 1
