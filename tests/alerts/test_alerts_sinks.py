"""Slack, generic webhook, Falco JSON, syslog, file and stdout sinks: exact payloads on
real local servers and sockets."""

from __future__ import annotations

import io
import json
import re
import socket
import threading
from pathlib import Path

import pytest
from alerts_factories import T0, opened, ssh_failure
from alerts_servers import Scripted, slack_server  # noqa: F401

from vigil.alerts.batching import detection_alert, incident_alert
from vigil.alerts.config import AlertsConfig
from vigil.alerts.message import Alert, BatchSummary
from vigil.alerts.pipeline import AlertPipeline
from vigil.alerts.sinks.base import SinkError
from vigil.alerts.sinks.falco_json import FalcoJsonSink, falco_document
from vigil.alerts.sinks.file import FileSink, StdoutSink
from vigil.alerts.sinks.slack import SlackSink
from vigil.alerts.sinks.syslog import SyslogSink
from vigil.alerts.sinks.webhook import JsonWebhookSink
from vigil.detections import Detection, Entity
from vigil.priority import Priority


def falco_detection() -> Detection:
    return Detection(kind="falco", name="Write below etc", priority=Priority.ERROR,
                     output="File below /etc opened for writing (file=/etc/passwd proc=vi)",
                     ts=int(T0) * 10**9 + 123456789, tags=["filesystem", "mitre_persistence"],
                     output_fields={"fd.name": "/etc/passwd", "proc.name": "vi"},
                     entity=Entity(path="/etc/passwd"), hostname="web-1")


def summary_alert() -> Alert:
    s = BatchSummary(count=49, unique_ips=12, top_ip="185.220.101.23", top_ip_count=23,
                     first_ts=T0, last_ts=T0 + 57, window_secs=60, unit="attempts")
    return Alert(kind="summary", route="oncall", title="SSH brute force",
                 text="SSH brute force: 49 attempts ...", priority=Priority.WARNING,
                 ts=T0 + 60, key="detector:ssh_bruteforce", summary=s, hostname="web-1")


def test_slack_blocks_and_escaping(slack_server) -> None:
    sink = SlackSink("team", url=slack_server.url + "/services/T1/B2/secret")
    alert = incident_alert(opened(ssh_failure("192.0.2.1", T0)).incident, "team", None)
    alert = Alert(**{**{f: getattr(alert, f) for f in alert.__struct_fields__},
                     "text": "cmd <script> & `x`"})
    for part in sink.render(alert):
        sink.deliver(part)
    sink.close()
    path, body = slack_server.accepted[0]
    assert path == "/services/T1/B2/secret"
    assert body == {
        "text": "[Warning] SSH brute force: cmd &lt;script&gt; &amp; `x`",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "[Warning] SSH brute force"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "cmd &lt;script&gt; &amp; `x`"}},
            {"type": "context", "elements": [{"type": "mrkdwn",
                                              "text": "web-1 · 2026-11-26T12:00:00Z"}]},
        ]}


def test_slack_429_retry_after_through_the_pipeline(slack_server, tmp_path) -> None:
    slack_server.script.append(Scripted(429, {}, {"Retry-After": "30"}))
    cfg = AlertsConfig.from_dict({
        "sinks": {"team": {"type": "slack", "url": slack_server.url + "/hook"}},
        "routes": [{"sink": "team", "tags": ["T1110"], "group_wait_secs": 0}]})
    p = AlertPipeline(cfg, tmp_path, clock=lambda: T0)
    p.submit(opened(ssh_failure("192.0.2.1", T0)))
    p.pump(T0)
    p.pump(T0 + 29)
    assert len(slack_server.attempts) == 1 and slack_server.accepted == []
    p.pump(T0 + 30)
    p.stop()
    assert len(slack_server.accepted) == 1


