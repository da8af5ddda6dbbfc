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
