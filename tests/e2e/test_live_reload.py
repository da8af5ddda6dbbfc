"""A reloaded vigil.toml changes the running agent (issue 14 item 10): `[rules] disabled`
and `min_priority` rebuild the engines, `[detectors]` rebuilds the detectors, the
allowlist is swapped; other changed settings are named as needing a restart; the warning
about event types a sensor was not started with is given only when it is true and new.
A real Agent on its threads, real files, the real reloaders (as `vigil run` wires them)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from vigil.agent import build_pipeline
from vigil.config import load_config
from vigil.events.model import Event, FdInfo, Process
from vigil.rules.reload import RulesReloader
from vigil.runtime import Agent

RULES = """
- rule: Shadow read
  desc: test
  condition: evt.type = openat and fd.name = /etc/shadow
  output: "shadow read by %proc.name"
  priority: WARNING
- rule: Motd read
  desc: test
  condition: evt.type = openat and fd.name = /etc/motd
  output: "motd read by %proc.name"
  priority: INFO
"""


class QueueSensor:
    """A real `Sensor` fed by the test; `event_types`/`supported_types` as the eBPF
    sensor has them, to see what the agent warns about."""

    name = "queue"

    def __init__(self, event_types: set[str] | None, supported: set[str]) -> None:
        import queue
        self.q: queue.Queue[Event] = queue.Queue()
        # as EbpfSensor: what it was started with, within what it can capture
        self._supported = frozenset(supported)
        self.event_types = self._supported if event_types is None \
            else frozenset(event_types) & self._supported

    def supported_types(self) -> frozenset[str]:
        return self._supported

    def start(self) -> None:
        pass

    def read(self, timeout: float) -> list[Event]:
        import queue
        try:
            return [self.q.get(timeout=timeout)]
        except queue.Empty:
            return []

    def stop(self) -> None:
        pass

    def stats(self) -> dict[str, int]:
        return {"events": 0}


def opened(path: str, i: int, name: str = "cat") -> Event:
    return Event(type="openat", ts=i, res=3, args={"flags": 0},
                 proc=Process(pid=4000 + i, name=name, exepath=f"/usr/bin/{name}"),
                 fd=FdInfo(num=3, type="file", name=path))


def wait(cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cond(), what


class Running:
    """`vigil run`'s wiring around a QueueSensor: agent, rules reloader, config reloader."""

    def __init__(self, tmp_path: Path, toml: str, supported: set[str], *,
                 detectors: bool = True) -> None:
        self.rules = tmp_path / "local.yaml"
        self.rules.write_text(RULES)
        self.config = tmp_path / "vigil.toml"
        self.write(toml)
        self.built = build_pipeline(config=load_config(self.config), detectors=detectors,
                                    alerts=False, audit=False)
        assert not self.built.fatal, self.built.problems
        self.seen: list[str] = []
        self.built.pipeline.on_detection = lambda d: self.seen.append(d.name)
        self.sensor = sensor = QueueSensor(self.built.event_types(), supported)
        self.agent = Agent(self.built, [sensor], stats_interval=3600)
        self.rules_reloader = RulesReloader(self.built.rule_files, self.built.reloaded,
                                            self.agent.offer_engines, interval=0.05).start()
        from vigil.live_reload import start_config_reload
        self.reloader = start_config_reload(self.built, self.agent, self.rules_reloader)
        self.thread = threading.Thread(target=self.agent.run, kwargs={"duration": 120})
        self.thread.start()
        self.n = 0

    def write(self, toml: str) -> None:
        self.config.write_text(f'state_dir = "{self.config.parent / "state"}"\n'
                               f'[sensors]\nebpf = false\n[rules]\nfalco = ["{self.rules}"]\n'
                               + toml)

    def detects(self, path: str, rule: str, name: str = "cat") -> bool:
        """Whether `rule` fires on one more event, once the engine thread handled it."""
        start, before = len(self.seen), self.built.pipeline.stats.events
        self.n += 1
        self.sensor.q.put(opened(path, self.n, name))
        wait(lambda: self.built.pipeline.stats.events > before, "the event is processed")
        return rule in self.seen[start:]

    def until(self, path: str, rule: str, want: bool, name: str = "cat") -> None:
        wait(lambda: self.detects(path, rule, name) is want,
             f"{rule} {'fires' if want else 'is silent'} for {path}")

    def close(self) -> None:
        self.reloader.stop()
        self.rules_reloader.stop()
        self.agent.stop()
        self.thread.join(10)
        self.agent.shutdown()


