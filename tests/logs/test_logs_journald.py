"""`JournaldSensor`: journal JSON parsing and the journalctl subprocess path.

No systemd-journald runs on this machine, so the subprocess test puts a stand-in
`journalctl` script first on PATH: it records its arguments and prints written journal
JSON lines, as `journalctl -o json -f` would.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.sensors.base import Sensor, SensorUnavailable
from vigil.sensors.journald import JournaldSensor, parse_journal_entry

ENTRY = {"__CURSOR": "s=abc;i=1", "__REALTIME_TIMESTAMP": "1795000000123456",
         "_HOSTNAME": "web", "SYSLOG_IDENTIFIER": "sshd-session", "_PID": "4242",
         "MESSAGE": "Failed password for root from 203.0.113.9 port 5555 ssh2"}


def test_parse_journal_entry() -> None:
    ev = parse_journal_entry(ENTRY)
    assert ev.type == "auth.ssh_failed" and ev.args["src_ip"] == "203.0.113.9"
    assert ev.ts == 1795000000123456000 and ev.hostname == "web"
    assert ev.proc.name == "sshd-session" and ev.proc.pid == 4242


def test_parse_journal_entry_with_byte_array_message_and_bad_fields() -> None:
    msg = "Invalid user \udcff from 198.51.100.1 port 22"
    raw = list(msg.encode("utf-8", "surrogateescape"))
    ev = parse_journal_entry({"SYSLOG_IDENTIFIER": "sshd", "MESSAGE": raw, "_PID": "x"})
    assert ev.type == "auth.ssh_invalid_user" and ev.args["src_ip"] == "198.51.100.1"
    assert ev.proc.pid is None
    assert parse_journal_entry({"SYSLOG_IDENTIFIER": "sshd"}) is None
    assert parse_journal_entry({"SYSLOG_IDENTIFIER": 3, "MESSAGE": "x"}) is None
    assert parse_journal_entry({"SYSLOG_IDENTIFIER": "cron", "MESSAGE": "x"}) is None
    sudo = dict(ENTRY, SYSLOG_IDENTIFIER="sudo",
                MESSAGE="alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/usr/bin/id")
    assert parse_journal_entry(sudo).type == "auth.sudo_command"


def _fake_journalctl(tmp_path: Path, lines: list[str]) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    data = tmp_path / "entries.jsonl"
    data.write_text("".join(line + "\n" for line in lines))
    script = bindir / "journalctl"
    script.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/args\ncat {data}\nexec sleep 30\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bindir


def _read_until(sensor: JournaldSensor, n: int) -> list:
    events: list = []
    deadline = time.monotonic() + 10
    while len(events) < n and time.monotonic() < deadline:
        events += sensor.read(0.2)
    return events


def test_subprocess_path_with_stand_in_journalctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    second = dict(ENTRY, __CURSOR="s=abc;i=2",
                  MESSAGE="Accepted publickey for deploy from 198.51.100.7 port 1 ssh2")
    bindir = _fake_journalctl(tmp_path, [json.dumps(ENTRY), "{broken json",
                                         json.dumps({"SYSLOG_IDENTIFIER": "sshd", "MESSAGE": "Server listening"}),
                                         json.dumps(second)])
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    journal = tmp_path / "journal" / "machine"
    journal.mkdir(parents=True)
    (journal / "system.journal").write_bytes(b"")
    state = tmp_path / "cursor"
    s = JournaldSensor(state_file=state, journal_dirs=[str(tmp_path / "journal")])
    assert isinstance(s, Sensor)
    s.start()
    try:
        events = _read_until(s, 2)
    finally:
        s.stop()
    assert [e.type for e in events] == ["auth.ssh_failed", "auth.ssh_accepted"]
    assert s.stats()["bad_json"] == 1 and s.stats()["unparsed"] == 1
    args = (tmp_path / "args").read_text().split()
    assert args[:2] == ["-o", "json"] and "-f" in args and "SYSLOG_IDENTIFIER=sshd" in args
    assert "-n" in args  # no cursor yet: start at the end
    assert state.read_text() == "s=abc;i=2"
    # a restart continues after the saved cursor
    assert s.command()[s.command().index("--after-cursor") + 1] == "s=abc;i=2"


def test_unavailable_without_journalctl_or_journal(tmp_path: Path) -> None:
    with pytest.raises(SensorUnavailable, match="not found"):
        JournaldSensor(journalctl="no-such-journalctl-binary").start()
    empty = tmp_path / "j"
    empty.mkdir()
    # the real journalctl is installed here but no journald writes journal files
    with pytest.raises(SensorUnavailable, match="no journal files"):
        JournaldSensor(journalctl="sh", journal_dirs=[str(empty)]).start()


_VALUES = st.one_of(st.none(), st.integers(), st.text(max_size=80),
                    st.lists(st.integers(min_value=-5, max_value=300), max_size=40),
                    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional={
    "SYSLOG_IDENTIFIER": st.one_of(st.sampled_from(["sshd", "sudo", "su"]), _VALUES),
    "MESSAGE": st.one_of(st.sampled_from([ENTRY["MESSAGE"], "alice : TTY=x ; COMMAND=y"]), _VALUES),
    "_PID": _VALUES, "__REALTIME_TIMESTAMP": _VALUES, "_HOSTNAME": _VALUES}))
def test_any_journal_entry_parses_or_is_none(entry: dict) -> None:
    ev = parse_journal_entry(entry)
    assert ev is None or ev.source == "auth"


def test_journalctl_that_exits_is_restarted_from_the_cursor(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in prints its entries and exits at once (as a crashed journalctl would):
    the sensor starts it again, after the saved cursor."""
    import vigil.sensors.journald as jd

    second = dict(ENTRY, __CURSOR="s=abc;i=2",
                  MESSAGE="Accepted publickey for deploy from 198.51.100.7 port 1 ssh2")
    bindir = _fake_journalctl(tmp_path, [json.dumps(ENTRY), json.dumps(second)])
    script = bindir / "journalctl"
    script.write_text(script.read_text().replace("exec sleep 30\n", "exit 1\n")
                      .replace(f"> {tmp_path}/args", f">> {tmp_path}/args"))
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(jd, "RESTART_MIN_SECS", 0.05)
    journal = tmp_path / "journal"
    journal.mkdir()
    (journal / "system.journal").write_bytes(b"")
    s = JournaldSensor(state_file=tmp_path / "cursor", journal_dirs=[str(journal)])
    s.start()
    try:
        deadline = time.monotonic() + 10
        while s.stats()["restarts"] < 2 and time.monotonic() < deadline:
            s.read(0.05)
    finally:
        s.stop()
    assert s.stats()["restarts"] >= 2 and s.stats()["exited"] >= 2
    runs = (tmp_path / "args").read_text().splitlines()
    assert "-n" in runs[0].split()                      # first start: at the end
    assert "--after-cursor s=abc;i=2" in runs[1]        # a restart: after the cursor


