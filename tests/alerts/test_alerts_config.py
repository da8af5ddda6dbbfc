"""`AlertsConfig.from_dict`: every key validated, errors name the key, secrets hidden."""

from __future__ import annotations

import tomllib

import pytest

from vigil.alerts.config import AlertsConfig
from vigil.config_errors import ConfigError
from vigil.priority import Priority

FULL = """
[alerts]
batch_window_secs = 30
bypass_batching_min_priority = "critical"
queue_size = 500

[alerts.retry]
initial_backoff_secs = 1
max_backoff_secs = 120
dead_letter_after_secs = 7200

[[alerts.routes]]
name = "oncall"
sink = "telegram"
min_priority = "critical"

[[alerts.routes]]
name = "network-team"
sink = "slack"
min_priority = "notice"
tags = ["network"]
batch_window_secs = 120
bypass_batching_min_priority = "emergency"

[[alerts.routes]]
sink = "sidekick"
rules = ["Write below etc"]
detectors = "ssh_bruteforce"

[alerts.sinks.telegram]
type = "telegram"
token_env = "VIGIL_TELEGRAM_TOKEN"
chat_id = -100123
api_url = "http://127.0.0.1:8081"
parse_mode = "MarkdownV2"

[alerts.sinks.slack]
type = "slack"
url = "https://hooks.slack.com/services/T/B/SECRETPART"

[alerts.sinks.sidekick]
type = "falco_json"
url = "http://localhost:2801/"

[alerts.sinks.log]
type = "syslog"
transport = "udp"
address = "127.0.0.1:514"
facility = "local0"

[alerts.sinks.jsonl]
type = "file"
path = "/var/lib/vigil/alerts.jsonl"

[alerts.sinks.out]
type = "stdout"
"""


def parse(text: str) -> AlertsConfig:
    return AlertsConfig.from_dict(tomllib.loads(text)["alerts"])


def test_full_example_parses() -> None:
    cfg = parse(FULL)
    assert cfg.batch_window_secs == 30 and cfg.queue_size == 500
    assert cfg.retry.dead_letter_after_secs == 7200
    oncall, team, third = cfg.routes
    assert oncall.min_priority == Priority.CRITICAL and oncall.batch_window_secs == 30
    assert oncall.bypass_batching_min_priority == Priority.CRITICAL
    assert team.tags == ("network",) and team.batch_window_secs == 120
    assert team.bypass_batching_min_priority == Priority.EMERGENCY
    assert third.name == "route2" and third.detectors == ("ssh_bruteforce",)
    assert cfg.sinks["telegram"].min_interval_secs == 1.0
    assert cfg.sinks["telegram"].secret("token", {"VIGIL_TELEGRAM_TOKEN": "t0k"}) == "t0k"
    assert cfg.sinks["telegram"].secret("chat_id", {}) == "-100123"
    assert cfg.sinks["log"].options == {"transport": "udp", "address": "127.0.0.1:514",
                                        "facility": "local0"}


def test_secrets_do_not_show_in_repr() -> None:
    cfg = parse(FULL)
    assert "SECRETPART" not in repr(cfg) and "SECRETPART" not in str(cfg.sinks)


def test_missing_environment_secret_names_the_key() -> None:
    cfg = parse(FULL)
    with pytest.raises(ConfigError) as e:
        cfg.sinks["telegram"].secret("token", {})
    assert e.value.key == "alerts.sinks.telegram.token_env"
    assert "VIGIL_TELEGRAM_TOKEN" in e.value.message


