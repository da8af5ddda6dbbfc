"""`vigil replay --format authlog`: an auth log read as the live sensor reads it, through
the same pipeline (as fail2ban-regex reads a log)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import typer
from typer.testing import CliRunner

from vigil.commands import replay as replay_command
from vigil.sensors.authlog import AuthLogFile, AuthLogSensor

NIGHT = Path(__file__).parent / "fixtures" / "night-auth.log"
NOW = datetime(2026, 11, 27, tzinfo=timezone.utc).timestamp()


def replay(*args: str):
    app = typer.Typer()
    replay_command.register(app)
    app.command("noop")(lambda: None)  # two commands, so `replay` is a subcommand
    return CliRunner().invoke(app, ["replay", *args])


def test_the_night_through_replay_finds_what_the_sensor_and_detector_find() -> None:
    for args in ([str(NIGHT), "--detections"], [str(NIGHT), "--format", "authlog",
                                                "--detections"]):
        r = replay(*args)
        assert r.exit_code == 0, r.output
        lines = r.output.splitlines()
        assert sum("[ssh_bruteforce]" in l for l in lines) == 49
        assert sum("SSH brute force from 185.220.101.47" in l for l in lines) == 19
        assert lines[-2].startswith("--- 156 events (181 lines, 25 not about authentication), "
                                    "49 detections"), lines[-2:]
    # by default, the incidents: the top attacker's story escalates to a Warning
    r = replay(str(NIGHT))
    assert r.exit_code == 0, r.output
    assert any("Warning" in l and "185.220.101.47" in l for l in r.output.splitlines())


def test_replayed_events_are_the_live_sensors_events(tmp_path: Path) -> None:
    night = tmp_path / "auth.log"
    night.write_bytes(NIGHT.read_bytes())
    os.utime(night, (NOW, NOW))
    replayed = list(AuthLogFile(night))
    sensor = AuthLogSensor([str(night)], None, start_at_end=False, now=lambda: NOW)
    sensor.start()
    live = sensor.read(0) + sensor.flush()
    sensor.stop()
    assert [e.to_dict() for e in replayed] == [e.to_dict() for e in live]
    assert len(replayed) == 156


def test_lines_of_one_sshd_process_are_joined(tmp_path: Path) -> None:
    """OpenSSH < 7 names the address only on the close that follows a failure."""
    log = tmp_path / "secure"
    lines = []
    for i in range(5):
        pid = 8100 + i
        lines += [f"Nov 23 21:50:{i:02d} host sshd[{pid}]: Disconnecting: Too many authentication "
                  f"failures for root [preauth]",
                  f"Nov 23 21:50:{i:02d} host sshd[{pid}]: Connection closed by 192.0.2.61 [preauth]"]
    log.write_text("\n".join(lines) + "\n")
    r = replay(str(log), "--json", "--detections")
    assert r.exit_code == 0, r.output
    dets = [json.loads(l) for l in r.output.splitlines() if l.startswith("{")]
    assert [d["vigil"]["rule_id"] for d in dets] == ["ssh_bruteforce.attempt"] * 4 + \
        ["ssh_bruteforce.per_ip"]
    assert all(d["output_fields"]["auth.src_ip"] == "192.0.2.61" for d in dets)


def test_rfc3164_years_come_from_the_files_modification_time(tmp_path: Path) -> None:
    log = tmp_path / "auth.log.1"
    log.write_text("Dec 31 23:59:59 h sshd[1]: Failed password for root from 192.0.2.1 port 1 "
                   "ssh2\n")
    mtime = datetime(2025, 1, 1, 0, 0, 5, tzinfo=timezone.utc).timestamp()
    os.utime(log, (mtime, mtime))
    [ev] = list(AuthLogFile(log))
    assert datetime.fromtimestamp(ev.ts / 1e9, timezone.utc).year == 2024


def test_a_recording_is_still_a_recording_and_a_bad_format_is_one_message(tmp_path: Path) -> None:
    rec = tmp_path / "events.jsonl"
    rec.write_text("# a comment\n" + json.dumps({"type": "execve", "ts": 1}) + "\n")
    r = replay(str(rec))
    assert r.exit_code == 0 and "--- 1 events (0 malformed lines skipped)" in r.output
    r = replay(str(rec), "--format", "syslog")
    assert r.exit_code == 2
    assert "--format must be one of auto, jsonl, authlog, not 'syslog'" in r.output
    assert "Traceback" not in r.output


def test_the_real_command_line(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "vigil", "replay", "--format", "authlog", str(NIGHT)],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "49 detections" in r.stdout and not list(tmp_path.iterdir())  # nothing written
