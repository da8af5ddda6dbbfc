"""The correlation stage and the alert pipeline driven by event time, as a replay drives
them. The shape of the "night on a production server" acceptance point: suppressed
detections never reach the alerts, one brute force storm gives its first alert and one
summary, and each real anomaly one message.

The real fixture and detectors are wired in by tests/night; this one builds the same shape
from known detections so that the alert side's count is pinned here: 49 brute force
detections (12 incidents) + 2 anomalies + 79 suppressed detections = 130 -> exactly 4
messages.
"""

from __future__ import annotations

from alerts_factories import T0, Harness, anomaly, bruteforce_burst
from alerts_servers import telegram_server, telegram_sink_table, telegram_texts  # noqa: F401

from vigil.detections import Suppression
from vigil.priority import Priority


def night() -> list:
    dets = bruteforce_burst(T0 + 3600)
    for i in range(79):  # e.g. backups and package updates, allowlisted
        d = anomaly("data_exfil", T0 + i * 300, Priority.WARNING, "upload by rclone")
        d.suppressed = Suppression(layer="dynamic", entry="allowlist.detectors.data_exfil"
                                   ".skip_binaries=rclone")
        dets.append(d)
    dets.append(anomaly("reverse_shell", T0 + 7200, output="bash -i to 198.51.100.9:4444"))
    dets.append(anomaly("kernel_module", T0 + 9000, output="insmod rootkit.ko"))
    return sorted(dets, key=lambda d: d.ts)


def test_replayed_night_sends_exactly_four_messages(telegram_server, tmp_path) -> None:
    h = Harness(tmp_path, {"sinks": {"tg": telegram_sink_table(telegram_server.url)},
                           "routes": [{"sink": "tg", "min_priority": "warning"}]})
    dets = night()
    assert len(dets) == 130
    h.feed(dets)
    h.at(dets[-1].ts / 1e9 + 120)
    h.finish()
    texts = telegram_texts(telegram_server)
    assert h.pipeline.stats.suppressed == 79
    assert h.alerts.stats().submitted == len(h.events)
    assert all(e.incident.detections[0].name != "data_exfil" for e in h.events)
    assert len(texts) == 4, texts
    assert "Failed password" in texts[0]
    assert "49 attempts from 12 IPs" in texts[1]
    assert "bash -i" in texts[2] and "insmod" in texts[3]
