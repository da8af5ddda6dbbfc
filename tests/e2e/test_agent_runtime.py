"""The live agent's plumbing without the kernel: a sensor that replays events in memory,
the bounded queue, the stats line and the Prometheus endpoint."""

from __future__ import annotations

import socket
import threading
import time

import httpx

from vigil.agent import build_pipeline
from vigil.config import parse_config
from vigil.events.model import Event, FdInfo, Process
from vigil.metrics import serve_metrics
from vigil.runtime import Agent


class ListSensor:
    """A real `Sensor` whose events come from a list (what `vigil replay` feeds, live)."""

    name = "list"

    def __init__(self, events: list[Event], batch: int = 10) -> None:
        self.events = list(events)
        self.batch = batch
        self.delivered = 0
        self.done = threading.Event()

    def start(self) -> None:
        pass

    def read(self, timeout: float) -> list[Event]:
        out, self.events = self.events[: self.batch], self.events[self.batch:]
        self.delivered += len(out)
        if not out:
            self.done.set()
            self.done.wait(timeout)
        return out

    def stop(self) -> None:
        pass

    def stats(self) -> dict[str, int]:
        # the shape of EbpfSensor.stats(): the contended drops are a part of the drops
        return {"events": self.delivered, "drops": 2, "drops_contended": 2,
                "ignored_reads": 5, "ignored_missing_reads": 7, "ignored_missing_execs": 1,
                "dns_queries": 4, "dns_malformed": 3, "pipe_peers_unknown": 6}


