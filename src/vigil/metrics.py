"""Prometheus metrics of the running agent, read from its live counters at scrape time."""

from __future__ import annotations

from typing import Any, Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


class AgentCollector:
    """Exposes the agent's counters (events, drops, detections) without a polling thread."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent

    def collect(self) -> Iterator[Any]:
        """Called by prometheus-client on every scrape."""
        st = self.agent.built.pipeline.stats
        for name, value, doc in (
                ("vigil_events", st.events, "events processed by the detection pipeline"),
                ("vigil_detections", st.detections, "detections (unsuppressed and suppressed)"),
                ("vigil_incidents", st.incidents_opened, "incidents opened"),
                ("vigil_incidents_escalated", st.incidents_escalated,
                 "incidents whose priority rose"),
                ("vigil_incidents_closed", st.incidents_closed, "incidents closed"),
                ("vigil_suppressed", st.suppressed, "detections suppressed with a reason"),
                ("vigil_pipeline_errors", st.errors, "consumer failures on single events"),
                ("vigil_queue_dropped_events", self.agent.counters.dropped_events,
                 "events dropped because the engine queue was full")):
            yield CounterMetricFamily(name, doc, value=value)
        events = CounterMetricFamily("vigil_sensor_events", "events delivered per sensor",
                                     labels=["sensor"])
        drops = CounterMetricFamily("vigil_sensor_kernel_drops",
                                    "events lost in the kernel (ring buffer full)",
                                    labels=["sensor"])
        filtered = CounterMetricFamily(
            "vigil_sensor_kernel_filtered",
            "events left in the kernel by configuration ([sensors] ignore_read_prefixes, "
            "ignore_missing_reads, ignore_missing_execs)", labels=["sensor", "reason"])
        for s in self.agent.sensors:
            ss = s.stats()
            events.add_metric([s.name], ss.get("events", 0))
            if "drops" in ss:  # drops_contended is a part of drops, not more of them
                drops.add_metric([s.name], ss["drops"])
            for key, reason in (("ignored_reads", "read_prefix"),
                                ("ignored_missing_reads", "missing_read"),
                                ("ignored_missing_execs", "missing_exec")):
                if key in ss:
                    filtered.add_metric([s.name, reason], ss[key])
        yield events
        yield drops
        yield filtered
        yield GaugeMetricFamily("vigil_queue_depth", "event batches waiting for the engine",
                                value=self.agent.queue.qsize())
        corr = self.agent.built.pipeline.correlator
        yield GaugeMetricFamily("vigil_incidents_open", "incidents open now", value=len(corr))
        yield CounterMetricFamily("vigil_incidents_evicted",
                                  "incidents closed early because [incidents] max_open was "
                                  "reached", value=corr.stats.evicted)
        alerts = self.agent.built.alerts
        if alerts is not None:
            yield CounterMetricFamily("vigil_alert_queue_dropped",
                                      "incident events refused by the full alert queue",
                                      value=alerts.stats().dropped)


def serve_metrics(agent: Any, listen: str) -> Any:
    """Serve `/metrics` on `host:port`; returns the server (call `.shutdown()`)."""
    host, _, port = listen.rpartition(":")
    registry = CollectorRegistry(auto_describe=True)
    registry.register(AgentCollector(agent))
    server, _thread = start_http_server(int(port), addr=host or "127.0.0.1", registry=registry)
    return server
