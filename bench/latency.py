"""How long an incident takes to reach `vigil run` stdout (issue 10: the first line stays
immediate; opening an incident never waits for a correlation window).

Starts `vigil run --json` (as root, on the real kernel) with a configuration whose only
difference from the defaults is `[incidents] target_window_secs = 0.001` (so each read below
is its own incident), then reads /etc/shadow with `cat` N times, a second apart, and for
each incident measures the time from the event (its kernel timestamp) to the moment its
`opened` line was read from the agent's stdout. Prints p50, p90, p99 and max.

Run: `sudo .venv/bin/python bench/latency.py [N]` (numbers in docs/performance.md).
"""

from __future__ import annotations

import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(n: int = 30) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="vigil-latency-"))
    cfg = tmp / "vigil.toml"
    cfg.write_text(f'state_dir = "{tmp / "state"}"\n[sensors.authlog]\nenabled = false\n'
                   "[incidents]\ntarget_window_secs = 0.001\n")
    agent = subprocess.Popen([sys.executable, "-m", "vigil", "run", "--json", "-c", str(cfg),
                              "--stats-interval", "3600"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, bufsize=0)
    err = b""
    while b"vigil: watching" not in err:
        if agent.poll() is not None:
            raise SystemExit(f"vigil run exited: {err.decode(errors='replace')}")
        err += agent.stderr.read(4096) or b""
    time.sleep(1.0)
    os.set_blocking(agent.stdout.fileno(), False)
    buf = b""
    latencies: list[float] = []
    marks = set()
    try:
        for i in range(n):
            mark = f"/nonexistent-latency-{os.getpid()}-{i}"
            marks.add(mark)
            subprocess.run(["cat", "/etc/shadow", mark], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            deadline = time.time() + 5
            found = False
            while time.time() < deadline and not found:
                r, _, _ = select.select([agent.stdout], [], [], 0.01)
                if r:
                    buf += agent.stdout.read() or b""
                seen = time.time()
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    doc = json.loads(line)
                    if doc["event"] != "opened" or mark not in json.dumps(doc):
                        continue
                    latencies.append(seen - doc["incident"]["first_ts"] / 1e9)
                    found = True
            time.sleep(1.0)
    finally:
        agent.terminate()
        agent.wait(30)
    if not latencies:
        raise SystemExit("no incident seen")
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    print(f"{len(latencies)} of {n} reads became incidents on stdout; event → line: "
          f"p50 {q[49] * 1000:.0f} ms, p90 {q[89] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
