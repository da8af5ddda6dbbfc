"""Hot reload of vigil.toml through real files, real inotify (watchdog) and the poll."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Callable

import pytest
from suppress_fixtures import detection, proc

from vigil.config import VigilConfig, load_config
from vigil.suppress.holder import AllowlistHolder
from vigil.suppress.reload import ConfigReloader
from vigil.suppress.suppressor import Suppressor

CC_ALLOWED = '[allowlist]\nprocesses = [{ value = "cc", reason = "builds" }]\n'
MAKE_ALLOWED = '[allowlist]\nprocesses = ["make"]\n'
RELOAD_DEADLINE = 2.0


def wait_until(predicate: Callable[[], bool], timeout: float = RELOAD_DEADLINE) -> bool:
    """Poll `predicate` until it holds or `timeout` passes (no fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def values(holder: AllowlistHolder) -> list:
    return [e.value for e in holder.current.processes]


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.ERROR and r.name == "vigil.suppress.reload"]


def start(path: Path, **kw) -> tuple[AllowlistHolder, ConfigReloader]:
    holder = AllowlistHolder(load_config(path).allowlist)
    return holder, ConfigReloader(path, holder, **kw).start()


def test_saved_change_applies_within_two_seconds_via_inotify(tmp_path: Path) -> None:
    path = tmp_path / "vigil.toml"
    path.write_text(CC_ALLOWED)
    # a poll far slower than the deadline: only inotify can make it in time
    holder, reloader = start(path, poll_interval=60)
    try:
        sup = Suppressor(holder)
        cc = detection(process=proc("/usr/bin/cc"))
        assert sup.process(cc).suppressed is not None
        path.write_text(MAKE_ALLOWED)
        assert wait_until(lambda: values(holder) == ["make"])
        assert sup.process(cc).suppressed is None
    finally:
        reloader.stop()


def test_editor_style_replace_by_rename_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "vigil.toml"
    path.write_text(CC_ALLOWED)
    holder, reloader = start(path, poll_interval=60)
    try:
        tmp = tmp_path / ".vigil.toml.swp"
        tmp.write_text(MAKE_ALLOWED)
        os.replace(tmp, path)
        assert wait_until(lambda: values(holder) == ["make"])
    finally:
        reloader.stop()


def test_fallback_poll_applies_changes_without_inotify(tmp_path: Path) -> None:
    path = tmp_path / "vigil.toml"
    path.write_text(CC_ALLOWED)
    holder, reloader = start(path, poll_interval=0.2, use_inotify=False)
    try:
        path.write_text(MAKE_ALLOWED)
        assert wait_until(lambda: values(holder) == ["make"])
    finally:
        reloader.stop()


@pytest.mark.parametrize("broken, line, col", [
    ('[allowlist]\nprocesses = ["make"\nusers = []\n', 3, 1),           # TOML syntax
    ('[allowlist]\nprocesses = ["make"]\nports = [70000]\n', 3, 10),      # invalid value
    ('[allowlist]\nprocesses = ["make"]\nprocess = ["x"]\n', 3, 1),        # unknown key
])
def test_invalid_file_keeps_previous_allowlist_with_one_located_error(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, broken: str, line: int, col: int) -> None:
    path = tmp_path / "vigil.toml"
    path.write_text(CC_ALLOWED)
    caplog.set_level(logging.INFO, logger="vigil.suppress.reload")
    holder, reloader = start(path, poll_interval=0.05)
    try:
        path.write_text(broken)
        assert wait_until(lambda: reloader.last_error is not None)
        assert values(holder) == ["cc"]
        # many more looks at the same broken file: still exactly one error
        for _ in range(5):
            reloader.check(force=True)
        assert wait_until(lambda: len(errors(caplog)) == 1)
        [message] = errors(caplog)
        assert message.startswith(f"{path}:{line}:{col}: ")
        assert "keeping the previous allowlist" in message
        assert (reloader.last_error.line, reloader.last_error.col) == (line, col)
        # fixing the file recovers
        path.write_text(MAKE_ALLOWED)
        assert wait_until(lambda: values(holder) == ["make"])
        assert reloader.last_error is None
        assert len(errors(caplog)) == 1
    finally:
        reloader.stop()


def test_deleted_file_keeps_the_allowlist_and_comes_back(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "vigil.toml"
    path.write_text(CC_ALLOWED)
    caplog.set_level(logging.INFO, logger="vigil.suppress.reload")
    holder = AllowlistHolder(load_config(path).allowlist)
    reloader = ConfigReloader(path, holder)  # driven by hand: check() is the unit of work
    path.unlink()
    assert reloader.check() is False and reloader.check() is False
    assert values(holder) == ["cc"]
    assert len(errors(caplog)) == 1 and "is gone" in errors(caplog)[0]
    path.write_text(MAKE_ALLOWED)
    assert reloader.check() is True and values(holder) == ["make"]


def test_unchanged_content_is_not_reloaded_and_listeners_get_new_configs(tmp_path: Path) -> None:
    path = tmp_path / "vigil.toml"
    path.write_text(CC_ALLOWED)
    seen: list[VigilConfig] = []
    holder = AllowlistHolder(load_config(path).allowlist)
    reloader = ConfigReloader(path, holder, on_config=[seen.append])
    path.write_text(CC_ALLOWED)  # touched, same content
    assert reloader.check(force=True) is False and holder.generation == 0
    path.write_text(MAKE_ALLOWED + '[rules]\ndisabled = ["Noisy"]\n')
    assert reloader.check(force=True) is True
    assert [c.rules.disabled for c in seen] == [("Noisy",)]


def test_reverting_a_broken_file_to_the_active_version_clears_the_error(tmp_path: Path) -> None:
    path = tmp_path / "vigil.toml"
    path.write_text(CC_ALLOWED)
    holder = AllowlistHolder(load_config(path).allowlist)
    reloader = ConfigReloader(path, holder)
    path.write_text("[allowlist\n")
    reloader.check(force=True)
    assert reloader.last_error is not None
    path.write_text(CC_ALLOWED)
    reloader.check(force=True)
    assert reloader.last_error is None and holder.generation == 0
