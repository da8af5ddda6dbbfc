"""One emulation run: the agent, every scenario in turn, then the judgement.

For each scenario the runner snapshots the places scenarios touch, starts the script in a
new session (its own process group) with a clean environment, waits for it (killing the
group after the scenario's timeout), kills any process of its tree still alive, waits
until the agent has been quiet for a while, and snapshots again. Each scenario's time
window runs from `lead` seconds before it started (auth-log timestamps have one-second
resolution) to the end of that quiet wait; the next one starts `lead` seconds later, so
windows never overlap.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from emulate.agent import AgentUnderTest
from emulate.attribution import Window, attribute
from emulate.cleanliness import differences, snapshot
from emulate.custodian import Custodian
from emulate.incidents import IncidentStream
from emulate.judge import RunResult, judge
from emulate.proctrack import ForkLog, Ownership, compute_ownership, existing_pids
from emulate.scenario import Scenario
from emulate.scorecard import Scorecard, ScenarioRecord

AUTH_LOGS = ("/var/log/auth.log", "/var/log/secure")
CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class RunnerOptions:
    """How to run the suite."""

    root: Path
    run_dir: Path
    vigil: list[str]
    with_agent: bool = True
    grace: float = 1.5
    quiet: float = 1.5
    settle_max: float = 30.0
    lead: float = 1.0
    #: after a scenario that made the agent print something or had files restored, wait
    #: this long before the next one: longer than the agent's default target window
    #: (`[incidents] target_window_secs`, 10 s), so the next scenario's detections about
    #: the same file are not joined to this one's incidents
    join_gap: float = 11.0
    timeout: float | None = None
    check_clean: bool = True
    log: Callable[[str], None] = field(default=lambda s: print(s, flush=True))


@dataclass
class ScenarioRun:
    """A scenario after it ran: how, and when."""

    scenario: Scenario
    result: RunResult
    window: Window
    root_pid: int


def machine_info() -> dict[str, object]:
    """Kernel, CPU count, OS of this machine."""
    pretty = ""
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return {"kernel": platform.release(), "cpus": os.cpu_count(), "os": pretty,
            "arch": platform.machine()}


def repo_commit(repo: Path) -> str:
    """`abc1234 (branch)` of the checkout, `+dirty` when it has uncommitted changes."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(repo), *args], capture_output=True,
                                  text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    commit = git("rev-parse", "--short", "HEAD") or "?"
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    dirty = "+dirty" if git("status", "--porcelain", "--untracked-files=no") else ""
    return f"{commit}{dirty} ({branch})" if branch else commit + dirty


class FollowedAuthLog:
    """The auth log the default configuration follows; created (and removed at the end)
    when the machine has none, as on a host without a syslog daemon."""

    def __init__(self) -> None:
        self.path = next((p for p in AUTH_LOGS if os.path.exists(p)), AUTH_LOGS[0])
        self.created = False

    def __enter__(self) -> "FollowedAuthLog":
        if not os.path.exists(self.path):
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o640)
            os.close(fd)
            self.created = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self.created:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass


