"""Benchmark of the eBPF sensor on the running kernel (needs root). Prints numbers, asserts nothing.

0. Decode cost per record in Python, measured on real records of an exec loop captured
   with `vigil run`'s default event types and kernel filters: per exec record (the
   target), per fork/exit record and per other record.
1. Syscall cost with the sensor attached vs detached, measured in one run: open+close
   (captured) and getppid (not captured: the cost of the sys_exit hook alone).
2. The highest open-event rate sustained with zero kernel drops, every event decoded and
   evaluated against Falco's stable rules, and the Python CPU time per event.
3. The slowdown of real workloads with `vigil run` (default configuration, and at nice 0)
   running vs not: `make -j2` of a generated 41-file C project, and a shell loop of exec,
   open and connect (the worst case: nothing but process starts).

    .venv/bin/python bench/sensor.py [--quick] [--workloads-only all|make|loop] [--rounds N]
                                     [--decode-cost-only] [--syscall-cost-only]

4. (--flood) Blinding attempts against `vigil run` with its defaults (nice 10): two load
   generators flood one syscall as fast as they can (open/close of a file in /tmp, connect
   to a closed local port, or fork+exec of /bin/true) while a renamed `cat` reads
   /etc/shadow every 2 s. Prints calls offered, events reaching user space, drops per lane,
   records folded by flood control, sensitive reads reported / offered, whether the flood
   was reported naming both flooders, and the agent's peak RSS.

    .venv/bin/python bench/sensor.py --flood [open|connect|exec|all] [--flood-seconds 20]

5. (--crossing) Kernel records and events crossing to user space for the processes of
   `make -j2` of the generated project, with Falco's stable rules and the default
   detectors: this tree without and with the rule-derived kernel filters
   (`vigil.rules.kernel_filters`), and with `--baseline DIR` another source tree (e.g. the
   code before wave 2) as the reference the ratios are taken against (worker:
   bench/crossing_count.py).

    .venv/bin/python bench/sensor.py --crossing [--rounds 3] [--baseline DIR]

VIGIL_BPF_OBJECT=compat measures the compat object (docs/sensor.md) instead of the full one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from vigil.events.fields import DEFAULT_FIELDS  # noqa: E402
from vigil.events.model import Event  # noqa: E402
from vigil.sensors.ebpf.sensor import EbpfSensor  # noqa: E402

FALCO_RULES = REPO.parent / "shared" / "rules" / "falco" / "falco_rules.yaml"


def build_loadgen(tmp: Path) -> Path:
    """Compile the C load generator next to the benchmark."""
    out = tmp / "sensor_loadgen"
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        sys.exit("bench/sensor.py: needs a C compiler (cc, gcc or clang)")
    subprocess.run([cc, "-O2", "-o", str(out), str(REPO / "bench" / "sensor_loadgen.c")],
                   check=True)
    return out


def evaluator() -> tuple[str, Callable[[Event], object], set[str] | None]:
    """Falco's stable rules through Vigil's engine when it loads, else one inline predicate."""
    try:
        from vigil.rules.falco.engine import FalcoEngine
        from vigil.rules.falco.loader import load_rules

        rs = load_rules([FALCO_RULES])
        eng = FalcoEngine(rs, rule_matching="all")
        return (f"FalcoEngine, {len(eng.rules)} rules of {FALCO_RULES.name}", eng.match,
                eng.event_types)
    except Exception as exc:  # the engine is another module; the bench still runs
        typ = DEFAULT_FIELDS.extractor("evt.type")
        name = DEFAULT_FIELDS.extractor("fd.name")
        rd = DEFAULT_FIELDS.extractor("evt.is_open_read")

        def pred(e: Event) -> bool:
            return typ(e) == "openat" and rd(e) is True and name(e).startswith("/etc/shadow")

        return f"inline open_read predicate (engine unavailable: {exc})", pred, None


class Reader(threading.Thread):
    """Reads and evaluates events on its own thread, as the agent does; counts its CPU."""

    def __init__(self, sensor: EbpfSensor, evaluate: Callable[[Event], object]) -> None:
        super().__init__(daemon=True)
        self.sensor = sensor
        self.evaluate = evaluate
        self.events = 0
        self.cpu = 0.0
        self._halt = threading.Event()

    def run(self) -> None:
        t0 = time.thread_time()
        ev = self.evaluate
        while not self._halt.is_set():
            batch = self.sensor.read(0.02)
            for e in batch:
                ev(e)
            self.events += len(batch)
        self.cpu = time.thread_time() - t0

    def stop(self) -> None:
        self._halt.set()
        self.join()


BPF_STATS = Path("/proc/sys/kernel/bpf_stats_enabled")


@contextlib.contextmanager
def bpf_stats_enabled() -> Iterator[None]:
    """Turn on the kernel's per-program run-time accounting for a while."""
    was = BPF_STATS.read_text().strip() if BPF_STATS.exists() else None
    if was is not None:
        BPF_STATS.write_text("1")
    try:
        yield
    finally:
        if was is not None:
            BPF_STATS.write_text(was)