@pytest.mark.parametrize(("table", "key", "words"), [
    ({"batch_windows_secs": 3}, "alerts.batch_windows_secs", "unknown key"),
    ({"batch_window_secs": 0}, "alerts.batch_window_secs", "> 0"),
    ({"batch_window_secs": "60"}, "alerts.batch_window_secs", "expected a number"),
    ({"bypass_batching_min_priority": "urgent"}, "alerts.bypass_batching_min_priority",
     "unknown priority"),
    ({"queue_size": 0}, "alerts.queue_size", "positive integer"),
    ({"retry": {"max_backoff_secs": 1, "initial_backoff_secs": 5}},
     "alerts.retry.max_backoff_secs", ">= initial"),
    ({"retry": {"dead_letter_after_secs": 5}, "dead_letter_after_secs": 5},
     "alerts.dead_letter_after_secs", "given twice"),
    ({"routes": [{"sink": "nope"}]}, "alerts.routes[0].sink", "unknown sink"),
    ({"routes": [{"min_priority": "warning"}]}, "alerts.routes[0].sink", "missing"),
    ({"sinks": {"o": {"type": "stdout"}}, "routes": [{"sink": "o", "min_priority": "hi"}]},
     "alerts.routes[0].min_priority", "unknown priority"),
    ({"sinks": {"o": {"type": "stdout"}}, "routes": [{"sink": "o", "tag": ["x"]}]},
     "alerts.routes[0].tag", "unknown key"),
    ({"sinks": {"o": {"type": "stdout"}}, "routes": [{"sink": "o", "tags": [1]}]},
     "alerts.routes[0].tags", "list of strings"),
    ({"sinks": {"o": {"type": "stdout"}},
      "routes": [{"sink": "o", "name": "a"}, {"sink": "o", "name": "a"}]},
     "alerts.routes[1].name", "duplicate"),
    ({"sinks": {"o": {"type": "pager"}}}, "alerts.sinks.o.type", "expected one of"),
    ({"sinks": {"t": {"type": "telegram", "chat_id": "1"}}}, "alerts.sinks.t.token", "missing"),
    ({"sinks": {"t": {"type": "telegram", "token": "a", "token_env": "B", "chat_id": "1"}}},
     "alerts.sinks.t.token", "not both"),
    ({"sinks": {"t": {"type": "telegram", "token": "a", "chat_id": "1",
                      "parse_mode": "Markdown"}}}, "alerts.sinks.t.parse_mode", "MarkdownV2"),
    ({"sinks": {"t": {"type": "telegram", "token": "a", "chat_id": True}}},
     "alerts.sinks.t.chat_id", "expected str or int"),
    ({"sinks": {"s": {"type": "slack", "url": "https://h.example/u", "channel": "#x"}}},
     "alerts.sinks.s.channel", "unknown key"),
    ({"sinks": {"s": {"type": "syslog", "transport": "udp"}}}, "alerts.sinks.s.address",
     "required"),
    ({"sinks": {"s": {"type": "syslog", "transport": "tcp", "address": "host"}}},
     "alerts.sinks.s.address", "host:port"),
    ({"sinks": {"s": {"type": "syslog", "facility": "local9"}}}, "alerts.sinks.s.facility",
     "expected one of"),
    ({"sinks": {"f": {"type": "file"}}}, "alerts.sinks.f.path", "required"),
    ({"sinks": {"w": {"type": "webhook", "url": "https://h.example/u", "headers": {"X": 1}}}},
     "alerts.sinks.w.headers", "strings"),
    ({"sinks": {"w": {"type": "webhook", "url": "https://h.example/u", "timeout_secs": -1}}},
     "alerts.sinks.w.timeout_secs", "> 0"),
    ({"sinks": []}, "alerts.sinks", "expected a table"),
])
def test_bad_values_name_their_key(table: dict, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as e:
        AlertsConfig.from_dict(table)
    assert e.value.key == key
    assert words in e.value.message


def test_empty_table_gives_defaults() -> None:
    cfg = AlertsConfig.from_dict({})
    assert cfg.routes == () and cfg.sinks == {} and cfg.batch_window_secs == 60
    assert cfg.bypass_batching_min_priority is None and cfg.retry.dead_letter_after_secs == 86400
