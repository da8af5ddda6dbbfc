"""A busy directory beside vigil.toml (issue 14 item 11), with a real `vigil run`: the
agent's only inotify watch is on its configuration file, so thousands of file events
next door never reach it, and a saved change is still applied."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from agent_process import AgentProcess, agent_config, busy_directory, crashed, inotify_watches

BUSY_SECONDS = 2.0


def test_busy_sibling_directory_does_not_reach_the_agent(tmp_path: Path, fault_report) -> None:  # noqa: ANN001
    cfg = agent_config(tmp_path)
    st = os.stat(cfg)
    stop, rounds = threading.Event(), []
    with AgentProcess(cfg).start() as agent:
        pid = agent.proc.pid
        worker = threading.Thread(target=busy_directory, args=(tmp_path, stop, rounds))
        worker.start()
        try:
            time.sleep(BUSY_SECONDS)
            assert inotify_watches(pid) == {(st.st_dev, st.st_ino)}
            cfg.write_text(cfg.read_text() + '[allowlist]\nprocesses = ["make"]\n')
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and "allowlist (1 entries)" not in agent.stderr:
                time.sleep(0.05)
        finally:
            stop.set()
            worker.join(20)
        assert "allowlist (1 entries)" in agent.stderr, agent.stderr
        assert inotify_watches(pid) == {(os.stat(cfg).st_dev, os.stat(cfg).st_ino)}
        rc = agent.stop()
    crashes = int(crashed(agent.stderr)) + int(rc != 0)
    assert rc == 0 and not crashed(agent.stderr), agent.stderr
    assert rounds and rounds[0] > 100
    fault_report.record("busy directory beside vigil.toml (file events next door)",
                        runs=rounds[0] * 2, crashes=crashes, lost=0,
                        note="inotify watches: the config file only")
