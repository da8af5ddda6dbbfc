"""The live agent: sensors on their own threads, one bounded queue, the engine on one thread.

Sensor threads only read and enqueue; a full queue drops the batch and counts it (the
kernel reader is never blocked). The engine thread (the caller of `Agent.run`) takes
events off the queue and feeds the detection pipeline, so rule evaluation takes no locks.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from vigil.agent import BuiltPipeline
from vigil.detections import Detection
from vigil.events.model import Event
from vigil.incidents.model import IncidentEvent
from vigil.sensors.base import Sensor, SensorUnavailable

if TYPE_CHECKING:
    from vigil.sensors.ebpf.lanes import ReadFilter

log = logging.getLogger(__name__)


@dataclass
class AgentCounters:
    """What the agent itself counts (sensors and pipeline keep their own)."""

    queued_batches: int = 0
    dropped_batches: int = 0
    dropped_events: int = 0
    #: high-value events of dropped batches kept for the engine (priority lane, floods,
    #: losses), and those that did not fit either
    kept_high_value: int = 0
    dropped_high_value: int = 0
    sensor_errors: int = 0
    started: float = field(default_factory=time.monotonic)


class Agent:
    """Runs sensors into a `BuiltPipeline` until stopped."""

    def __init__(self, built: BuiltPipeline, sensors: list[Sensor], *,
                 queue_batches: int = 1024,
                 on_stats: Callable[[str], None] | None = None,
                 stats_interval: float = 60.0) -> None:
        self.built = built
        self.sensors = sensors
        self.queue: queue.Queue[list[Event]] = queue.Queue(maxsize=queue_batches)
        #: the high-value events of batches the full queue refused; the engine takes
        #: them before the next batch
        self.urgent: queue.Queue[list[Event]] = queue.Queue(maxsize=queue_batches)
        self.counters = AgentCounters()
        self.on_stats = on_stats
        self.stats_interval = stats_interval
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        from vigil.control import RateMeter
        #: events per second, sampled by the engine thread once a second
        self.meter = RateMeter()
        #: what the last reloads did, for `vigil status` (set by the caller)
        self.reload_info: dict[str, Any] = {}
        #: engines built by the rules reloader, swapped in by the engine thread
        self._pending: Any | None = None
        #: detectors rebuilt by a configuration reload, swapped in likewise
        self._pending_detectors: list[Any] | None = None
        #: per sensor: the event types it lacks that the last warning named
        self._warned_missing: dict[str, frozenset[str]] = {}

    # -- sensors ---------------------------------------------------------------------------

    @staticmethod
    def start_sensors(candidates: list[Sensor]) -> tuple[list[Sensor], list[str]]:
        """Start what can start; returns the running sensors and one line per failure."""
        running, reasons = [], []
        for s in candidates:
            try:
                s.start()
                running.append(s)
            except SensorUnavailable as exc:
                msg = str(exc)
                reasons.append(msg if msg.startswith(s.name) or s.name in msg.split(":")[0]
                               else f"{s.name}: {msg}")
            except Exception as exc:  # a sensor that breaks must not take the agent down
                reasons.append(f"{s.name}: failed to start: {type(exc).__name__}: {exc}")
        return running, reasons

    def _sensor_loop(self, sensor: Sensor) -> None:
        while not self._stop.is_set():
            try:
                batch = sensor.read(0.1)
            except Exception:
                self.counters.sensor_errors += 1
                log.exception("sensor %s failed to read; retrying", sensor.name)
                time.sleep(0.5)
                continue
            if not batch:
                continue
            try:
                self.queue.put_nowait(batch)
                self.counters.queued_batches += 1
            except queue.Full:
                self._overflow(sensor, batch)

    def _overflow(self, sensor: Sensor, batch: list[Event]) -> None:
        """The queue is full: the batch is dropped and counted, except its high-value
        events (what the sensor's `high_value` picks), which the engine takes first."""
        pick = getattr(sensor, "high_value", None)
        keep = pick(batch) if callable(pick) else []
        self.counters.dropped_batches += 1
        self.counters.dropped_events += len(batch) - len(keep)
        if not keep:
            return
        try:
            self.urgent.put_nowait(keep)
            self.counters.kept_high_value += len(keep)
        except queue.Full:
            self.counters.dropped_events += len(keep)
            self.counters.dropped_high_value += len(keep)

    # -- engine ----------------------------------------------------------------------------

    def run(self, duration: float | None = None) -> None:
        """Process events until `stop()`, a signal, or `duration` seconds."""
        for s in self.sensors:
            t = threading.Thread(target=self._sensor_loop, args=(s,), name=f"sensor-{s.name}",
                                 daemon=True)
            t.start()
            self._threads.append(t)
        deadline = None if duration is None else time.monotonic() + duration
        next_stats = time.monotonic() + self.stats_interval
        pipeline = self.built.pipeline
        process = pipeline.process
        next_tick = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            if now >= next_stats:
                next_stats = now + self.stats_interval
                self._emit_stats()
            if self._pending is not None or self._pending_detectors is not None:
                self._swap()
            if now >= next_tick:
                # quiet incidents close on time even when no event comes
                next_tick = now + 1.0
                self.meter.sample(pipeline.stats.events, now)
                try:
                    pipeline.tick()
                except Exception:
                    log.exception("closing idle incidents failed")
            try:
                batch = self.urgent.get_nowait()
            except queue.Empty:
                try:
                    batch = self.queue.get(timeout=0.2)
                except queue.Empty:
                    continue
            if self._pending is not None or self._pending_detectors is not None:
                self._swap()  # offered while waiting: this batch is for what was offered
            for ev in batch:
                process(ev)
        self._drain(process)

    def offer_engines(self, engines: Any) -> None:
        """Hand over reloaded rule engines (any thread); `run` swaps them in between
        batches, so evaluation never takes a lock."""
        self._pending = engines

    def offer_detectors(self, detectors: list[Any]) -> None:
        """Hand over detectors rebuilt from a reloaded configuration (any thread); swapped
        in between batches like engines."""
        self._pending_detectors = detectors

    def _swap(self) -> None:
        engines, self._pending = self._pending, None
        detectors, self._pending_detectors = self._pending_detectors, None
        if engines is not None:
            old = self.built.falco
            self.built.falco, self.built.sigma = engines.falco, engines.sigma
            self.built.pipeline.replace_engines(engines.engines())
            if old is not None and old is not engines.falco:
                old.ruleset.names.stop()
        if detectors is not None:
            self.built.detectors = detectors
            self.built.pipeline.replace_detectors(detectors)
        self._check_capture()
        self._refilter()

    def _refilter(self) -> None:
        """Recompute the rule-derived kernel filter for what now runs (after a reload)."""
        if not self.built.config.sensors.rule_filters:
            return
        read_filter, write_filter = rule_filters(self.built)
        for s in self.sensors:
            apply = getattr(s, "set_read_filter", None)
            if callable(apply):
                try:
                    apply(read_filter, write_filter)
                except Exception:
                    log.exception("updating the kernel read filter failed")

    def _check_capture(self) -> None:
        """Warn when what now runs needs event types a sensor could capture but was not
        started with (a restart captures them). Types a sensor cannot capture at all are
        not its business, and a warning already given is not repeated at every reload."""
        needed = self.built.event_types()
        for s in self.sensors:
            have = getattr(s, "event_types", None)
            if have is None:
                continue
            supported = getattr(s, "supported_types", None)
            can = frozenset(supported()) if callable(supported) else None
            if needed is None:  # every type: as many as the sensor can capture
                want = can if can is not None else frozenset()
            else:
                want = frozenset(needed) & can if can is not None else frozenset(needed)
            missing = want - frozenset(have)
            if missing and missing != self._warned_missing.get(s.name):
                log.warning("the rules and detectors now need event types the %s sensor was "
                            "not started with (%s): restart vigil to capture them", s.name,
                            ", ".join(sorted(missing)[:8]) + (" ..." if len(missing) > 8
                                                              else ""))
            self._warned_missing[s.name] = missing

    def _drain(self, process: Callable[[Event], Any]) -> None:
        for q in (self.urgent, self.queue):
            while True:
                try:
                    batch = q.get_nowait()
                except queue.Empty:
                    break
                for ev in batch:
                    process(ev)

    def stop(self) -> None:
        """Ask `run` to return (safe from a signal handler)."""
        self._stop.set()

    def shutdown(self) -> str:
        """Stop the sensors (detaching BPF links), close the pipeline; the final stats."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        for s in self.sensors:
            try:
                s.stop()
            except Exception:
                log.exception("stopping sensor %s failed", s.name)
        self._drain(self.built.pipeline.process)
        line = self.stats_line()
        self.built.close()
        return line

    def stats_line(self) -> str:
        """One line: events, detections, drops per stage."""
        st = self.built.pipeline.stats
        c = self.counters
        parts = [f"events={st.events}", f"detections={st.detections}",
                 f"suppressed={st.suppressed}", f"incidents_opened={st.incidents_opened}",
                 f"incidents_open={len(self.built.pipeline.correlator)}",
                 f"queue_drops={c.dropped_events}"]
        if c.kept_high_value:
            parts.append(f"queue_kept_high_value={c.kept_high_value}")
        for s in self.sensors:
            ss = s.stats()
            if "drops" in ss:
                parts.append(f"{s.name}_kernel_drops={ss['drops']}")
            parts.append(f"{s.name}_events={ss.get('events', 0)}")
            if "ignored_reads" in ss:
                filtered = (ss["ignored_reads"] + ss.get("ignored_missing_reads", 0)
                            + ss.get("ignored_missing_execs", 0)
                            + ss.get("ignored_by_rules", 0))
                parts.append(f"{s.name}_kernel_filtered={filtered}")
            if "drops_priority" in ss:
                parts.append(f"{s.name}_kernel_drops_priority={ss['drops_priority']}")
                parts.append(f"{s.name}_priority_events={ss['priority_events']}")
                parts.append(f"{s.name}_flood_folded={ss['flood_folded']}")
        alerts = self.built.alerts
        if alerts is not None:
            a = alerts.stats()
            parts.append(f"alert_queue_drops={a.dropped}")
        return "stats: " + " ".join(parts)

    def status(self) -> dict[str, Any]:
        """What `vigil status` shows: a snapshot of the running agent (any thread)."""
        from vigil import __version__
        built = self.built
        st = built.pipeline.stats
        corr = built.pipeline.correlator
        cfg = built.config
        sensors = []
        for s in self.sensors:
            ss = s.stats()
            sensors.append({"name": s.name, "events": ss.get("events", 0),
                            "kernel_drops": ss.get("drops", 0),
                            "kernel_filtered": ss.get("ignored_reads", 0)
                            + ss.get("ignored_missing_reads", 0)
                            + ss.get("ignored_missing_execs", 0)
                            + ss.get("ignored_by_rules", 0)})
        out: dict[str, Any] = {
            "version": __version__, "pid": os.getpid(),
            "uptime_secs": round(time.monotonic() - self.counters.started, 1),
            "config": str(cfg.source) if cfg.source else None,
            "state_dir": str(cfg.state_dir), "sensors": sensors,
            "events": st.events, "events_per_sec": round(self.meter.rate(10.0), 1),
            "detections": st.detections, "suppressed": st.suppressed,
            "queue_depth": self.queue.qsize(), "queue_drops": self.counters.dropped_events,
            "rules": {"falco": len(built.falco.rules) if built.falco is not None else 0,
                      "sigma": len(built.sigma.rules) if built.sigma is not None else 0,
                      "detectors": [d.name for d in built.detectors]},
            "reload": dict(self.reload_info),
            "incidents": {"open": len(corr), "opened": corr.stats.opened,
                          "escalated": st.incidents_escalated, "closed": corr.stats.closed,
                          "evicted": corr.stats.evicted},
        }
        trail = built.audit
        if trail is not None:
            out["audit"] = {"path": str(trail.path), "degraded": trail.degraded,
                            "held": trail.held}
        alerts = built.alerts
        if alerts is not None:
            a = alerts.stats()
            out["alerts"] = {"queue_drops": a.dropped, "sinks": alerts.sink_report()}
        return out

    def _emit_stats(self) -> None:
        line = self.stats_line()
        if self.on_stats is not None:
            self.on_stats(line)
        else:
            log.info("%s", line)

    def install_signal_handlers(self) -> None:
        """Ctrl-C and SIGTERM stop the agent cleanly."""
        def handler(signum: int, _frame: Any) -> None:
            log.info("signal %d: stopping", signum)
            self.stop()
        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)


def sensor_filters(sensors: Any) -> dict[str, Any]:
    """The kernel-side options of `[sensors]` for `EbpfSensor` (shared by run and record)."""
    return {"ignore_read_prefixes": sensors.ignore_read_prefixes,
            "ignore_missing_reads": sensors.ignore_missing_reads,
            "ignore_missing_execs": sensors.ignore_missing_execs,
            "dns_ports": sensors.dns_ports,
            "bpf_object": sensors.bpf_object,
            "flood_limit": sensors.flood_limit,
            "lost_interval": sensors.lost_interval}


def rule_filters(built: BuiltPipeline) -> tuple[ReadFilter | None, ReadFilter | None]:
    """The read-only opens, and the compiler toolchain's writes, the loaded rules and
    detectors can need, for the kernel (None: every one); the verdicts are logged."""
    from vigil.rules.kernel_filters import plan_reads, plan_writes

    out = []
    for plan in (plan_reads(built.falco, built.sigma, built.detectors),
                 plan_writes(built.falco, built.sigma, built.detectors)):
        log.info("%s", plan.explain()[-1])
        out.append(plan.kernel_paths())
    return out[0], out[1]


def default_sensors(built: BuiltPipeline) -> list[Sensor]:
    """The sensors `vigil.toml` enables, configured for the loaded rules and detectors."""
    cfg = built.config
    out: list[Sensor] = []
    if cfg.sensors.ebpf:
        from vigil.sensors.ebpf.sensor import EbpfSensor

        read_filter, write_filter = rule_filters(built) if cfg.sensors.rule_filters \
            else (None, None)
        out.append(EbpfSensor(event_types=built.event_types(), exclude_pids={os.getpid()},
                              hostname=cfg.hostname, read_filter=read_filter,
                              write_filter=write_filter,
                              **sensor_filters(cfg.sensors)))
    from vigil.sensors.auth_select import auth_sensors

    # the auth log, the journal or both, as [sensors] and this host allow (logged at INFO)
    out.extend(auth_sensors(cfg.sensors, cfg.state_dir))
    return out


def incident_printer(as_json: bool) -> Callable[[IncidentEvent], None]:
    """What `vigil run` prints on stdout for each incident opening, escalation and
    closing: one line, or one JSON document (`--json`)."""
    import json

    from vigil.incidents.render import event_document, incident_line

    def show(ev: IncidentEvent) -> None:
        if as_json:
            line = json.dumps(event_document(ev), ensure_ascii=True)
        else:
            line = incident_line(ev)
        print(line, flush=True)
    return show


def detection_printer(as_json: bool) -> Callable[[Detection], None]:
    """`vigil run --detections`: every unsuppressed detection, one line each."""
    from vigil.display import detection_line

    def show(det: Detection) -> None:
        if det.suppressed is None:
            print(detection_line(det, as_json), flush=True)
    return show
