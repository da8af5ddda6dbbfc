"""`AuthLogSensor` on real files: follow, rotation, truncation, restart with saved offsets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vigil.sensors import authlog
from vigil.sensors.authlog import MAX_LINE, RETIRE_AFTER, AuthLogSensor
from vigil.sensors.base import Sensor

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


def test_a_log_missing_at_start_is_followed_when_it_appears(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(authlog, "LOOK_INTERVAL", 0.0)
    s = AuthLogSensor([str(tmp_path / "auth.log"), str(tmp_path / "secure")],
                      tmp_path / "state.json", now=Clock())
    s.start()  # waits instead of giving up
    assert s.stats()["waiting"] == 1 and s.path is None and s.read(0) == []
    assert "none of" in caplog.text
    # rsyslog is installed later: all of the new file is read, from its start
    (tmp_path / "secure").write_text(line(1) + line(2))
    assert ports(s.read(0)) == [1, 2]
    assert s.path == str(tmp_path / "secure") and s.stats()["waiting"] == 0
    append(tmp_path / "secure", line(3))
    assert ports(s.read(0)) == [3]
    s.stop()
    assert json.loads((tmp_path / "state.json").read_text())[str(tmp_path / "secure")]["offset"] > 0


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


# -- bounded and hostile input (issue 14, items 13 and faults) ---------------------------

def test_a_1mb_line_is_cut_counted_and_logged_and_the_rest_of_the_file_is_read(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    huge = "Nov 18 10:00:00 web sshd[9]: Failed password for " + "x" * (1 << 20) + \
        " from 198.51.100.1 port 1 ssh2\n"
    log, s = started(tmp_path, line(0) + huge + line(1), start_at_end=False)
    assert ports(s.read(0)) == [0, 1]
    assert s.stats()["long_lines"] == 1 and s.stats()["unparsed"] == 1
    assert f"longer than {MAX_LINE} bytes" in caplog.text
    # the same arriving in pieces, as a writer flushes it: still one cut line, and the
    # tail of the long line is not glued to anything
    append(log, huge[:300_000])
    assert s.read(0) == []
    append(log, huge[300_000:700_000])
    assert s.read(0) == []
    append(log, huge[700_000:] + line(2))
    assert ports(s.read(0)) == [2]
    assert s.stats()["long_lines"] == 2
    s.stop()


def test_long_line_warnings_are_rate_limited(tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    huge = "y" * (MAX_LINE + 10) + "\n"
    log, s = started(tmp_path, "", start_at_end=False)
    for _ in range(5):
        append(log, huge)
        s.read(0)
    assert s.stats()["long_lines"] == 5
    assert caplog.text.count("longer than") == 1
    s.stop()


def test_a_large_backlog_is_read_in_bounded_steps(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(authlog, "READ_CHUNK", 4096)
    text = "".join(line(i, ip=f"192.0.2.{i % 200}") for i in range(300))
    log, s = started(tmp_path, text, start_at_end=False)
    got: list[int] = []
    for _ in range(100):
        batch = s.read(0)
        assert len(batch) < 60  # one 4 KiB step at a time
        got += ports(batch)
        if not batch:
            break
    assert got == list(range(300))
    s.stop()


def test_hostile_lines_never_crash_the_sensor(tmp_path: Path) -> None:
    hostile = [
        b"Nov 18 10:00:00 web sshd[1]: Invalid user \x1b]0;pwned\x07\x1b[2J from 192.0.2.1 port 1\n",
        b"Nov 18 10:00:00 web sshd[2]: Invalid user \xff\xfe\xc0 from 192.0.2.2 port 2\n",
        b"Nov 18 10:00:00 web sshd[3]: Invalid user a\x00b from 192.0.2.3 port 3\n",
        b"\x00" * 5000 + b"\n",
        b"Nov 18 10:00:00 web sshd[4]: message repeated 99999999999 times: [ x]\n",
        b"<999999999999>1 9999-99-99T99:99:99Z h sshd 1 - - x\n",
        b"Nov 99 99:99:99 web sshd[5]: Invalid user z from 192.0.2.5 port 5\n",
        b"Dec 31 23:59:59 web sshd[6]: Invalid user z from 192.0.2.6 port 99999999999999999999\n",
        b"\r\n\r\n",
    ]
    log, s = started(tmp_path, "", start_at_end=False)
    for chunk in hostile:
        with open(log, "ab") as fh:
            fh.write(chunk)
        s.read(0)
    append(log, line(7))
    assert ports(s.read(0)) == [7]
    st = s.stats()
    assert st["errors"] == 0 and st["events"] >= 4
    s.stop()


def test_a_line_from_the_future_is_counted_at_the_time_it_is_read(tmp_path: Path) -> None:
    clock = Clock()
    log, s = started(tmp_path, "", start_at_end=False, now=clock)
    append(log, "Nov 18 13:00:00 web sshd[5]: Failed password for root from 192.0.2.9 port 9 ssh2\n")
    [ev] = s.read(0)
    assert ev.ts == int(clock.t * 1e9) and "13:00:00" in ev.raw
    assert s.stats()["future_stamps"] == 1
    append(log, line(1))  # 10:00:01, before the clock: kept as written
    [ev] = s.read(0)
    assert ev.ts < int(clock.t * 1e9) and s.stats()["future_stamps"] == 1
    s.stop()


def test_sshd_lines_are_joined_by_pid_in_the_sensor(tmp_path: Path) -> None:
    log, s = started(tmp_path, "", start_at_end=False)
    append(log, "Nov 18 10:00:00 web sshd[8148]: Disconnecting: Too many authentication failures "
                "for root [preauth]\n")
    assert s.read(0) == []  # waits for its address
    append(log, "Nov 18 10:00:01 web sshd[8148]: Connection closed by 192.0.2.61 [preauth]\n")
    got = s.read(0)
    assert [(e.type, e.args.get("src_ip")) for e in got] == [
        ("auth.ssh_too_many_failures", "192.0.2.61"), ("auth.ssh_preauth_disconnect", "192.0.2.61")]
    s.stop()


def test_an_address_less_line_that_never_gets_one_is_released(tmp_path: Path) -> None:
    clock = Clock()
    log, s = started(tmp_path, "", start_at_end=False, now=clock)
    append(log, "Nov 18 10:00:00 web sshd[77]: error: kex_exchange_identification: banner line "
                "too long\n")
    assert s.read(0) == []
    clock.t += 10
    [ev] = s.read(0)
    assert ev.type == "auth.ssh_protocol_error" and "src_ip" not in ev.args
    s.stop()