def bpf_prog_stats(ids: set[int] | None = None) -> dict[str, tuple[int, int]]:
    """Run time (ns) and run count of the loaded vigil_* programs (needs bpf_stats_enabled),
    by name; with `ids`, of those programs only (other agents may run on this host)."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True)
    if out.returncode != 0:
        return {}
    stats: dict[str, tuple[int, int]] = {}
    for p in json.loads(out.stdout or "[]"):
        if str(p.get("name", "")).startswith("vigil_") and (ids is None or p["id"] in ids):
            ns, n = stats.get(p["name"], (0, 0))
            stats[p["name"]] = (ns + int(p.get("run_time_ns", 0)), n + int(p.get("run_cnt", 0)))
    return stats


def bpf_prog_ids() -> set[int]:
    """Ids of the loaded vigil_* programs."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True)
    if out.returncode != 0:
        return set()
    return {p["id"] for p in json.loads(out.stdout or "[]")
            if str(p.get("name", "")).startswith("vigil_")}


def loadgen(binary: Path, mode: str, rate: int, seconds: float, path: str) -> tuple[int, float]:
    out = subprocess.run([str(binary), mode, str(rate), str(seconds), path], check=True,
                         capture_output=True, text=True).stdout.split()
    return int(out[0]), float(out[1])


def default_sensor() -> EbpfSensor:
    """The sensor `vigil run` starts with the built-in configuration (types and filters)."""
    from vigil.agent import build_pipeline
    from vigil.config import load_config

    cfg = load_config(None)
    built = build_pipeline(config=cfg, audit=False, alerts=False, detectors=True)
    return EbpfSensor(event_types=built.event_types(), exclude_pids={os.getpid()},
                      ignore_read_prefixes=cfg.sensors.ignore_read_prefixes,
                      ignore_missing_reads=cfg.sensors.ignore_missing_reads,
                      ignore_missing_execs=cfg.sensors.ignore_missing_execs)


def capture_records(sensor: EbpfSensor, command: list[str]) -> list[bytes]:
    """The raw records a command causes (the sensor started, then stopped here)."""
    sensor.start()
    try:
        sensor.read_records(0.0)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        out: list[bytes] = []
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            got = sensor.read_records(0.1)
            out += got
            if not got and sensor.stats()["ring_pending_bytes"] == 0:
                break
    finally:
        sensor.stop()
    return out


def record_nr(rec: bytes) -> int:
    """The syscall number (or record kind) of a raw record, from the program's header."""
    from vigil.sensors.ebpf.decode import NR_OFFSET

    return int.from_bytes(rec[NR_OFFSET:NR_OFFSET + 2], "little")


def decode_cost(repeats: int) -> None:
    """Time `RecordDecoder.decode` per record kind on real records, best of `repeats`."""
    from vigil.events.proctable import ProcessTable
    from vigil.sensors.ebpf import syscalls as sc
    from vigil.sensors.ebpf.decode import RecordDecoder

    n = 300
    records = capture_records(default_sensor(), ["bash", "-c", f"for i in $(seq {n}); do "
                                                 f"/bin/true; cat /etc/hostname; done"])
    kinds = {sc.BY_NAME["execve"].nr: "exec", sc.EV_FORK: "fork", sc.EV_EXIT: "exit"}
    counts: dict[str, int] = {}
    for r in records:
        k = kinds.get(record_nr(r), "other")
        counts[k] = counts.get(k, 0) + 1
    clock = time.perf_counter_ns
    overhead = min(-clock() + clock() for _ in range(10000))
    best: dict[str, float] = {}
    for _ in range(repeats):
        # a freshly seeded table each time, so forks and execs find their parents as live
        t = ProcessTable()
        t.seed()
        dec = RecordDecoder(t, "bench", process_events=False)
        spent: dict[str, int] = {}
        for r in records:
            k = kinds.get(record_nr(r), "other")
            t0 = clock()
            dec.decode(r, 0, len(r))
            spent[k] = spent.get(k, 0) + clock() - t0 - overhead
        finish = getattr(dec, "finish_batch", None)
        if finish is not None:
            t0 = clock()
            finish()
            spent["exec"] = spent.get("exec", 0) + clock() - t0 - overhead
        for k, ns in spent.items():
            best[k] = min(best.get(k, float("inf")), ns / counts[k] / 1000)
    print(f"\n## 0. decode cost per record (real records of {n} x (exec /bin/true + cat), "
          f"default event types and kernel filters; best of {repeats})")
    print(f"{'record':8} {'count':>6} {'µs/record':>10}")
    for k in ("exec", "fork", "exit", "other"):
        if k in counts:
            print(f"{k:8} {counts[k]:6d} {best[k]:10.2f}")
    print(f"per-exec decode cost: {best['exec']:.2f} µs")