def test_hostile_journal_entries_never_crash_the_sensor(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Escape codes, invalid UTF-8 (journalctl gives such a MESSAGE as a byte array), a huge
    message, one journalctl nulled (over 4096 bytes without --all), a stamp from the far
    future, wrong types: each gives an event or is counted, and the good entry after them
    still arrives."""
    bad = [
        dict(ENTRY, MESSAGE="Invalid user \x1b]0;pwned\x07\x1b[2J from 192.0.2.1 port 1"),
        dict(ENTRY, MESSAGE=list(b"Invalid user \xff\xfe from 192.0.2.2 port 2")),
        dict(ENTRY, MESSAGE="Invalid user " + "x" * 200_000 + " from 192.0.2.3 port 3"),
        dict(ENTRY, MESSAGE=None),
        dict(ENTRY, __REALTIME_TIMESTAMP="99999999999999999999999"),
        dict(ENTRY, _PID=["1"], SYSLOG_IDENTIFIER={"x": 1}),
    ]
    last = dict(ENTRY, __CURSOR="s=abc;i=9", MESSAGE="Failed password for root from "
                "198.51.100.9 port 9 ssh2", _PID="9999")
    bindir = _fake_journalctl(tmp_path, [json.dumps(e) for e in bad] + [json.dumps(last)])
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    journal = tmp_path / "journal"
    journal.mkdir()
    (journal / "system.journal").write_bytes(b"")
    s = JournaldSensor(journal_dirs=[str(journal)])
    s.start()
    try:
        events = _read_until(s, 5)
    finally:
        s.stop()
    assert events[-1].args["src_ip"] == "198.51.100.9"
    assert events[0].args["user"] == "\x1b]0;pwned\x07\x1b[2J"
    assert s.stats()["entries"] == 7 and s.stats()["unparsed"] >= 2
    assert s.stats()["future_stamps"] == 1
    assert all(0 < e.ts <= time.time_ns() for e in events)
