"""`AuthLogSensor` on real files: follow, rotation, truncation, restart with saved offsets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vigil.sensors.authlog import RETIRE_AFTER, AuthLogSensor
from vigil.sensors.base import Sensor, SensorUnavailable

NOW = 1_795_000_000.0  # 2026-11-18


def line(n: int, ip: str = "203.0.113.5") -> str:
    return f"Nov 18 10:00:{n % 60:02d} web sshd[{100 + n}]: Failed password for root from {ip} port {1000 + n} ssh2\n"


def append(path: Path, text: str) -> None:
    with open(path, "a") as fh:
        fh.write(text)


def ports(events) -> list[int]:
    return [e.args["src_port"] - 1000 for e in events]


class Clock:
    def __init__(self) -> None:
        self.t = NOW

    def __call__(self) -> float:
        return self.t


def started(tmp_path: Path, content: str | None, **kw) -> tuple[Path, AuthLogSensor]:
    """`auth.log` in tmp_path (written when `content` is given) and a started sensor on it."""
    log = tmp_path / "auth.log"
    if content is not None:
        log.write_text(content)
    kw.setdefault("now", Clock())
    sensor = AuthLogSensor([str(log)], tmp_path / "state.json", **kw)
    sensor.start()
    return log, sensor


def test_is_a_sensor_and_follows_appends(tmp_path: Path) -> None:
    log, s = started(tmp_path, line(0), start_at_end=False)
    assert isinstance(s, Sensor)
    assert ports(s.read(0)) == [0]
    assert s.read(0) == []
    append(log, line(1) + "Nov 18 10:00:02 web CRON[1]: session opened\n" + line(2))
    assert ports(s.read(0)) == [1, 2]
    assert s.stats()["unparsed"] == 1 and s.stats()["events"] == 3
    s.stop()
    s.stop()


def test_start_at_end_skips_history(tmp_path: Path) -> None:
    log, s = started(tmp_path, line(0) + line(1))
    assert s.read(0) == []
    append(log, line(2))
    assert ports(s.read(0)) == [2]
    s.stop()


def test_partial_line_waits_for_its_newline(tmp_path: Path) -> None:
    log, s = started(tmp_path, "")
    full = line(3)
    append(log, full[:30])
    assert s.read(0) == []
    # a restart in the middle of the line re-reads it whole
    s.stop()
    s = started(tmp_path, None)[1]
    append(log, full[30:])
    assert ports(s.read(0)) == [3]
    s.stop()


def test_rotation_by_rename_reads_old_tail_then_new_file(tmp_path: Path) -> None:
    clock = Clock()
    log, s = started(tmp_path, line(0), start_at_end=False, now=clock)
    assert ports(s.read(0)) == [0]
    append(log, line(1))
    os.rename(log, tmp_path / "auth.log.1")
    log.write_text(line(2))
    assert ports(s.read(0)) == [1, 2]
    assert s.stats()["rotations"] == 1
    # the syslog daemon writes one more line to the old inode before it reopens
    append(tmp_path / "auth.log.1", line(3))
    append(log, line(4))
    assert sorted(ports(s.read(0))) == [3, 4]
    clock.t += RETIRE_AFTER + 1
    s.read(0)
    append(tmp_path / "auth.log.1", line(5))  # too late: the old inode is closed
    assert s.read(0) == []
    s.stop()


def test_file_missing_between_rename_and_create(tmp_path: Path) -> None:
    log, s = started(tmp_path, "")
    append(log, line(1))
    os.rename(log, tmp_path / "auth.log.1")
    assert ports(s.read(0)) == [1]
    assert s.read(0) == []
    log.write_text(line(2))
    assert ports(s.read(0)) == [2]
    s.stop()


def test_truncation_restarts_from_zero(tmp_path: Path) -> None:
    log, s = started(tmp_path, line(0) + line(1), start_at_end=False)
    assert ports(s.read(0)) == [0, 1]
    with open(log, "w") as fh:  # copytruncate
        fh.truncate(0)
    assert s.read(0) == []
    append(log, line(7))
    assert ports(s.read(0)) == [7]
    assert s.stats()["truncations"] == 1
    s.stop()


def test_restart_resumes_at_saved_offset(tmp_path: Path) -> None:
    log, s = started(tmp_path, line(0), start_at_end=False)
    assert ports(s.read(0)) == [0]
    s.stop()
    append(log, line(1))
    s = started(tmp_path, None, start_at_end=False)[1]
    assert ports(s.read(0)) == [1]
    s.stop()
    state = json.loads((tmp_path / "state.json").read_text())
    assert state[str(log)]["offset"] == log.stat().st_size


def test_restart_after_rotation_while_down_reads_rest_of_old_file(tmp_path: Path) -> None:
    log, s = started(tmp_path, line(0), start_at_end=False)
    assert ports(s.read(0)) == [0]
    s.stop()
    append(log, line(1))
    os.rename(log, tmp_path / "auth.log.1")
    log.write_text(line(2))
    s = started(tmp_path, None)[1]
    assert ports(s.read(0)) == [1, 2]
    s.stop()


def test_restart_after_truncation_while_down(tmp_path: Path) -> None:
    log, s = started(tmp_path, line(0) + line(1), start_at_end=False)
    s.read(0)
    s.stop()
    with open(log, "w") as fh:
        fh.write(line(9))
    s = started(tmp_path, None)[1]
    assert ports(s.read(0)) == [9]
    s.stop()


def test_corrupt_state_file_is_ignored(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(line(0))
    (tmp_path / "state.json").write_text("{not json")
    s = started(tmp_path, None, start_at_end=False)[1]
    assert ports(s.read(0)) == [0]
    s.stop()


def test_binary_garbage_does_not_crash(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(b"\xff\xfe\x00garbage\n" + line(1).encode())
    s = started(tmp_path, None, start_at_end=False)[1]
    assert ports(s.read(0)) == [1]
    s.stop()


def test_unavailable_when_no_file_exists(tmp_path: Path) -> None:
    s = AuthLogSensor([str(tmp_path / "auth.log"), str(tmp_path / "secure")], None)
    with pytest.raises(SensorUnavailable, match="none of"):
        s.start()


def test_read_waits_for_a_line_written_meanwhile(tmp_path: Path) -> None:
    import threading
    log, s = started(tmp_path, "")
    writer = threading.Timer(0.1, append, args=(log, line(4)))
    writer.start()
    try:
        assert ports(s.read(5.0)) == [4]
    finally:
        writer.cancel()
        s.stop()


def test_follows_the_first_existing_candidate(tmp_path: Path) -> None:
    secure = tmp_path / "secure"
    secure.write_text(line(1))
    other = tmp_path / "other"
    other.write_text(line(2))
    s = AuthLogSensor([str(tmp_path / "auth.log"), str(secure), str(other)], None, start_at_end=False)
    s.start()
    assert ports(s.read(0)) == [1]
    s.stop()