def syscall_cost(binary: Path, evaluate: Callable[[Event], object], secs: float) -> None:
    print(f"\n## 1. syscall cost, attached vs detached ({secs:.0f} s each, same run)")
    rows = []
    for mode in ("open", "getppid"):
        _, detached = loadgen(binary, mode, 0, secs, "/etc/hostname")
        sensor = EbpfSensor(event_types={"openat"})
        sensor.start()
        reader = Reader(sensor, evaluate)
        reader.start()
        with bpf_stats_enabled():
            before = bpf_prog_stats().get("vigil_sys_exit", (0, 0))
            n, attached = loadgen(binary, mode, 0, secs, "/etc/hostname")
            after = bpf_prog_stats().get("vigil_sys_exit", (0, 0))
        reader.stop()
        st = sensor.stats()
        sensor.stop()
        prog_ns = (after[0] - before[0]) / max(after[1] - before[1], 1)
        what = "open+close (openat captured)" if mode == "open" else "getppid (not captured)"
        rows.append((what, detached, attached, prog_ns, st["drops"]))
    print(f"{'call':32} {'detached ns':>12} {'attached ns':>12} {'ratio':>6} {'extra ns':>9}"
          f" {'BPF ns/run':>10} {'drops':>9}")
    for what, d, a, prog_ns, drops in rows:
        print(f"{what:32} {d:12.1f} {a:12.1f} {a / d:6.2f} {a - d:9.1f} {prog_ns:10.0f}"
              f" {drops:9d}")
    print("(unpaced: the generator outruns the reader, so the ring fills and drops are expected"
          " here;\n BPF ns/run is the kernel's own accounting of the sys_exit program, averaged"
          " over open and close)")


def sustained(binary: Path, evaluate: Callable[[Event], object], rate: int,
              secs: float) -> tuple[int, int, float]:
    """(events delivered, kernel drops, reader CPU seconds) at one paced open rate."""
    sensor = EbpfSensor(event_types={"openat"})
    sensor.start()
    reader = Reader(sensor, evaluate)
    reader.start()
    loadgen(binary, "open", rate, secs, "/etc/hostname")
    deadline = time.monotonic() + 10
    while sensor.stats()["ring_pending_bytes"] and time.monotonic() < deadline:
        time.sleep(0.05)  # let the reader catch up with what is already in the ring
    reader.stop()
    st = sensor.stats()
    sensor.stop()
    return reader.events, st["drops"], reader.cpu


def max_rate(binary: Path, evaluate: Callable[[Event], object], quick: bool) -> None:
    step_secs = 2.0 if quick else 3.0
    print(f"\n## 2. highest open rate with zero drops (search {step_secs:.0f} s per step, "
          f"then confirm 10 s)")
    print(f"{'rate/s':>8} {'events':>9} {'drops':>8} {'cpu s':>7} {'µs/event':>9}")
    best = 0
    for rate in (50_000, 100_000, 125_000, 150_000, 200_000, 250_000, 300_000):
        events, drops, cpu = sustained(binary, evaluate, rate, step_secs)
        print(f"{rate:8d} {events:9d} {drops:8d} {cpu:7.2f} {cpu / max(events, 1) * 1e6:9.2f}")
        if drops:
            break
        if events + drops < 0.9 * rate * step_secs:
            # the generator itself could not make this rate (a busy host): higher ones
            # would say nothing about the sensor
            print(f"(the load generator reached {(events + drops) / step_secs:.0f}/s only; "
                  f"stopping the search)")
            break
        best = rate
    # confirm for 10 s, stepping down until a rate holds with zero drops
    rate = best
    while rate and not quick:
        events, drops, cpu = sustained(binary, evaluate, rate, 10.0)
        print(f"confirm {rate}/s for 10 s: {events} events ({events / 10:.0f}/s), {drops} drops, "
              f"{cpu / max(events, 1) * 1e6:.2f} µs Python CPU per event")
        if not drops:
            break
        rate -= 25_000


