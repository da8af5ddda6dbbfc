"""`vigil status` and `vigil reload` against a running `vigil run`, and every metric that
docs/cli.md lists served with its documented labels (issue 15, item 5).

Needs root and a kernel that loads BPF (CI runs as root); skips only when those are absent.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from vigil.sensors.ebpf.sensor import unavailable_reason

REASON = unavailable_reason()
pytestmark = [pytest.mark.bpf, pytest.mark.skipif(REASON is not None, reason=REASON or "")]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def vigil(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vigil", *args], capture_output=True,
                          text=True, timeout=60)


def test_status_reload_and_documented_metrics(tmp_path: Path) -> None:
    port = free_port()
    sink = tmp_path / "alerts.jsonl"
    cfg = tmp_path / "vigil.toml"
    cfg.write_text(f'state_dir = "{tmp_path / "state"}"\n[sensors.authlog]\nenabled = false\n'
                   f'[metrics]\nenabled = true\nlisten = "[::1]:{port}"\n'
                   f'[alerts]\n[alerts.sinks.f]\ntype = "file"\npath = "{sink}"\n'
                   '[[alerts.routes]]\nsink = "f"\n')
    err = tmp_path / "run.err"
    agent = subprocess.Popen([sys.executable, "-m", "vigil", "run", "-c", str(cfg),
                              "--stats-interval", "3600"], stdout=subprocess.DEVNULL,
                             stderr=open(err, "wb"))
    try:
        deadline = time.monotonic() + 60
        while "vigil: watching" not in err.read_text():
            assert agent.poll() is None and time.monotonic() < deadline, err.read_text()
            time.sleep(0.1)
        subprocess.run(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL, check=True)
        time.sleep(1.5)
        r = vigil("status", "-c", str(cfg), "--json")
        assert r.returncode == 0, r.stderr
        st = json.loads(r.stdout)
        assert st["pid"] == agent.pid and st["config"] == str(cfg)
        assert {s["name"] for s in st["sensors"]} == {"ebpf"}
        assert st["rules"]["falco"] > 0 and "reverse_shell" in st["rules"]["detectors"]
        assert st["incidents"]["opened"] >= 1 and st["audit"]["degraded"] is None
        assert st["alerts"]["sinks"]["f"]["pending"] >= 0
        text = vigil("status", "-c", str(cfg))
        assert text.returncode == 0 and "running, pid" in text.stdout
        reloaded = vigil("reload", "-c", str(cfg))
        assert reloaded.returncode == 0 and "rules: reloaded" in reloaded.stdout
        assert vigil("status", "-c", str(cfg), "--json").stdout.count("reloaded") >= 1
        scrape = httpx.get(f"http://[::1]:{port}/metrics", timeout=10).text
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)
    gone = vigil("status", "-c", str(cfg))
    assert gone.returncode == 1 and "no agent is running" in gone.stderr
    assert "Traceback" not in gone.stderr
    # every metric the docs list is served, with the labels the docs give it
    table = DOCS.read_text().split("| metric | labels | what |")[1].split("\n\n")[0]
    documented = 0
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        names = re.findall(r"`(vigil_[a-z_]+|process_[a-z_]+)`", cells[0])
        labels = re.findall(r"`([a-z_]+)`", cells[1].split("(")[0]) if cells[1] else []
        for name in names:
            documented += 1
            samples = [line for line in scrape.splitlines()
                       if re.match(rf"{name}(\{{|\s)", line)]
            assert samples, f"{name} is documented but not served"
            for label in labels:
                assert any(f'{label}="' in line for line in samples), (name, label)
    assert documented >= 25
