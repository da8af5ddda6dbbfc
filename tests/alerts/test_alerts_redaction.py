"""Secrets never reach a log line or an error text, whatever their spelling (issue 14
item 7): webhook URLs whose host differs in case, with a space, non-ASCII or
percent-encoding in the path, a token in the query or the user info, a header value;
delivered for real to a local server (or failing to connect), with every logger of the
process at DEBUG."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from urllib.parse import quote, unquote

import pytest
from alerts_factories import anomaly
from alerts_servers import TOKEN, RecordingServer, slack_ok, telegram_ok

from vigil.alerts.config import SinkConfig
from vigil.alerts.message import Alert
from vigil.alerts.sinks.base import SinkError
from vigil.alerts.sinks.telegram import TelegramSink
from vigil.alerts.sinks.webhook import JsonWebhookSink
from vigil.priority import Priority

T0 = 1_795_000_000.0


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    srv = RecordingServer(slack_ok)
    yield srv
    srv.close()


@pytest.fixture
def all_logs() -> Iterator[io.StringIO]:
    """Every record of every logger at DEBUG, formatted with tracebacks."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    touched = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in touched:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield out
    root.removeHandler(handler)
    root.setLevel(old_level)
    for name, level in touched.items():
        logging.getLogger(name).setLevel(level)


def spellings(secret: str) -> set[str]:
    """The ways a secret part may be printed."""
    out = {secret, unquote(secret), quote(secret, safe=""), quote(secret, safe="/:@"),
           quote(unquote(secret), safe="/:@")}
    return out | {s.lower() for s in out} | {s.upper() for s in out}


def alert() -> Alert:
    det = anomaly("reverse_shell", T0)
    return Alert(key="detector:reverse_shell", kind="incident", route="r", title="Reverse shell",
                 text=det.output, priority=Priority.CRITICAL, ts=T0, hostname="web-1",
                 detection=det)


CASES = [
    # (what, url template, secret parts that must never show)
    ("host in other case", "http://LocalHost:{port}/hook/t0ken-case-4411", ["t0ken-case-4411"]),
    ("space in the path", "http://localhost:{port}/hook/s3cret with space",
     ["s3cret with space"]),
    ("non-ASCII path", "http://localhost:{port}/hook/sécret-ünïcode-77", ["sécret-ünïcode-77"]),
    ("percent-encoded path", "http://localhost:{port}/hook/p%41th-enc0ded-5", ["p%41th-enc0ded-5"]),
    ("token in the query", "http://LOCALHOST:{port}/hook?token=qu3ry-t0ken-9&x=1",
     ["qu3ry-t0ken-9"]),
    ("user info", "http://us3r:pa55word-x@localhost:{port}/hook", ["pa55word-x"]),
]


@pytest.mark.parametrize("what,template,parts", CASES, ids=[c[0] for c in CASES])
def test_webhook_url_secret_is_never_logged(server: RecordingServer, all_logs: io.StringIO,
                                            what: str, template: str, parts: list[str]) -> None:
    url = template.format(port=server.port)
    sink = JsonWebhookSink("hook", url=url, headers={"Authorization": "Bearer h3ader-secret-1"})
    try:
        sink.deliver(sink.render(alert())[0])
    finally:
        sink.close()
    assert len(server.accepted) == 1  # it really went out
    text = all_logs.getvalue()
    assert "HTTP Request" in text  # httpx did log the request, at INFO
    for part in parts + ["h3ader-secret-1"]:
        leaked = [s for s in spellings(part) if s in text]
        assert not leaked, (what, leaked, text[-2000:])


def test_failed_delivery_error_and_logs_hold_no_secret(all_logs: io.StringIO) -> None:
    """Connection refused to a non-ASCII host name: the error text (which goes to the
    outbox and the audit trail) and every log line are clean."""
    url = "http://Bücher-Hook.invalid:9/hook/t0ken-idna-3?key=k3y-value-8"
    sink = JsonWebhookSink("hook", url=url, timeout=2)
    try:
        with pytest.raises(SinkError) as err:
            sink.deliver(sink.render(alert())[0])
        # the delivery loop logs the error, and a bug's traceback may quote the URL
        logging.getLogger("vigil.alerts.delivery").warning("retry: %s", err.value)
        try:
            raise ValueError(f"cannot deliver to {url}")
        except ValueError:
            logging.getLogger("vigil.alerts.pipeline").exception("round failed")
    finally:
        sink.close()
    assert "cannot deliver to http://xn--bcher-hook-9db.invalid:9/<redacted>" \
        in all_logs.getvalue()
    for text in (str(err.value), all_logs.getvalue()):
        for part in ("t0ken-idna-3", "k3y-value-8"):
            assert not [s for s in spellings(part) if s in text], text


def test_telegram_token_is_never_logged(all_logs: io.StringIO) -> None:
    srv = RecordingServer(telegram_ok)
    try:
        sink = TelegramSink("tg", token=TOKEN, chat_id="-1001",
                            api_url=f"http://LocalHost:{srv.port}")
        sink.deliver(sink.render(alert())[0])
        sink.close()
    finally:
        srv.close()
    text = all_logs.getvalue()
    assert "HTTP Request" in text
    assert not [s for s in spellings(TOKEN) if s in text], text


def test_redact_cuts_a_configured_url_in_any_spelling() -> None:
    from vigil.alerts.sinks.redact import redact
    secret = "https://Hooks.Example.com/services/T0001/B0002/XyZsecret123"
    for seen in ("https://hooks.example.com:443/services/T0001/B0002/XyZsecret123",
                 "HTTPS://HOOKS.EXAMPLE.COM/services/T0001/B0002/XyZsecret123/",
                 "https://hooks.example.com/services%2FT0001/B0002/XyZsecret123"):
        out = redact(f"POST {seen} failed", [secret])
        assert "T0001" not in out and "xyzsecret123" not in out.lower(), out
        assert out.startswith("POST https://hooks.example.com:443/<redacted>"), out
    assert redact("POST https://hooks.example.com/services/x failed", [secret]) == \
        "POST https://hooks.example.com/services/x failed"  # another URL of the same host


def test_a_sink_config_never_shows_its_secret() -> None:
    from vigil.alerts.config import SecretRef
    cfg = SinkConfig(name="x", type="webhook", secrets={
        "url": SecretRef("alerts.sinks.x.url", value="http://h/hook/s3cr3t-in-repr")})
    assert "s3cr3t-in-repr" not in repr(cfg)