def test_webhook_posts_the_alert_document_with_headers(slack_server) -> None:
    sink = JsonWebhookSink("hook", url=slack_server.url + "/in", headers={"X-Key": "k"})
    sink.deliver(sink.render(summary_alert())[0])
    sink.close()
    _, body = slack_server.accepted[0]
    ns = int(T0) * 10**9
    assert body == {"kind": "summary", "route": "oncall", "title": "SSH brute force",
                    "text": "SSH brute force: 49 attempts ...", "priority": "Warning",
                    "ts_ns": ns + 60 * 10**9, "time": "2026-11-26T12:01:00.000000000Z",
                    "key": "detector:ssh_bruteforce", "hostname": "web-1",
                    "summary": {"count": 49, "unique_ips": 12, "top_ip": "185.220.101.23",
                                "top_ip_count": 23, "first_ts": ns,
                                "first_time": "2026-11-26T12:00:00.000000000Z",
                                "last_ts": ns + 57 * 10**9,
                                "last_time": "2026-11-26T12:00:57.000000000Z",
                                "window_secs": 60.0, "unit": "attempts"}}


def test_incident_document_in_webhook_and_falco_incident_mode() -> None:
    """One time format everywhere: RFC 3339 with nanoseconds, plus ns since the epoch."""
    from vigil.alerts.sinks.webhook import webhook_document
    ev = opened(falco_detection())
    alert = incident_alert(ev.incident, "r", None)
    doc = webhook_document(alert)
    inc = doc["incident"]
    assert doc["time"] == inc["first_time"] == "2026-11-26T12:00:00.123456789Z"
    assert inc["first_ts"] == int(T0) * 10**9 + 123456789
    assert inc["detections"][0]["name"] == "Write below etc"
    assert inc["detections"][0]["priority"] == "Error" and inc["detections"][0]["count"] == 1
    assert inc["entities"]["files"] == ["/etc/passwd"]
    assert inc["techniques"] == [] and inc["status"] == "open"
    falco = falco_document(alert)
    assert falco["rule"] == "Write below etc" and falco["priority"] == "Error"
    assert falco["output_fields"]["vigil.incident.id"] == ev.incident.id
    assert falco["time"] == "2026-11-26T12:00:00.123456789Z"


def test_webhook_4xx_is_not_retryable_5xx_is(slack_server) -> None:
    sink = JsonWebhookSink("hook", url=slack_server.url + "/in")
    slack_server.script.extend([Scripted(400, {"error": "bad"}), Scripted(503, {})])
    with pytest.raises(SinkError) as e400:
        sink.deliver({"a": 1})
    with pytest.raises(SinkError) as e503:
        sink.deliver({"a": 1})
    sink.close()
    assert not e400.value.retryable and "HTTP 400" in str(e400.value)
    assert e503.value.retryable


def test_falco_json_document_shape(slack_server) -> None:
    alert = detection_alert(falco_detection(), "r", "incident:x", "fallback-host")
    sink = FalcoJsonSink("sidekick", url=slack_server.url + "/")
    sink.deliver(sink.render(alert)[0])
    sink.close()
    _, body = slack_server.accepted[0]
    assert body == {
        "time": "2026-11-26T12:00:00.123456789Z",
        "rule": "Write below etc",
        "priority": "Error",
        "source": "syscall",
        "tags": ["filesystem", "mitre_persistence"],
        "output": "12:00:00.123456789: Error File below /etc opened for writing "
                  "(file=/etc/passwd proc=vi)",
        "output_fields": {"fd.name": "/etc/passwd", "proc.name": "vi"},
        "hostname": "web-1",
    }


def test_falco_json_summary_carries_counts() -> None:
    doc = falco_document(summary_alert())
    assert doc["rule"] == "ssh_bruteforce" and doc["source"] == "vigil"
    assert doc["output_fields"] == {"vigil.count": 49, "vigil.unique_ips": 12,
                                    "vigil.top_ip": "185.220.101.23", "vigil.top_ip_count": 23,
                                    "vigil.window_secs": 60.0}
    assert doc["output"] == "12:01:00.000000000: Warning SSH brute force: 49 attempts ..."


RFC5424 = re.compile(
    rb'^<(\d+)>1 (\S+) (\S+) (\S+) (\d+) (\S+) (\[vigil@32473(?: \w+="(?:[^"\\\]]|\\.)*")*\]) (.*)$',
    re.S)


def check_rfc5424(msg: bytes, pri: int, msgid: bytes) -> re.Match:
    m = RFC5424.match(msg)
    assert m, msg
    assert int(m.group(1)) == pri and m.group(6) == msgid
    assert m.group(2) == b"2026-11-26T12:01:00.000000Z" or m.group(2).endswith(b"Z")
    return m


