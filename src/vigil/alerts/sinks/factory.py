"""Build sinks from `[alerts.sinks.<name>]` tables."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from vigil.alerts.config import SinkConfig
from vigil.alerts.sinks.base import Sink
from vigil.alerts.sinks.falco_json import FalcoJsonSink
from vigil.alerts.sinks.file import FileSink, StdoutSink
from vigil.alerts.sinks.slack import SlackSink
from vigil.alerts.sinks.syslog import SyslogSink
from vigil.alerts.sinks.telegram import TelegramSink
from vigil.alerts.sinks.webhook import JsonWebhookSink

_HTTP_SINKS = {"telegram": TelegramSink, "slack": SlackSink, "webhook": JsonWebhookSink,
               "falco_json": FalcoJsonSink}


def build_sink(cfg: SinkConfig, *, environ: Mapping[str, str] | None = None,
               transport: httpx.BaseTransport | None = None) -> Sink:
    """The sink for `cfg`. Secrets are resolved now (`ConfigError` when an environment
    variable is missing); `transport` replaces the network for HTTP sinks (benchmarks)."""
    if cfg.type in _HTTP_SINKS:
        return _HTTP_SINKS[cfg.type].from_config(cfg, environ=environ, transport=transport)
    if cfg.type == "syslog":
        return SyslogSink.from_config(cfg)
    if cfg.type == "file":
        return FileSink.from_config(cfg)
    return StdoutSink(cfg.name, min_interval=cfg.min_interval_secs)


def build_sinks(sinks: Mapping[str, SinkConfig], *, environ: Mapping[str, str] | None = None,
                transport: httpx.BaseTransport | None = None) -> dict[str, Sink]:
    """Every configured sink, by name."""
    return {name: build_sink(cfg, environ=environ, transport=transport)
            for name, cfg in sinks.items()}
