"""Send one test message straight to a sink (`vigil alerts test`), bypassing the outbox so
the operator sees the sink's answer at once."""

from __future__ import annotations

import time
from collections.abc import Callable

from vigil.alerts.message import Alert
from vigil.alerts.sinks.base import Sink
from vigil.priority import Priority


def probe_alert(sink_name: str, hostname: str | None, now: float) -> Alert:
    """The test message for `sink_name`."""
    where = f" on {hostname}" if hostname else ""
    return Alert(kind="test", route="test", title="Vigil test message",
                 text=f"Test alert from Vigil{where}: if you can read this, sink "
                      f"{sink_name!r} works.",
                 priority=Priority.NOTICE, ts=now, key="vigil:test", hostname=hostname)


def send_now(sink: Sink, alert: Alert, sleep: Callable[[float], None] = time.sleep) -> int:
    """Render and deliver every part of `alert`, keeping the sink's `min_interval` between
    parts; returns the number of parts. Raises `SinkError` from the sink."""
    parts = sink.render(alert)
    for i, part in enumerate(parts):
        if i and sink.min_interval:
            sleep(sink.min_interval)
        sink.deliver(part)
    return len(parts)