@pytest.fixture
def caplog_info(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


def messages(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level]


def test_rules_disabled_and_min_priority_apply_without_restart(tmp_path: Path,
                                                               caplog_info) -> None:  # noqa: ANN001
    run = Running(tmp_path, "", {"openat", "execve"})
    try:
        assert run.detects("/etc/shadow", "Shadow read")
        assert run.detects("/etc/motd", "Motd read")
        run.write('disabled = ["Shadow read"]\n')
        run.until("/etc/shadow", "Shadow read", False)
        assert run.detects("/etc/motd", "Motd read")
        run.write('min_priority = "notice"\n')
        run.until("/etc/motd", "Motd read", False)
        run.until("/etc/shadow", "Shadow read", True)
        reloaded = [m for m in messages(caplog_info) if "configuration reloaded" in m]
        assert any("rules (rules.disabled): rebuilding the engines" in m for m in reloaded)
        assert any("rules.min_priority" in m for m in reloaded)
        assert not [m for m in messages(caplog_info, logging.WARNING) if "restart" in m]
    finally:
        run.close()


def test_detectors_reload_and_restart_only_settings_are_named(tmp_path: Path,
                                                              caplog_info) -> None:  # noqa: ANN001
    run = Running(tmp_path, "", {"openat", "execve"})
    try:
        before = len(run.built.detectors)
        run.write('[detectors.sensitive_write]\nenabled = false\n'
                  '[detectors.data_exfil]\nenabled = false\n[alerts]\nqueue_size = 5\n'
                  '[audit]\nrotate_daily = false\n')
        wait(lambda: len(run.built.detectors) == before - 2, "the detectors are rebuilt")
        names = {type(d).__name__ for d in run.built.detectors}
        assert not any("SensitiveWrite" in n or "DataExfil" in n for n in names), names
        warnings = [m for m in messages(caplog_info, logging.WARNING) if "restart" in m]
        assert len(warnings) == 1
        assert warnings[0].endswith("changed settings that apply only after a restart of "
                                    "vigil: alerts.queue_size, audit.rotate_daily")
        assert any("detectors (detectors.data_exfil, detectors.sensitive_write)" in m
                   for m in messages(caplog_info))
    finally:
        run.close()


def test_event_type_warning_only_when_true_and_new(tmp_path: Path, caplog_info) -> None:  # noqa: ANN001
    """Started capturing openat only; the sensor could also capture execve, never
    `ptrace_weird`. Rules needing a type it cannot capture at all do not warn; a reload
    with nothing new does not warn; rules newly needing execve warn once."""
    run = Running(tmp_path, "", {"openat", "execve"}, detectors=False)

    def warnings() -> list[str]:
        return [m for m in messages(caplog_info, logging.WARNING) if "not started with" in m]

    try:
        run.rules.write_text(RULES + """
- rule: Unknown type
  desc: test
  condition: evt.type = ptrace_weird
  output: x
  priority: INFO
""")
        wait(lambda: run.rules_reloader.reloads == 1, "first reload")
        run.until("/etc/shadow", "Shadow read", True)
        assert warnings() == []
        run.rules.write_text(RULES + "\n# same rules, touched\n")
        wait(lambda: run.rules_reloader.reloads == 2, "second reload")
        run.until("/etc/shadow", "Shadow read", True)
        assert warnings() == []
        run.rules.write_text(RULES + """
- rule: Exec
  desc: test
  condition: evt.type = execve and proc.name = nc
  output: x
  priority: INFO
""")
        wait(lambda: run.rules_reloader.reloads == 3, "third reload")
        wait(lambda: len(warnings()) == 1, "one warning for execve")
        assert "(execve)" in warnings()[0] and "ptrace_weird" not in warnings()[0]
        run.rules.write_text(RULES + "\n- macro: m\n  condition: evt.type = execve\n" + """
- rule: Exec
  desc: test
  condition: m and proc.name = nc
  output: x
  priority: INFO
""")
        wait(lambda: run.rules_reloader.reloads == 4, "fourth reload")
        run.until("/etc/shadow", "Shadow read", True)
        assert len(warnings()) == 1  # the same missing type: not repeated
    finally:
        run.close()


def test_vigil_run_applies_a_detector_change_and_names_restart_settings(tmp_path: Path) -> None:
    """The whole `vigil run`: turning `ssh_bruteforce` off in vigil.toml stops its
    detections without a restart; a changed `[alerts]` key is named as needing one."""
    from agent_process import AgentProcess, agent_config, ssh_failure
    cfg = agent_config(tmp_path)
    log = tmp_path / "auth.log"
    with AgentProcess(cfg, "--stats-interval", "0.3").start() as agent:
        with open(log, "a") as fh:
            fh.write(ssh_failure(1))
        wait(lambda: "SSH failed login" in agent.stdout, "the detector runs", 30)
        cfg.write_text(cfg.read_text() + "[detectors.ssh_bruteforce]\nenabled = false\n"
                       "[alerts]\nqueue_size = 7\n")
        wait(lambda: "configuration reloaded" in agent.stderr, "the change is applied", 30)
        for n in range(2, 6):
            with open(log, "a") as fh:
                fh.write(ssh_failure(n))
        wait(lambda: "authlog_events=5" in agent.stderr, "the lines are read", 30)
        assert agent.stop() == 0
    assert agent.stdout.count("SSH failed login") == 1, agent.stdout
    assert "detectors (detectors.ssh_bruteforce)" in agent.stderr
    assert "apply only after a restart of vigil: alerts.queue_size" in agent.stderr


def test_shadow_mode_changes_without_restart(tmp_path: Path, caplog_info) -> None:  # noqa: ANN001
    """Putting a rule in shadow mode (and taking it out) takes effect on a reload."""
    run = Running(tmp_path, "", {"openat", "execve"})
    shadowed: list[bool] = []
    run.built.pipeline.on_detection = lambda d: (run.seen.append(d.name),
                                                 shadowed.append(d.shadow))
    try:
        assert run.detects("/etc/shadow", "Shadow read") and shadowed[-1] is False
        run.write('shadow = [{ value = "Shadow read", reason = "trial" }]\n')
        wait(lambda: run.detects("/etc/shadow", "Shadow read") and shadowed[-1],
             "Shadow read is in shadow mode")
        assert any("shadow mode: Shadow read" in m for m in messages(caplog_info))
        run.write("")
        wait(lambda: run.detects("/etc/shadow", "Shadow read") and not shadowed[-1],
             "Shadow read alerts again")
    finally:
        run.close()