def scenario_env(opts: RunnerOptions, sc: Scenario, authlog: str,
                 custodian: str) -> dict[str, str]:
    """The clean environment a scenario runs in."""
    return {"PATH": CLEAN_PATH, "HOME": os.environ.get("HOME", "/root"), "USER": "root",
            "LOGNAME": "root", "SHELL": "/bin/bash", "LANG": "C.UTF-8", "TERM": "dumb",
            "EMUL_LIB": str(opts.root / "lib"), "EMUL_AUTHLOG": authlog,
            "EMUL_SCENARIO": sc.name, "EMUL_CUSTODIAN": custodian}


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_file(path: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _stop_group(pgid: int, patience: float = 20.0) -> None:
    """SIGTERM the scenario's process group (its EXIT trap cleans up), SIGKILL what is
    left after `patience` seconds."""
    _killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + patience
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    _killpg(pgid, signal.SIGKILL)


def run_script(sc: Scenario, env: dict[str, str], run_dir: Path,
               timeout: float) -> tuple[RunResult, int]:
    """Run one scenario script detached from the runner (`lib/detach.py`: its own session,
    re-parented to init); returns its result and the pid of its first process (a child of
    the runner, the root of its process tree in the fork log)."""
    t0 = time.monotonic()
    log_path = run_dir / "logs" / f"{sc.name}.log"
    ctl = run_dir / "ctl"
    ctl.mkdir(exist_ok=True)
    pidfile, status = ctl / f"{sc.name}.pid", ctl / f"{sc.name}.status"
    for f in (pidfile, status):
        f.unlink(missing_ok=True)
    launcher = subprocess.Popen([sys.executable, str(Path(env["EMUL_LIB"]) / "detach.py"),
                                 str(pidfile), str(status), str(log_path), str(sc.path)],
                                stdin=subprocess.DEVNULL, env=env, cwd="/")
    root = launcher.pid
    launcher.wait()
    if not _wait_file(pidfile, 10):
        return RunResult(exit_code=None, output_tail="the scenario did not start"), root
    leader = int(pidfile.read_text())
    timed_out = False
    try:
        if not _wait_file(status, timeout):
            timed_out = True
            _stop_group(leader)
    except BaseException:  # Ctrl-C: stop the scenario before the runner goes
        _stop_group(leader)
        raise
    code: int | None = None
    if status.exists():
        text = status.read_text().strip()
        code = int(text) if text.lstrip("-").isdigit() else None
    tail = log_path.read_bytes()[-3000:].decode("utf-8", "replace") if log_path.exists() else ""
    return RunResult(exit_code=code, timed_out=timed_out,
                     duration_s=time.monotonic() - t0, output_tail=tail), root


def kill_leftovers(name: str, own: Ownership, patience: float = 3.0) -> list[str]:
    """Kill the processes of scenario `name` still alive after `patience` seconds (a shell
    may take a moment to exit after its connection closed); say which they were."""
    def running(pid: int) -> bool:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return stat[stat.rindex(")") + 2] != "Z"  # a zombie is gone, only not reaped

    def alive() -> list[int]:
        return [pid for pid, who in own.current.items() if who == name and running(pid)]
    deadline = time.monotonic() + patience
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    left = []
    for pid in alive():
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            os.kill(pid, signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue
        left.append(f"process {pid} ({comm}) still running (killed)")
    return left


class Runner:
    """Runs the scenarios under one agent and builds the scorecard."""

    def __init__(self, opts: RunnerOptions) -> None:
        self.opts = opts
        self.forklog = ForkLog()
        self.custodian = Custodian(opts.run_dir / "custodian")
        self.runs: list[ScenarioRun] = []
        self.notes: list[str] = []
        self._gap = 0.0

    def _settle(self, agent: AgentUnderTest | None) -> None:
        """Wait `grace`, then until the agent printed nothing for `quiet` seconds."""
        time.sleep(self.opts.grace)
        if agent is None:
            return
        deadline = time.monotonic() + self.opts.settle_max
        while time.monotonic() < deadline:
            last = agent.output.last_stdout_ns()
            if time.time_ns() - last >= self.opts.quiet * 1e9:
                return
            time.sleep(0.2)

    def run(self, scenarios: list[Scenario], partial: bool) -> Scorecard:
        """Run everything and judge it."""
        o = self.opts
        o.run_dir.mkdir(parents=True, exist_ok=True)
        (o.run_dir / "logs").mkdir(exist_ok=True)
        reason = self.forklog.start()
        if reason:
            self.notes.append(reason)
            o.log(f"emulate: {reason}; attributing by time only")
        initial = existing_pids()
        self.custodian.start()
        agent: AgentUnderTest | None = None
        watching = ""
        with FollowedAuthLog() as authlog:
            if authlog.created:
                self.notes.append(f"created {authlog.path} for the run (no syslog daemon)")
            try:
                if o.with_agent:
                    agent = AgentUnderTest(o.vigil, o.run_dir)
                    watching = agent.start()
                    o.log(f"emulate: {watching.strip()}")
                    self._settle(agent)
                for n, sc in enumerate(scenarios, 1):
                    self._run_one(sc, n, len(scenarios), agent, authlog.path)
                    if agent is not None and not agent.alive():
                        self.notes.append(f"the agent exited during {sc.name}")
                        o.log("emulate: the agent exited; stopping the run")
                        break
            finally:
                problems = self.custodian.restore_all()  # after an interruption too
                self.notes += problems
                self.custodian.stop()
                if agent is not None:
                    agent.stop()
                self.forklog.stop()
        return self._scorecard(agent, watching, initial, partial)

    def _run_one(self, sc: Scenario, n: int, total: int, agent: AgentUnderTest | None,
                 authlog: str) -> None:
        o = self.opts
        before = snapshot() if o.check_clean else {}
        if self.runs:
            time.sleep(self._gap)  # keeps the previous window and this one apart
        start = time.time_ns()
        timeout = o.timeout or sc.timeout
        env = scenario_env(o, sc, authlog, str(self.custodian.socket_path))
        result, pid = run_script(sc, env, o.run_dir, timeout)
        roots = [(r.scenario.name, r.root_pid) for r in self.runs] + [(sc.name, pid)]
        time.sleep(0.3)  # let the fork events of its last processes arrive
        own = compute_ownership(self.forklog.snapshot(), os.getpid(), roots, set())
        result.dirty += kill_leftovers(sc.name, own)
        self._settle(agent)
        end = time.time_ns()
        # after the window: the restores are no scenario's activity
        restored = bool(self.custodian.entries)
        result.dirty += [f"restore: {p}" for p in self.custodian.restore_all()]
        spoke = agent is not None and agent.output.last_stdout_ns() >= start
        self._gap = max(o.lead, o.join_gap if (spoke or restored) else 0.0)
        if o.check_clean:
            result.dirty += differences(before, snapshot())
        window = Window(sc.name, start - int(o.lead * 1e9), end)
        self.runs.append(ScenarioRun(sc, result, window, pid))
        status = "timeout" if result.timed_out else f"exit {result.exit_code}"
        arrived = 0
        if agent is not None:
            arrived = sum(1 for ts, _ in agent.output.stdout if ts >= start)
        dirty = f", LEFT: {'; '.join(result.dirty)}" if result.dirty else ""
        o.log(f"[{n:>3}/{total}] {sc.kind:6} {sc.name:<36} {status}, {result.duration_s:5.1f} s, "
              f"agent lines {arrived}{dirty}")

    def _scorecard(self, agent: AgentUnderTest | None, watching: str, initial: set[int],
                   partial: bool) -> Scorecard:
        o = self.opts
        stream = IncidentStream()
        lines = agent.output.stdout_lines() if agent is not None else []
        for line in lines:
            stream.feed(line)
        (o.run_dir / "agent-stdout.jsonl").write_text("\n".join(lines) + "\n")
        if agent is not None:
            (o.run_dir / "agent-stderr.txt").write_text("\n".join(agent.output.stderr) + "\n")
        roots = [(r.scenario.name, r.root_pid) for r in self.runs]
        own = compute_ownership(self.forklog.snapshot(), os.getpid(), roots, initial)
        (o.run_dir / "ownership.json").write_text(json.dumps(
            {name: sorted(pids) for name, pids in own.by_scenario.items()}, indent=0))
        if self.forklog.lost:
            self.notes.append(f"{self.forklog.lost} batches of fork events were lost")
        views = stream.views()
        attribution = attribute(views, [r.window for r in self.runs], own)
        if agent is not None:
            for r in self.runs:
                r.result.agent_lost = agent.lost_between(r.window.start_ns, r.window.end_ns)
        records = [ScenarioRecord(r.scenario, r.result,
                                  judge(r.scenario, r.result,
                                        attribution.by_scenario.get(r.scenario.name, [])))
                   for r in self.runs]
        legacy = any(v.legacy for v in views)
        fmt = ("Falco JSON detections, one incident each (legacy adapter)" if legacy
               else "incident events" if views else "no incidents printed")
        tracking = ("time windows + process trees (proc connector)"
                    if self.forklog.lost == 0 and not any("tracking off" in n
                                                          for n in self.notes)
                    else "time windows (process tracking incomplete)")
        agent_info = {"commit": repo_commit(o.root.parent), "format": fmt,
                      "watching": watching[watching.find("watching with"):].strip(),
                      "final_stats": agent.final_stats() if agent is not None else "",
                      "attribution": tracking, "notes": self.notes,
                      "unparsed_lines": len(stream.unparsed),
                      "with_agent": o.with_agent}
        unattributed = [{"title": u.incident.title, "priority": u.incident.priority,
                         "first_ts": u.incident.first_ts, "reason": u.reason,
                         "pids": sorted(u.incident.pids)[:20],
                         "pid_count": len(u.incident.pids)}
                        for u in attribution.unattributed]
        generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        return Scorecard(records=records, generated=generated, machine=machine_info(),
                         agent=agent_info, unattributed=unattributed, partial=partial)


def default_vigil(repo: Path) -> list[str]:
    """The `vigil` of the checkout's virtualenv, else the one on PATH."""
    venv = repo / ".venv" / "bin" / "vigil"
    if venv.exists():
        return [str(venv)]
    return [sys.executable, "-m", "vigil"]