def _shadow_read(i: int) -> Event:
    cat = Process(pid=1000 + i, name="cat", exepath="/usr/bin/cat", args=["/etc/shadow"],
                  uid=0, user="root", parent=Process(pid=999, name="bash"))
    return Event(type="openat", ts=i, res=3, args={"flags": 0}, proc=cat,
                 fd=FdInfo(num=3, type="file", name="/etc/shadow"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_agent_runs_sensor_events_through_the_pipeline_and_serves_metrics(tmp_path):
    cfg = parse_config(f'state_dir = "{tmp_path}"\n[sensors]\nebpf = false\n')
    built = build_pipeline(config=cfg, detectors=True, alerts=False)
    seen = []
    built.pipeline.on_detection = seen.append
    sensor = ListSensor([_shadow_read(i) for i in range(50)])
    agent = Agent(built, [sensor], stats_interval=3600)
    port = _free_port()
    server = serve_metrics(agent, f"127.0.0.1:{port}")
    try:
        t = threading.Thread(target=agent.run, kwargs={"duration": 30})
        t.start()
        sensor.done.wait(10)
        deadline = time.monotonic() + 10
        while built.pipeline.stats.events < 50 and time.monotonic() < deadline:
            time.sleep(0.02)  # the engine thread is still working through the queue
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        agent.stop()
        t.join(10)
    finally:
        server.shutdown()
    line = agent.shutdown()
    assert len([d for d in seen if d.name == "Credential file read by unexpected program"]) == 50
    assert "events=50" in line and "queue_drops=0" in line and "list_kernel_drops=2" in line
    assert "list_kernel_filtered=13" in line
    assert "vigil_events_total 50.0" in body
    assert 'vigil_sensor_events_total{sensor="list"} 50.0' in body
    assert 'vigil_sensor_kernel_drops_total{sensor="list"} 2.0' in body
    assert 'vigil_sensor_kernel_filtered_total{reason="read_prefix",sensor="list"} 5.0' in body
    assert 'vigil_sensor_kernel_filtered_total{reason="missing_read",sensor="list"} 7.0' in body
    assert 'vigil_sensor_kernel_filtered_total{reason="missing_exec",sensor="list"} 1.0' in body
    assert 'vigil_sensor_dns_queries_total{sensor="list"} 4.0' in body
    assert 'vigil_sensor_unfilled_total{reason="dns_malformed",sensor="list"} 3.0' in body
    assert 'vigil_sensor_unfilled_total{reason="pipe_peers_unknown",sensor="list"} 6.0' in body


def test_full_queue_drops_and_counts_instead_of_blocking(tmp_path):
    cfg = parse_config(f'state_dir = "{tmp_path}"\n[sensors]\nebpf = false\n')
    built = build_pipeline(config=cfg, detectors=False, alerts=False, audit=False)
    sensor = ListSensor([_shadow_read(i) for i in range(100)], batch=10)
    agent = Agent(built, [sensor], queue_batches=2)
    # the engine is not consuming: the sensor thread must drop, not block
    reader = threading.Thread(target=agent._sensor_loop, args=(sensor,), daemon=True)
    reader.start()
    sensor.done.wait(10)
    agent.stop()
    reader.join(5)
    assert not reader.is_alive()
    assert agent.counters.dropped_batches == 8 and agent.counters.dropped_events == 80
    assert "queue_drops=80" in agent.stats_line()


class QueueSensor:
    """A real `Sensor` fed by the test through a queue (events arrive when pushed)."""

    name = "queue"

    def __init__(self) -> None:
        import queue as q
        self.q: "q.Queue[Event]" = q.Queue()

    def start(self) -> None:
        pass

    def read(self, timeout: float) -> list[Event]:
        import queue as q
        try:
            return [self.q.get(timeout=timeout)]
        except q.Empty:
            return []

    def stop(self) -> None:
        pass

    def stats(self) -> dict[str, int]:
        return {"events": 0}


RULE = """
- rule: {name}
  desc: test rule
  condition: evt.type = openat and fd.name = {path}
  output: "{name} %fd.name"
  priority: WARNING
"""


def _open(path: str, i: int) -> Event:
    return Event(type="openat", ts=i, res=3, args={"flags": 0},
                 proc=Process(pid=4000 + i, name="cat"), fd=FdInfo(num=3, type="file", name=path))


def test_rules_hot_reload_swaps_rules_and_keeps_them_on_a_broken_file(tmp_path):
    from vigil.rules.reload import RulesReloader

    rules = tmp_path / "local.yaml"
    rules.write_text(RULE.format(name="first rule", path="/srv/a"))
    cfg = parse_config(f'state_dir = "{tmp_path}"\n[rules]\nfalco = ["{rules}"]\n'
                       "[sensors]\nebpf = false\n")
    built = build_pipeline(config=cfg, detectors=False, alerts=False, audit=False)
    seen: list[str] = []
    built.pipeline.on_detection = lambda d: seen.append(d.name)
    sensor = QueueSensor()
    agent = Agent(built, [sensor], stats_interval=3600)
    reloader = RulesReloader(built.rule_files, built.reloaded, agent.offer_engines, interval=0.05)
    t = threading.Thread(target=agent.run, kwargs={"duration": 60})
    t.start()

    def wait(cond, what):
        deadline = time.monotonic() + 10
        while not cond() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert cond(), what

    try:
        reloader.start()
        sensor.q.put(_open("/srv/a", 1))
        wait(lambda: seen == ["first rule"], "the initial rule runs")
        rules.write_text(RULE.format(name="second rule", path="/srv/b"))
        wait(lambda: reloader.reloads == 1, "the edited file is reloaded")
        for i in range(2, 50):  # until the engine thread has swapped the new rules in
            sensor.q.put(_open("/srv/b", i))
            time.sleep(0.02)
            if "second rule" in seen:
                break
        assert "second rule" in seen
        rules.write_text("- rule: broken\n  condition: evt.type = openat and nosuchmacro\n")
        wait(lambda: reloader.last_error is not None, "the broken file is reported")
        assert "local.yaml:1: rule 'broken': Item has no mapping for key 'output'" \
            in reloader.last_error
        assert str(rules) in reloader.last_error
        n = len(seen)
        sensor.q.put(_open("/srv/b", 99))
        wait(lambda: len(seen) == n + 1, "the previous good rules keep running")
        assert seen[-1] == "second rule" and reloader.reloads == 1
    finally:
        reloader.stop()
        agent.stop()
        t.join(10)
        agent.shutdown()


class _FilteredSensor(ListSensor):
    """A sensor that records the read and toolchain-write filters the agent gives it."""

    def __init__(self) -> None:
        super().__init__([])
        self.filters: list = []
        self.write_filters: list = []

    def set_read_filter(self, read_filter, write_filter=None) -> None:  # noqa: ANN001
        self.filters.append(read_filter)
        self.write_filters.append(write_filter)


def test_a_reload_recomputes_the_kernel_read_filter() -> None:
    built = build_pipeline(config=parse_config(""), audit=False, alerts=False, detectors=True)
    sensor = _FilteredSensor()
    agent = Agent(built, [sensor])

    class Reader:
        name = "reader"
        event_types = frozenset({"openat"})

        def on_event(self, event: Event) -> list:
            return []

    original = list(built.detectors)
    agent.offer_detectors([*original, Reader()])
    agent._swap()
    assert sensor.filters[-1] is None  # an undeclared detector needs every read
    agent.offer_detectors(original)
    agent._swap()
    assert sensor.filters[-1] is not None and "/etc/shadow" in sensor.filters[-1].exact
    # the toolchain-write filter is recomputed with it
    assert sensor.write_filters[-1] is not None
    assert "/etc/ld.so.preload" in sensor.write_filters[-1].exact
    built.close()


def test_a_full_queue_keeps_the_high_value_events_of_a_dropped_batch() -> None:
    built = build_pipeline(config=parse_config(""), audit=False, alerts=False, detectors=True)

    class Picky(ListSensor):
        def high_value(self, batch: list[Event]) -> list[Event]:
            return [e for e in batch if e.type == "flood"]

    sensor = Picky([])
    agent = Agent(built, [sensor], queue_batches=1)
    agent.queue.put_nowait([_shadow_read(0)])
    flood = Event(type="flood", ts=5, proc=Process(pid=7, name="x"),
                  args={"syscall": "openat", "count": 9, "offered": 10})
    agent._overflow(sensor, [_shadow_read(1), flood])
    assert agent.counters.dropped_events == 1 and agent.counters.kept_high_value == 1
    assert agent.urgent.get_nowait() == [flood]
    assert "queue_kept_high_value=1" in agent.stats_line()
    built.close()
