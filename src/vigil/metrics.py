"""Prometheus metrics of the running agent, read from its live counters at scrape time."""

from __future__ import annotations

from typing import Any, Iterator

from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily

#: the sensor counters of fields left empty (`EbpfSensor.stats()`), by reason
_UNFILLED = ("dns_malformed", "dns_cut", "pipe_peers_unknown", "fds_beyond_exec_view",
             "untracked_fds", "listeners_cut", "truncated_records")


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
                 "events dropped because the engine queue was full"),
                ("vigil_queue_kept_high_value", self.agent.counters.kept_high_value,
                 "high-value events kept from batches the full engine queue dropped")):
            yield CounterMetricFamily(name, doc, value=value)
        events = CounterMetricFamily("vigil_sensor_events", "events delivered per sensor",
                                     labels=["sensor"])
        drops = CounterMetricFamily("vigil_sensor_kernel_drops",
                                    "events lost in the kernel (ring buffer full)",
                                    labels=["sensor"])
        filtered = CounterMetricFamily(
            "vigil_sensor_kernel_filtered",
            "events left in the kernel by configuration ([sensors] ignore_read_prefixes, "
            "ignore_missing_reads, ignore_missing_execs) and by the rule-derived filter "
            "(rules)", labels=["sensor", "reason"])
        lanes = CounterMetricFamily(
            "vigil_sensor_lane_records",
            "kernel records per lane and fate: priority lane written and lost, records "
            "flood control folded and the flood aggregates sent", labels=["sensor", "what"])
        dns = CounterMetricFamily("vigil_sensor_dns_queries",
                                  "DNS questions read from traffic to [sensors] dns_ports",
                                  labels=["sensor"])
        unfilled = CounterMetricFamily(
            "vigil_sensor_unfilled",
            "fields the sensor left empty, by reason (not a DNS query, cut payload, pipe "
            "writer unknown, fds beyond the exec view, listeners cut, short records)",
            labels=["sensor", "reason"])
        for s in self.agent.sensors:
            ss = s.stats()
            events.add_metric([s.name], ss.get("events", 0))
            if "dns_queries" in ss:
                dns.add_metric([s.name], ss["dns_queries"])
            for key in _UNFILLED:
                if key in ss:
                    unfilled.add_metric([s.name, key], ss[key])
            if "drops" in ss:  # drops_contended is a part of drops, not more of them
                drops.add_metric([s.name], ss["drops"])
            for key, what in (("priority_events", "priority_written"),
                              ("drops_priority", "priority_lost"),
                              ("flood_folded", "flood_folded"),
                              ("flood_records", "flood_reports")):
                if key in ss:
                    lanes.add_metric([s.name, what], ss[key])
            for key, reason in (("ignored_reads", "read_prefix"),
                                ("ignored_missing_reads", "missing_read"),
                                ("ignored_missing_execs", "missing_exec"),
                                ("ignored_by_rules", "rules")):
                if key in ss:
                    filtered.add_metric([s.name, reason], ss[key])
        yield events
        yield drops
        yield filtered
        yield lanes
        yield dns
        yield unfilled
        yield GaugeMetricFamily("vigil_queue_depth", "event batches waiting for the engine",
                                value=self.agent.queue.qsize())
        corr = self.agent.built.pipeline.correlator
        yield GaugeMetricFamily("vigil_incidents_open", "incidents open now", value=len(corr))
        yield CounterMetricFamily("vigil_incidents_evicted",
                                  "incidents closed early because [incidents] max_open was "
                                  "reached", value=corr.stats.evicted)
        by_rule = CounterMetricFamily("vigil_detections_by_rule",
                                      "detections per rule or detector, and how many of "
                                      "them were suppressed", labels=["rule", "fate"])
        for name, n in st.per_name.items():
            sup = st.suppressed_per_name.get(name, 0)
            by_rule.add_metric([name, "suppressed"], sup)
            by_rule.add_metric([name, "unsuppressed"], n - sup)
        yield by_rule
        by_priority = CounterMetricFamily("vigil_detections_by_priority",
                                          "unsuppressed detections per priority",
                                          labels=["priority"])
        for label, n in st.per_priority.items():
            by_priority.add_metric([label], n)
        yield by_priority
        alerts = self.agent.built.alerts
        if alerts is not None:
            yield CounterMetricFamily("vigil_alert_queue_dropped",
                                      "incident events refused by the full alert queue",
                                      value=alerts.stats().dropped)
            sent = CounterMetricFamily("vigil_alerts_delivered", "messages a sink accepted",
                                       labels=["sink"])
            failed = CounterMetricFamily("vigil_alerts_failed",
                                         "delivery attempts that failed (retried)",
                                         labels=["sink"])
            dead = CounterMetricFamily("vigil_alerts_dead_lettered",
                                       "messages given up on", labels=["sink"])
            backlog = GaugeMetricFamily("vigil_alerts_backlog", "messages in the outbox",
                                        labels=["sink", "state"])
            for name, c in alerts.sink_report().items():
                sent.add_metric([name], c["sent"])
                failed.add_metric([name], c["failed"])
                dead.add_metric([name], c["dead_lettered"])
                for state in ("pending", "retrying", "dead"):
                    backlog.add_metric([name, state], c[state])
            yield sent
            yield failed
            yield dead
            yield backlog
        trail = self.agent.built.audit
        if trail is not None:
            yield GaugeMetricFamily("vigil_audit_held_records",
                                    "audit records held in memory while the trail cannot "
                                    "be written", value=trail.held)


def build_info() -> InfoMetricFamily:
    """`vigil_build_info{version, python}`: which Vigil runs."""
    import platform

    from vigil import __version__
    info = InfoMetricFamily("vigil_build", "the running Vigil")
    info.add_metric([], {"version": str(__version__), "python": platform.python_version()})
    return info


class _BuildInfo:
    def collect(self) -> Iterator[Any]:
        yield build_info()


def split_listen(listen: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` -> (host without brackets, port)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def serve_metrics(agent: Any, listen: str) -> Any:
    """Serve `/metrics` on `host:port` (IPv6: `[::1]:9101`); returns the server (call
    `.shutdown()`). Besides the agent's counters: `vigil_build_info` and the standard
    process metrics (CPU, memory, open files)."""
    host, port = split_listen(listen)
    registry = CollectorRegistry(auto_describe=True)
    registry.register(AgentCollector(agent))
    registry.register(_BuildInfo())
    ProcessCollector(registry=registry)
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server
