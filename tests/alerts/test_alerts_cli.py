"""`vigil alerts test` and `vigil alerts status` (typer's runner, real config file, real
local Telegram server, real outbox)."""

from __future__ import annotations

from pathlib import Path

import typer
from alerts_factories import T0, anomaly, opened
from alerts_servers import TOKEN, Scripted, telegram_server, telegram_texts  # noqa: F401
from typer.testing import CliRunner

from vigil.alerts.pipeline import AlertPipeline
from vigil.commands.alerts import register
from vigil.config import load_config


def app() -> typer.Typer:
    a = typer.Typer()
    register(a)
    return a


def write_config(tmp_path: Path, api_url: str) -> Path:
    path = tmp_path / "vigil.toml"
    path.write_text(f"""
state_dir = "{tmp_path / 'state'}"
hostname = "web-1"

[alerts.sinks.tg]
type = "telegram"
token_env = "VIGIL_TEST_TG_TOKEN"
chat_id = "-1001234"
api_url = "{api_url}"

[[alerts.routes]]
sink = "tg"
""")
    return path


def test_alerts_test_sends_one_message(telegram_server, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("VIGIL_TEST_TG_TOKEN", TOKEN)
    cfg = write_config(tmp_path, telegram_server.url)
    r = CliRunner().invoke(app(), ["alerts", "test", "--sink", "tg", "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    assert "sent a test message to 'tg' (telegram, 1 part(s))" in r.output
    (text,) = telegram_texts(telegram_server)
    assert text.startswith("<b>[Notice] Vigil test message</b>\n"
                           "Test alert from Vigil on web-1: if you can read this, sink 'tg' works.\n"
                           "<i>web-1 · ")


def test_alerts_test_reports_failure_without_token(telegram_server, tmp_path,
                                                   monkeypatch) -> None:
    monkeypatch.setenv("VIGIL_TEST_TG_TOKEN", TOKEN)
    telegram_server.script.append(Scripted(401, {"ok": False, "description": "Unauthorized"}))
    cfg = write_config(tmp_path, telegram_server.url)
    r = CliRunner().invoke(app(), ["alerts", "test", "--sink", "tg", "--config", str(cfg)])
    assert r.exit_code == 1
    assert "FAILED" in r.output and "HTTP 401" in r.output and "fix the configuration" in r.output
    assert TOKEN not in r.output


def test_alerts_test_errors(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("VIGIL_TEST_TG_TOKEN", raising=False)
    cfg = write_config(tmp_path, "http://127.0.0.1:9")
    r = CliRunner().invoke(app(), ["alerts", "test", "--sink", "nope", "--config", str(cfg)])
    assert r.exit_code == 2 and "unknown sink 'nope'; configured: tg" in r.output
    r = CliRunner().invoke(app(), ["alerts", "test", "--sink", "tg", "--config", str(cfg)])
    assert r.exit_code == 2 and "VIGIL_TEST_TG_TOKEN is not set" in r.output


def test_alerts_status_counts(telegram_server, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("VIGIL_TEST_TG_TOKEN", TOKEN)
    cfg_path = write_config(tmp_path, telegram_server.url)
    r = CliRunner().invoke(app(), ["alerts", "status", "--config", str(cfg_path)])
    assert r.exit_code == 0 and "no outbox yet" in r.output
    telegram_server.script.extend([Scripted(400, {"ok": False, "description": "chat not found"}),
                                   Scripted(502, {"ok": False})])
    cfg = load_config(cfg_path)
    p = AlertPipeline(cfg.alerts, cfg.state_dir, clock=lambda: T0)
    for i in range(4):
        p.submit(opened(anomaly(f"anomaly_{i}", T0)))
    p.pump(T0)       # #0 dead (400), #1 fails (502) and pauses the sink
    p.stop()
    r = CliRunner().invoke(app(), ["alerts", "status", "--config", str(cfg_path)])
    assert r.exit_code == 0, r.output
    assert "pending 2  retrying 1  dead 1  sent 0  held for summaries 0" in r.output
    assert "dead #1 tg: anomaly_0: not retryable: telegram sink 'tg': HTTP 400" in r.output
