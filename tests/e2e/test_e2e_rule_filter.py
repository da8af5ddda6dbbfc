"""End to end: the rule-derived kernel filters change no detection.

`vigil record --raw` records a workload of reads (sensitive files, ordinary ones, relative
and unnormalised paths), writes and a compiler at work (objects, temporary files, a shell
profile written by the preprocessor); the recording is replayed through the default rules
and detectors, then through Falco's stable rules and the default detectors, once whole and
once with the read-only opens and the toolchain writes the kernel filters would have
dropped removed: the detections must be identical.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from needs import requires_bpf, requires_shared, shared_path

from vigil.agent import build_pipeline
from vigil.config import load_config
from vigil.events.jsonl import BadLine, encode_event, read_events
from vigil.rules.kernel_filters import plan_reads, plan_writes

pytestmark = requires_bpf + requires_shared("rules")
STABLE = shared_path("rules", "falco", "falco_rules.yaml")

WORKLOAD = r"""
set +e
cat /etc/shadow /etc/sudoers /etc/hostname >/dev/null 2>&1
cp /bin/cat {d}/kitty; {d}/kitty /etc/shadow /etc/gshadow >/dev/null 2>&1
ls /etc/pam.d >/dev/null; cat /etc/pam.d/* >/dev/null 2>&1
cd /etc && {d}/kitty ./shadow ../etc/sudoers >/dev/null 2>&1
cat /etc//shadow /tmp/../etc/shadow >/dev/null 2>&1
for i in 1 2 3; do cat /etc/os-release {d}/file >/dev/null; done
echo x > {d}/written; cat {d}/written >/dev/null
head -c 10 /root/.ssh/authorized_keys >/dev/null 2>&1
echo k > {d}/tls.key; {d}/kitty {d}/tls.key >/dev/null; cat /etc/ssl/private/* >/dev/null 2>&1
python3 -c "import socket; s=socket.socket(); s.settimeout(0.2); s.connect_ex(('192.0.2.1', 443))"
cd {d} && clang -c x.c -o x.o && clang -c {d}/x.c -o {d}/y.o && rm -f x.o
clang -E -P -x c {d}/profile.txt -o {d}/.bashrc
"""


def test_replay_with_and_without_the_read_filter_gives_identical_detections(tmp_path: Path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "x.c").write_text("int f(void) { return 2; }\n")
    (tmp_path / "profile.txt").write_text("alias ls='ls -la'\n")
    rec = tmp_path / "raw.jsonl"
    script = tmp_path / "work.sh"
    script.write_text(WORKLOAD.format(d=tmp_path))
    err_path = tmp_path / "record.err"
    recorder = subprocess.Popen([sys.executable, "-m", "vigil", "record", "-o", str(rec),
                                 "--raw", "--duration", "120"], stderr=open(err_path, "wb"))
    deadline = time.monotonic() + 60
    while "eBPF sensor attached" not in err_path.read_text(errors="replace"):
        assert recorder.poll() is None, err_path.read_text()
        assert time.monotonic() < deadline, "vigil record did not start"
        time.sleep(0.1)
    subprocess.run(["bash", str(script)], check=False)
    time.sleep(1.0)  # the last records reach the ring and the recorder
    recorder.send_signal(signal.SIGINT)
    assert recorder.wait(60) == 0, err_path.read_text()
    events = [e for e in read_events(rec) if not isinstance(e, BadLine)]
    for name, rules in (("default", None), ("stable", str(STABLE))):
        cfg = tmp_path / f"{name}.toml"
        cfg.write_text(f'state_dir = "{tmp_path / name}"\n'
                       + (f'[rules]\nfalco = ["{rules}"]\n' if rules else ""))
        built = build_pipeline(config=load_config(cfg), audit=False, alerts=False,
                               detectors=True)
        plan = plan_reads(built.falco, built.sigma, built.detectors)
        wplan = plan_writes(built.falco, built.sigma, built.detectors)
        # the filters are on for these rules
        assert plan.kernel_paths() is not None and wplan.kernel_paths() is not None, name
        kept = [e for e in events if plan.keeps(e)]
        assert len(kept) < len(events)  # it does drop reads of this workload
        both = [e for e in kept if wplan.keeps(e)]
        assert len(both) < len(kept)  # ... and the compiler's writes
        kept = both
        filtered = tmp_path / f"filtered-{name}.jsonl"
        with open(filtered, "wb") as f:
            for e in kept:
                f.write(encode_event(e))
        whole, after = _detections(rec, cfg), _detections(filtered, cfg)
        assert any("/etc/shadow" in o for _, o in whole), name
        assert any(".bashrc" in o for _, o in whole), name  # the compiler's write judged
        assert whole == after, name


def _detections(path: Path, cfg: Path) -> list[tuple[str, str]]:
    out = subprocess.run([sys.executable, "-m", "vigil", "replay", str(path), "-c", str(cfg),
                          "--json", "--detections", "--no-suppress"],
                         capture_output=True, text=True, check=True).stdout
    return sorted((d["rule"], d["output"]) for d in
                  (json.loads(line) for line in out.splitlines() if line.startswith("{")))
