"""The configuration watcher watches the file, not its directory (issue 14 item 11): a
busy directory beside vigil.toml reaches neither the kernel's inotify queue of the agent
nor its reloader thread. Real inotify, read back from /proc."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from agent_process import busy_directory, inotify_watches

from vigil.config import load_config
from vigil.suppress.holder import AllowlistHolder
from vigil.suppress.reload import ConfigReloader


def ident(p: Path) -> tuple[int, int]:
    st = os.stat(p)
    return st.st_dev, st.st_ino


def test_only_the_config_file_is_watched_even_beside_a_busy_directory(tmp_path: Path) -> None:
    path = tmp_path / "vigil.toml"
    path.write_text('[allowlist]\nprocesses = ["cc"]\n')
    before = inotify_watches()
    holder = AllowlistHolder(load_config(path).allowlist)
    reloader = ConfigReloader(path, holder, poll_interval=60).start()
    stop, done = threading.Event(), []
    worker = threading.Thread(target=busy_directory, args=(tmp_path, stop, done))
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (inotify_watches() - before):
            time.sleep(0.02)
        assert inotify_watches() - before == {ident(path)}
        worker.start()
        time.sleep(1.0)  # a busy second beside the file
        path.write_text('[allowlist]\nprocesses = ["make"]\n')
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and [e.value for e in holder.current.processes] \
                != ["make"]:
            time.sleep(0.02)
        assert [e.value for e in holder.current.processes] == ["make"]
        # an editor's save by rename: the watch moves to the new file, still only it
        tmp = tmp_path / ".vigil.toml.new"
        tmp.write_text('[allowlist]\nprocesses = ["ninja"]\n')
        os.replace(tmp, path)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and [e.value for e in holder.current.processes] \
                != ["ninja"]:
            time.sleep(0.02)
        assert [e.value for e in holder.current.processes] == ["ninja"]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and inotify_watches() - before != {ident(path)}:
            time.sleep(0.02)
        assert inotify_watches() - before == {ident(path)}
    finally:
        stop.set()
        if worker.is_alive():
            worker.join(10)
        reloader.stop()
    assert done and done[0] > 100  # the directory really was busy
    # the file saw a handful of events (its own saves), the directory's thousands none
    assert reloader.fs_events < 50
