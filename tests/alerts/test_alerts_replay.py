"""The pipeline driven by event time, as a replay drives it: submit each detection and
pump at its timestamp. The shape of the "night on a production server" acceptance point:
suppressed detections are refused, one brute force gives its first alert and one summary,
and each real anomaly one message.

The real fixture and detectors are wired in by the lead's replay test; this one builds the
same shape from known detections so that the alert side's count is pinned here: 49 brute
force incidents + 2 anomalies + 79 suppressed detections = 130 -> exactly 4 messages.
"""

from __future__ import annotations

from alerts_factories import T0, anomaly, bruteforce_burst
from alerts_servers import telegram_server, telegram_sink_table, telegram_texts  # noqa: F401

from vigil.alerts.config import AlertsConfig
from vigil.alerts.pipeline import AlertPipeline
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
    cfg = AlertsConfig.from_dict({"sinks": {"tg": telegram_sink_table(telegram_server.url)},
                                  "routes": [{"sink": "tg", "min_priority": "warning"}]})
    p = AlertPipeline(cfg, tmp_path, clock=lambda: 0.0)
    dets = night()
    assert len(dets) == 130
    for det in dets:
        p.submit(det)
        p.pump(det.ts / 1e9)
    p.pump(dets[-1].ts / 1e9 + 120)
    stats = p.stop()
    texts = telegram_texts(telegram_server)
    assert stats.ignored_suppressed == 79
    assert len(texts) == 4
    assert "Failed password" in texts[0]
    assert "49 attempts from 12 IPs" in texts[1]
    assert "bash -i" in texts[2] and "insmod" in texts[3]
