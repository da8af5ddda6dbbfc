"""Acceptance (issue 15, item 4): with no auth.log but a working journal, SSH brute force is
detected with the default configuration.

Nothing is mocked. This machine runs no systemd, so the test makes a host of that kind in a
private mount namespace (`unshare -m`): tmpfs over /run and /var/log, /dev/log pointing at
the journal's syslog socket, and a real systemd-journald. In it, `vigil run` with an empty
configuration chooses the journal by itself, a real OpenSSH server logs through syslog into
the journal, and the real OpenSSH client fails to log in six times
(tests/logs/real_journal_driver.py does all that and reports as JSON).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DRIVER = Path(__file__).with_name("real_journal_driver.py")
_JOURNALD = [p for p in ("/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald")
             if os.path.exists(p)]
_MISSING = [name for name, ok in (
    ("root", os.geteuid() == 0), ("unshare (util-linux)", shutil.which("unshare")),
    ("systemd-journald (package systemd)", _JOURNALD),
    ("journalctl", shutil.which("journalctl")), ("sshd (openssh-server)", os.path.exists("/usr/sbin/sshd")),
    ("ssh and ssh-keygen (openssh-client)", shutil.which("ssh") and shutil.which("ssh-keygen")),
) if not ok]
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(_MISSING), reason=f"needs {', '.join(_MISSING)}")]


def test_brute_force_detected_from_the_journal_with_the_default_config(tmp_path: Path) -> None:
    work = tmp_path / "ns"
    work.mkdir()
    run = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable,
                          str(DRIVER), str(work)], capture_output=True, text=True, timeout=400)
    if "overlay" in run.stderr and run.returncode != 0:
        pytest.fail(f"could not build the namespace's /dev (overlayfs): {run.stderr[-2000:]}")
    assert run.returncode == 0, run.stderr[-4000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    journal = result["journal_sshd_lines"]
    # sshd really wrote to the journal through syslog, PAM lines included
    assert any(l.startswith("Failed password for root from 127.0.0.1") for l in journal), journal
    assert any(l.startswith("pam_unix(sshd:auth): authentication failure") for l in journal)
    err = result["vigil_stderr"]
    assert ("auth sensors: journald: reading the systemd journal (no auth log file: none of "
            "/var/log/auth.log, /var/log/secure exists)") in err, err[-3000:]
    assert "auth sensors: authlog: not used" in err
    watching = next(l for l in err.splitlines() if "vigil: watching with" in l)
    assert "journald" in watching and "authlog" not in watching
    ssh = [d for d in result["detections"]
           if d.get("vigil", {}).get("rule_id", "").startswith("ssh_bruteforce.")
           and d["output_fields"].get("auth.src_ip") == "127.0.0.1"]
    rules = [d["vigil"]["rule_id"] for d in ssh]
    # six guesses, each logged as PAM + Failed + Connection closed lines: six attempts;
    # the fifth crosses the threshold (a Warning), with the default config
    assert rules == ["ssh_bruteforce.attempt"] * 4 + ["ssh_bruteforce.per_ip"] * 2, rules
    assert ssh[4]["priority"] == "Warning"
    assert "SSH brute force from 127.0.0.1: 5 failed attempts in 10 min" in ssh[4]["output"]