def test_syslog_udp(tmp_path) -> None:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(5)
    sink = SyslogSink("sys", transport="udp", address=f"127.0.0.1:{rx.getsockname()[1]}",
                      facility="local3")
    for part in sink.render(summary_alert()):
        sink.deliver(part)
    sink.close()
    msg = rx.recv(65536)
    rx.close()
    m = check_rfc5424(msg, 19 * 8 + 4, b"summary")  # local3, Warning = 4
    assert m.group(2) == b"2026-11-26T12:01:00.000000Z"
    assert m.group(3) == b"web-1" and m.group(4) == b"vigil"
    assert m.group(7) == (b'[vigil@32473 route="oncall" title="SSH brute force" priority="Warning"'
                          b' key="detector:ssh_bruteforce" count="49" unique_ips="12"'
                          b' top_ip="185.220.101.23"]')
    assert m.group(8) == b"SSH brute force: 49 attempts ..."


def test_syslog_unix_datagram_socket_escapes_structured_data(tmp_path) -> None:
    path = str(tmp_path / "log.sock")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(path)
    rx.settimeout(5)
    alert = Alert(kind="incident", route='r"]\\', title="t", text="line1\nline2",
                  priority=Priority.CRITICAL, ts=T0)
    sink = SyslogSink("sys", transport="unix", address=path)  # facility daemon = 3
    sink.deliver(sink.render(alert)[0])
    msg = rx.recv(65536)
    m = check_rfc5424(msg, 3 * 8 + 2, b"incident")
    assert b'route="r\\"\\]\\\\"' in m.group(7)
    assert m.group(8) == b"line1\nline2"
    # the receiver goes away: a retryable error, and the sink reconnects once it is back
    rx.close()
    Path(path).unlink()
    with pytest.raises(SinkError) as e:
        sink.deliver(b"x")
    assert e.value.retryable
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(path)
    rx.settimeout(5)
    sink.deliver(b"<14>1 - - - - - - again")
    assert rx.recv(100) == b"<14>1 - - - - - - again"
    rx.close()
    sink.close()


def test_syslog_tcp_octet_counting(tmp_path) -> None:
    srv = socket.create_server(("127.0.0.1", 0))
    got: list[bytes] = []

    def accept() -> None:
        conn, _ = srv.accept()
        with conn:
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
            got.append(data)

    t = threading.Thread(target=accept)
    t.start()
    sink = SyslogSink("sys", transport="tcp", address=f"127.0.0.1:{srv.getsockname()[1]}")
    a, b = sink.render(summary_alert())[0], b"<30>1 - - - - - - two\nlines"
    sink.deliver(a)
    sink.deliver(b)
    sink.close()
    t.join(5)
    srv.close()
    assert got == [f"{len(a)} ".encode() + a + f"{len(b)} ".encode() + b]


def test_file_and_stdout_json_lines(tmp_path) -> None:
    path = tmp_path / "out" / "alerts.jsonl"
    f = FileSink("file", path=path)
    buf = io.StringIO()
    s = StdoutSink("out", stream=buf)
    for alert in (summary_alert(), detection_alert(falco_detection(), "r", "incident:x", None),
                  incident_alert(opened(falco_detection()).incident, "r", None)):
        f.deliver(f.render(alert)[0])
        s.deliver(s.render(alert)[0])
    lines = path.read_text().splitlines()
    assert lines == buf.getvalue().splitlines()
    docs = [json.loads(x) for x in lines]
    assert [d["kind"] for d in docs] == ["summary", "detection", "incident"]
    assert docs[1]["detection"]["priority"] == "Error"
    assert docs[1]["detection"]["output_fields"] == {"fd.name": "/etc/passwd", "proc.name": "vi"}
    assert docs[2]["incident"]["detections"][0]["output"].startswith("File below /etc")


def test_file_sink_error_is_retryable(tmp_path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    f = FileSink("file", path=blocker / "alerts.jsonl")
    with pytest.raises(SinkError) as e:
        f.deliver(b"{}\n")
    assert e.value.retryable and "not-a-dir" in str(e.value)
