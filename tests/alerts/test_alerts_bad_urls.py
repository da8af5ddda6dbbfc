"""A malformed sink URL is a configuration error, located, found before the agent runs
(issue 14 item 13), not a delivery retried for a day."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from vigil.agent import build_pipeline
from vigil.alerts.config import AlertsConfig
from vigil.alerts.sinks.base import SinkError
from vigil.alerts.sinks.webhook import JsonWebhookSink
from vigil.commands.config import register
from vigil.config import load_config
from vigil.config_errors import ConfigError


def check(path: Path) -> tuple[int, str]:
    app = typer.Typer()
    register(app)
    r = CliRunner().invoke(app, ["config", "check", str(path)])
    return r.exit_code, r.output


def write(tmp_path: Path, sink: str) -> Path:
    cfg = tmp_path / "vigil.toml"
    cfg.write_text(f'state_dir = "{tmp_path / "state"}"\n\n[alerts.sinks.hook]\n{sink}\n\n'
                   '[[alerts.routes]]\nsink = "hook"\n')
    return cfg


@pytest.mark.parametrize("sink,key,line,why", [
    ('type = "webhook"\nurl = "ftp//x"', "alerts.sinks.hook.url", 5, "no scheme://"),
    ('type = "slack"\nurl = "ftp://hooks.example.com/x"', "alerts.sinks.hook.url", 5,
     "its scheme is 'ftp'"),
    ('type = "falco_json"\nurl = "http:///no-host"', "alerts.sinks.hook.url", 5,
     "with a host name"),
    ('type = "webhook"\nurl = "https://example.com:99999/x"', "alerts.sinks.hook.url", 5,
     "Port"),
    ('type = "telegram"\ntoken = "1:a"\nchat_id = "1"\napi_url = "api.telegram.org"',
     "alerts.sinks.hook.api_url", 7, "no scheme://"),
])
def test_config_check_locates_a_malformed_url(tmp_path: Path, sink: str, key: str, line: int,
                                              why: str) -> None:
    cfg = write(tmp_path, sink)
    code, out = check(cfg)
    assert code == 2, out
    assert out.startswith(f"{cfg}:{line}:1: {key}: must be an http:// or https:// URL"), out
    assert why in out
    assert "Traceback" not in out


def test_the_url_is_not_echoed_in_the_error(tmp_path: Path) -> None:
    cfg = write(tmp_path, 'type = "webhook"\nurl = "hxxp://hooks.example.com/T0KEN-1234"')
    code, out = check(cfg)
    assert code == 2 and "T0KEN-1234" not in out, out


def test_a_url_from_the_environment_is_checked_when_the_sink_is_built(tmp_path: Path,
                                                                      monkeypatch) -> None:  # noqa: ANN001
    cfg = write(tmp_path, 'type = "webhook"\nurl_env = "VIGIL_TEST_HOOK"')
    monkeypatch.setenv("VIGIL_TEST_HOOK", "ftp//x")
    code, out = check(cfg)
    assert code == 2 and (f"{cfg}:5:1: alerts.sinks.hook.url_env: environment variable "
                          "VIGIL_TEST_HOOK: must be an http:// or https:// URL") in out, out
    monkeypatch.setenv("VIGIL_TEST_HOOK", "https://hooks.example.com/x")
    assert check(cfg)[0] == 0
    monkeypatch.setenv("VIGIL_TEST_HOOK", "ftp//x")
    # and where `config check` was not run: the pipeline refuses to build the sink
    built = build_pipeline(config=load_config(cfg), alerts=True)
    assert built.fatal
    assert built.problems == [f"{cfg}:5:1: alerts.sinks.hook.url_env: environment variable "
                              "VIGIL_TEST_HOOK: must be an http:// or https:// URL (it has "
                              "no scheme://)"]


def test_a_malformed_url_that_reaches_delivery_is_not_retried() -> None:
    """Defence in depth: a sink built around the checks gives up at once."""
    sink = JsonWebhookSink("hook", url="ftp//x")
    with pytest.raises(SinkError) as err:
        sink.deliver({"x": 1})
    sink.close()
    assert err.value.retryable is False


def test_valid_urls_pass() -> None:
    table = {"sinks": {n: {"type": "webhook", "url": u} for n, u in {
        "a": "http://127.0.0.1:8080/hook", "b": "https://Hooks.Example.com/x?y=1",
        "c": "https://[::1]:8443/x", "d": "https://bücher.example/hook"}.items()}}
    assert set(AlertsConfig.from_dict(table).sinks) == {"a", "b", "c", "d"}
    with pytest.raises(ConfigError):
        AlertsConfig.from_dict({"sinks": {"e": {"type": "webhook", "url": "https://a b/x"}}})
