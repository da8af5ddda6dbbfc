"""Which auth sensor runs: the first auth log that exists, else the journal when it can be
read, else the auth log sensor waiting for a file; both can be forced on or off."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from vigil.config import load_config
from vigil.sensors.auth_select import auth_sensors, choose_auth_sources
from vigil.sensors.authlog import AuthLogSensor
from vigil.sensors.journald import JournaldSensor, journal_unavailable_reason

PATHS = ["/var/log/auth.log", "/var/log/secure"]


def choose(authlog, journald, existing=(), journal_problem=None):
    calls = []

    def problem():
        calls.append(1)
        return journal_problem
    choice = choose_auth_sources(authlog, journald, PATHS, journal_problem=problem,
                                 exists=lambda p: p in existing)
    return choice.sources, choice.reasons, bool(calls)


@pytest.mark.parametrize("authlog,journald,existing,problem,sources", [
    # auto: the first file that exists, else the journal, else wait for a file
    ("auto", "auto", ["/var/log/secure"], None, ("authlog",)),
    ("auto", "auto", [], None, ("journald",)),
    ("auto", "auto", [], "no journal files", ("authlog",)),
    # forced on: that one (and only that one, unless both)
    (True, "auto", [], None, ("authlog",)),
    ("auto", True, ["/var/log/auth.log"], None, ("journald",)),
    (True, True, [], None, ("authlog", "journald")),
    # off
    (False, "auto", ["/var/log/auth.log"], None, ("journald",)),
    (False, "auto", [], "journalctl not found on PATH", ()),
    ("auto", False, [], None, ("authlog",)),
    (False, False, ["/var/log/auth.log"], None, ()),
    # the old keys: authlog enabled = true, journald enabled = false
    (True, False, [], None, ("authlog",)),
])
def test_choice(authlog, journald, existing, problem, sources) -> None:
    got, reasons, _ = choose(authlog, journald, existing, problem)
    assert got == sources
    assert [r.split(":")[0] for r in reasons] == ["authlog", "journald"] or \
        [r.split(":")[0] for r in reasons] == ["journald", "authlog"]


def test_reasons_say_which_and_why_the_other_is_off() -> None:
    sources, reasons, checked = choose("auto", "auto", ["/var/log/secure"])
    assert reasons == ("authlog: following /var/log/secure (the first of /var/log/auth.log, "
                       "/var/log/secure that exists)",
                       "journald: not used (an auth log file exists)")
    assert not checked  # journalctl is not even run when a file exists
    _, reasons, _ = choose("auto", "auto", [], None)
    assert reasons[0].startswith("journald: reading the systemd journal (no auth log file")
    _, reasons, _ = choose("auto", "auto", [], "no journal files under /run/log/journal")
    assert "waiting for one of /var/log/auth.log, /var/log/secure to appear" in reasons[0]
    assert reasons[1] == "journald: unavailable: no journal files under /run/log/journal"
    _, reasons, _ = choose(True, True)
    assert "counted twice" in reasons[1]
    _, reasons, _ = choose(False, "auto", [], "journalctl not found on PATH")
    assert "SSH logins are not watched" in reasons[1]


def test_auth_sensors_builds_them_and_logs_the_choice(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    log = tmp_path / "auth.log"
    log.write_text("")
    config = tmp_path / "vigil.toml"
    config.write_text(f'[sensors.authlog]\npaths = ["{log}"]\n')
    cfg = load_config(config)
    with caplog.at_level(logging.INFO):
        sensors = auth_sensors(cfg.sensors, tmp_path, journal_problem=lambda: None)
    assert [type(s) for s in sensors] == [AuthLogSensor]
    assert f"auth sensors: authlog: following {log}" in caplog.text
    log.unlink()
    sensors = auth_sensors(cfg.sensors, tmp_path, journal_problem=lambda: None)
    assert [type(s) for s in sensors] == [JournaldSensor]


def test_on_this_machine_without_auth_log_or_journal_the_auth_log_is_awaited(
        tmp_path: Path) -> None:
    """The real check: `journalctl` is installed here, but no journald writes a journal."""
    problem = journal_unavailable_reason(journal_dirs=[str(tmp_path)])
    assert problem is not None and "no journal files" in problem
    assert journal_unavailable_reason("no-such-journalctl") == "no-such-journalctl not found on PATH"
    config = tmp_path / "vigil.toml"
    config.write_text(f'[sensors.authlog]\npaths = ["{tmp_path / "auth.log"}"]\n')
    cfg = load_config(config)
    sensors = auth_sensors(cfg.sensors, tmp_path,
                           journal_problem=lambda: journal_unavailable_reason(
                               journal_dirs=[str(tmp_path)]))
    assert [type(s) for s in sensors] == [AuthLogSensor]
    sensors[0].start()
    assert sensors[0].stats()["waiting"] == 1
    sensors[0].stop()