LOOP = r"""
for i in $(seq {n}); do
  /bin/true
  cat /etc/hostname > /dev/null
  exec 3<>/dev/tcp/127.0.0.1/{port}; exec 3>&-
done
"""


def start_agent(state_dir: Path, extra: list[str],
                tree: Path | None = None) -> subprocess.Popen | None:
    """`vigil run` (built-in defaults + `extra` options) in its own process, once it watches;
    from another source tree's `src/` when `tree` is given (a baseline to compare with)."""
    env = dict(os.environ, PYTHONPATH=str(tree / "src")) if tree is not None else None
    p = subprocess.Popen([sys.executable, "-m", "vigil", "run", "--state-dir", str(state_dir),
                          "--stats-interval", "3600", *extra], cwd=tree or REPO, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    assert p.stderr is not None
    deadline = time.monotonic() + 60
    for line in p.stderr:
        if "vigil: watching" in line:
            # keep draining its log so the agent never blocks on a full pipe
            threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
            time.sleep(1.0)  # start-up work (process table seed, rule compilation) is over
            return p
        if time.monotonic() > deadline:
            break
    p.kill()
    p.wait()
    return None


def stop_agent(p: subprocess.Popen) -> None:
    p.send_signal(signal.SIGINT)
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Workload:
    """A command run repeatedly; `run()` gives (wall s, CPU s of the workload's processes)."""

    def __init__(self, name: str, prepare: Callable[[], None], command: list[str]) -> None:
        self.name, self.prepare, self.command = name, prepare, command

    def run(self) -> tuple[float, float]:
        self.prepare()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(self.command, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def make_workload(tmp: Path) -> Workload:
    from c_project import write_project

    root = write_project(tmp / "c_project", 40)
    return Workload("make -j2 of a 41-file C project",
                    lambda: subprocess.run(["make", "-s", "-C", str(root), "clean"], check=True),
                    ["make", "-s", "-j2", "-C", str(root)])


def loop_workload(port: int, n: int) -> Workload:
    script = LOOP.replace("{n}", str(n)).replace("{port}", str(port))
    return Workload(f"shell loop: {n} x (exec /bin/true, cat a file, TCP connect)",
                    lambda: None, ["bash", "-c", script])


#: what runs beside the workload in each round; "none" twice, the second as a control
VARIANTS: dict[str, list[str] | None] = {
    "none": None,
    "none (control)": None,
    "vigil run (defaults: nice 10)": [],
    "vigil run --nice 0": ["--nice", "0"],
}
#: `--baseline DIR`: another source tree whose `vigil run` is one more variant
BASELINE = "vigil run, baseline tree"
BASELINE_TREE: list[Path] = []


def _median_ci(values: list[float], resamples: int = 2000) -> tuple[float, float, float]:
    """Median and a 90 % bootstrap confidence interval of it."""
    rng = random.Random(1)
    meds = sorted(statistics.median(rng.choices(values, k=len(values)))
                  for _ in range(resamples))
    return statistics.median(values), meds[resamples // 20], meds[resamples - resamples // 20]


def compare(work: Workload, rounds: int, per_block: int, state: Path) -> None:
    """Each round runs a block of `per_block` workload runs per variant, the variants in a
    random order; an agent is started once per block. The slowdown of a variant is the
    median of its runs' wall times divided by the wall time of the same-numbered run of the
    round's "none" block, with a bootstrap confidence interval."""
    print(f"\n### {work.name}: {rounds} rounds x {per_block} runs per variant, variants in "
          f"random order per round")
    work.run()  # warm the page cache
    wall: dict[str, list[float]] = {k: [] for k in VARIANTS}
    cpu: dict[str, list[float]] = {k: [] for k in VARIANTS}
    agent_cpu: dict[str, list[float]] = {k: [] for k in VARIANTS}
    kernel: dict[str, list[float]] = {k: [] for k in VARIANTS}
    with bpf_stats_enabled():
        for _ in range(rounds):
            order = list(VARIANTS.items())
            random.shuffle(order)
            for name, extra in order:
                others = bpf_prog_ids()
                tree = BASELINE_TREE[0] if name == BASELINE else None
                agent = None if extra is None else start_agent(state, extra, tree)
                if extra is not None and agent is None:
                    sys.exit("bench/sensor.py: vigil run did not start")
                # the programs of this agent only: other agents may run on a shared host
                mine = bpf_prog_ids() - others
                for _ in range(per_block):
                    before = bpf_prog_stats(mine)
                    a0 = process_cpu(agent.pid) if agent else 0.0
                    w, c = work.run()
                    a1 = process_cpu(agent.pid) if agent else 0.0
                    after = bpf_prog_stats(mine)
                    wall[name].append(w)
                    cpu[name].append(c)
                    agent_cpu[name].append(a1 - a0)
                    kernel[name].append(sum(after[k][0] - before.get(k, (0, 0))[0]
                                            for k in after) / 1e9)
                if agent is not None:
                    stop_agent(agent)
    base_w, base_c = wall["none"], cpu["none"]
    print(f"{'variant':32} {'wall s':>7} {'slowdown':>9} {'90% CI':>15} {'CPU s':>7} "
          f"{'CPU +':>7} {'agent CPU s':>11} {'BPF s':>6} {'cost':>6}")
    for name in VARIANTS:
        med, lo, hi = _median_ci([b / a - 1 for a, b in zip(base_w, wall[name])])
        cratio = statistics.median(b / a - 1 for a, b in zip(base_c, cpu[name]))
        # CPU the agent and its BPF programs spent, per CPU second of the workload: not a
        # wall-clock measure, but one the host's noise hardly moves
        cost = statistics.median((ag + k) / c for ag, k, c in
                                 zip(agent_cpu[name], kernel[name], cpu[name]))
        print(f"{name:32} {statistics.median(wall[name]):7.3f} {med * 100:+8.1f}% "
              f"{lo * 100:+6.1f}..{hi * 100:+5.1f}% {statistics.median(cpu[name]):7.3f} "
              f"{cratio * 100:+6.1f}% {statistics.median(agent_cpu[name]):11.3f} "
              f"{statistics.median(kernel[name]):6.3f} "
              f"{cost * 100:5.1f}%")
    print(f"slowdown: median over {len(base_w)} paired runs of (wall time / wall time of the "
          f"same-numbered run without the agent\nin the same round) - 1, with a 90 % bootstrap "
          f"interval. 'none (control)' is a second block without the agent:\nthe noise floor. "
          f"CPU s: the workload's own CPU (BPF time included); agent CPU s: vigil run's CPU\n"
          f"during one run; BPF s: run time of that agent's vigil_* programs during one run "
          f"(kernel accounting);\ncost: (agent CPU + BPF) / workload CPU.")


def workload(rounds: int, per_block: int, n: int, only: str | None) -> None:
    print(f"\n## 3. real workloads with `vigil run` (default configuration) vs without")
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    port = srv.getsockname()[1]

    def accept_all() -> None:
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            c.close()

    threading.Thread(target=accept_all, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        works = {"make": make_workload(Path(tmp)), "loop": loop_workload(port, n)}
        for key, work in works.items():
            if only in (None, key):
                compare(work, rounds, per_block, Path(tmp) / "state")
    srv.close()


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _json_lines(path: Path) -> list[dict]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
    return out


def _final_stats(err: Path) -> dict[str, int]:
    line = [ln for ln in err.read_text(errors="replace").splitlines() if "final stats:" in ln]
    out: dict[str, int] = {}
    for part in (line[-1].split("final stats:", 1)[1].split() if line else []):
        k, _, v = part.partition("=")
        if v.isdigit():
            out[k] = int(v)
    return out


def flood(binary: Path, modes: list[str], secs: float) -> None:
    """Part 4: floods against the real agent at its default nice, a sensitive read every 2 s."""
    print(f"\n## 4. flood scenarios: vigil run (defaults, nice 10), two flooders for "
          f"{secs:.0f} s, a renamed cat reading /etc/shadow every 2 s")
    print(f"{'flood':8} {'offered':>10} {'to user':>9} {'folded':>10} {'drops bulk':>10} "
          f"{'drops prio':>10} {'queue':>7} {'reads rep/off':>13} {'flood rep':>9} "
          f"{'RSS MB':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        reader = d / "kitty"
        shutil.copy("/bin/cat", reader)
        target = d / "flood-target"
        target.write_text("x")
        for mode in modes:
            out, err = d / f"{mode}.out", d / f"{mode}.err"
            agent = subprocess.Popen(
                [sys.executable, "-m", "vigil", "run", "--json", "--detections", "--state-dir",
                 str(d / f"state-{mode}"), "--stats-interval", "3600"],
                stdout=open(out, "wb"), stderr=open(err, "wb"), cwd=d,
                env=dict(os.environ, PYTHONPATH=str(REPO / "src")))
            deadline = time.monotonic() + 60
            while "vigil: watching" not in err.read_text(errors="replace"):
                if agent.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"bench: the agent did not start: {err.read_text()[-2000:]}")
                time.sleep(0.1)
            rss0 = rss = _rss_kb(agent.pid)
            arg = {"open": str(target), "connect": "1", "exec": "/bin/true"}[mode]
            gens = [subprocess.Popen([str(binary), mode, "0", str(secs), arg],
                                     stdout=subprocess.PIPE, text=True) for _ in range(2)]
            marks = []
            start = time.monotonic()
            i = 0
            while time.monotonic() - start < secs - 1:
                time.sleep(2.0)
                mark = f"/nonexistent-bench-{mode}-{i}"
                subprocess.run([str(reader), "/etc/shadow", mark], capture_output=True)
                marks.append(mark)
                rss = max(rss, _rss_kb(agent.pid))
                i += 1
            offered = 0
            for g in gens:
                out_s, _ = g.communicate(timeout=secs + 60)
                offered += int(out_s.split()[0])
            deadline = time.monotonic() + 90
            reported: set[str] = set()
            while time.monotonic() < deadline:
                lines = _json_lines(out)
                reported = {m for m in marks for ln in lines
                            if m in ln.get("output", "") and "/etc/shadow" in ln.get("output", "")}
                if reported == set(marks):
                    break
                rss = max(rss, _rss_kb(agent.pid))
                time.sleep(1.0)
            time.sleep(3.0)  # the last flood windows and loss reports
            agent.send_signal(signal.SIGINT)
            agent.wait(60)
            st = _final_stats(err)
            lines = _json_lines(out)
            flood_out = " ".join(ln["output"] for ln in lines if ln.get("rule") == "event_flood")
            named = sum(f"pid {g.pid}" in flood_out for g in gens)
            lost = [ln for ln in lines if ln.get("rule") == "events_lost"]
            prio = st.get("ebpf_kernel_drops_priority", 0)
            print(f"{mode:8} {offered:10d} {st.get('ebpf_events', 0):9d} "
                  f"{st.get('ebpf_flood_folded', 0):10d} "
                  f"{st.get('ebpf_kernel_drops', 0) - prio:10d} {prio:10d} "
                  f"{st.get('queue_drops', 0):7d} {len(reported):6d}/{len(marks):<6d} "
                  f"{named:4d}/2    {rss0 // 1024:4d}->{rss // 1024:<5d}"
                  + (f"  ({len(lost)} 'Events lost' detections)" if lost else ""))


def crossing(rounds: int, baseline: Path | None) -> None:
    """Part 5: kernel records and events of `make -j2`'s own processes reaching user
    space, with the kernel filters off and on, and for a baseline source tree."""
    from vigil.agent import build_pipeline
    from vigil.config import load_config
    from vigil.rules.kernel_filters import plan_reads, plan_writes

    built = build_pipeline(config=load_config(None), rule_paths=[str(FALCO_RULES)],
                           audit=False, alerts=False, detectors=True)
    plans = (plan_reads(built.falco, built.sigma, built.detectors),
             plan_writes(built.falco, built.sigma, built.detectors))
    print("\n## 5. records crossing to user space for make -j2 (Falco stable rules + "
          f"default detectors; {rounds} rounds each; the build's own processes)")
    for plan in plans:
        print(plan.explain()[-1])
    variants = [(f"baseline tree {baseline}", baseline, "off")] if baseline else []
    variants += [("this tree, filters off", REPO, "off"), ("this tree, filters on", REPO, "on")]
    results: dict[str, list[dict]] = {}
    for name, tree, filters in variants:
        out = subprocess.run([sys.executable, str(REPO / "bench" / "crossing_count.py"),
                              "--tree", str(tree), "--rounds", str(rounds),
                              "--filters", filters], capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{name}: failed: {out.stderr[-1500:]}")
            continue
        results[name] = json.loads(out.stdout)
    ref_name = variants[0][0]
    ref = results.get(ref_name)
    print(f"\n{'variant':48} {'records (median)':>17} {'events (median)':>16} "
          f"{'records/ref':>12} {'events/ref':>11}")
    for name, runs in results.items():
        rec = statistics.median(r["records"] for r in runs)
        evs = statistics.median(r["events"] for r in runs)
        rr = rec / statistics.median(r["records"] for r in ref) if ref else float("nan")
        er = evs / max(statistics.median(r["events"] for r in ref), 1) if ref else float("nan")
        print(f"{name[:48]:48} {rec:17.0f} {evs:16.0f} {rr:12.2f} {er:11.2f}")
    for name, runs in results.items():
        print(f"{name}: records per type (last round) {runs[-1]['by_type']}; "
              f"filtered in the kernel {runs[-1]['filtered']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter runs (no 10 s confirmation)")
    ap.add_argument("--decode-only", action="store_true",
                    help="decode events but do not evaluate rules (the sensor's own capacity)")
    ap.add_argument("--workloads-only", choices=("all", "make", "loop"),
                    help="only part 3, for these workloads")
    ap.add_argument("--rounds", type=int, help="rounds of part 3 (default 12, --quick 3)")
    ap.add_argument("--baseline", type=Path, metavar="DIR",
                    help="another Vigil source tree (e.g. `git archive main` unpacked): its "
                         "`vigil run` is one more variant of part 3")
    ap.add_argument("--decode-cost-only", action="store_true",
                    help="only part 0 (decode cost per record)")
    ap.add_argument("--syscall-cost-only", action="store_true",
                    help="only part 1 (syscall cost attached vs detached)")
    ap.add_argument("--flood", choices=("open", "connect", "exec", "all"),
                    help="only part 4: flood scenarios against vigil run")
    ap.add_argument("--flood-seconds", type=float, default=20.0,
                    help="how long each flood of part 4 lasts (default 20)")
    ap.add_argument("--crossing", action="store_true",
                    help="only part 5: records crossing for make -j2, filters off/on "
                         "(and --baseline DIR)")
    ap.add_argument("--per-block", type=int, default=4,
                    help="workload runs per variant and round in part 3 (default 4)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/sensor.py: needs root to load BPF programs")
    print(f"# eBPF sensor benchmark\nmachine: {platform.platform()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, load average at start {os.getloadavg()[0]:.2f}")
    name, evaluate, _types = evaluator()
    if args.decode_only:
        name, evaluate = "none (--decode-only)", lambda e: None
    print(f"evaluation: {name}")
    rounds = args.rounds or (3 if args.quick else 12)
    if args.baseline is not None:
        BASELINE_TREE.append(args.baseline.resolve())
        VARIANTS[BASELINE] = []
    print(f"BPF object: {os.environ.get('VIGIL_BPF_OBJECT') or 'auto'}")
    if args.crossing:
        crossing(args.rounds or 3, args.baseline.resolve() if args.baseline else None)
        return
    if args.flood:
        modes = ["open", "connect", "exec"] if args.flood == "all" else [args.flood]
        with tempfile.TemporaryDirectory() as tmp:
            flood(build_loadgen(Path(tmp)), modes, args.flood_seconds)
        return
    if args.syscall_cost_only:
        with tempfile.TemporaryDirectory() as tmp:
            syscall_cost(build_loadgen(Path(tmp)), evaluate, 2.0 if args.quick else 5.0)
        return
    decode_cost(5 if args.quick else 20)
    if args.decode_cost_only:
        return
    if args.workloads_only:
        workload(rounds, args.per_block, 300,
                 None if args.workloads_only == "all" else args.workloads_only)
        return
    with tempfile.TemporaryDirectory() as tmp:
        binary = build_loadgen(Path(tmp))
        syscall_cost(binary, evaluate, 2.0 if args.quick else 5.0)
        max_rate(binary, evaluate, args.quick)
    workload(rounds, args.per_block, 300, None)
    print(f"\nload average at end {os.getloadavg()[0]:.2f} (other processes share the CPUs)")


if __name__ == "__main__":
    main()
