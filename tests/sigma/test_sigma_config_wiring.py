"""`[rules.sigma_fields]` and `[rules.sigma_logsources]` in vigil.toml reach the Sigma loader."""

from __future__ import annotations

import pytest

from vigil.agent import build_pipeline
from vigil.config import parse_config
from vigil.config_errors import ConfigError
from vigil.events.model import Event

RULE = """title: Sudo to root running passwd
id: 11111111-2222-3333-4444-555555555555
status: test
logsource:
    product: linux
    category: privilege_change
detection:
    selection:
        TargetUser: root
        Command|contains: passwd
    condition: selection
level: high
"""


def _config(tmp_path, target="auth.command"):
    rule = tmp_path / "rule.yml"
    rule.write_text(RULE)
    text = f"""
state_dir = "{tmp_path / 'state'}"
[rules]
falco = []
sigma = ["{rule}"]
[rules.sigma_fields.privilege_change]
TargetUser = "auth.target_user"
Command = "{target}"
[rules.sigma_logsources.privilege_change]
sources = ["log"]
event_types = ["auth.sudo_command"]
"""
    return parse_config(text, tmp_path / "vigil.toml")


def _sudo(target: str) -> Event:
    return Event(type="auth.sudo_command", source="auth", ts=1,
                 args={"user": "bob", "target_user": target, "command": "/usr/bin/passwd al"})


def test_custom_logsource_and_field_mapping_from_config(tmp_path):
    built = build_pipeline(config=_config(tmp_path), audit=False, alerts=False,
                           detectors=False)
    assert not built.fatal, built.problems
    hits = built.pipeline.process(_sudo("root"))
    assert [d.rule_id for d in hits] == ["11111111-2222-3333-4444-555555555555"]
    assert built.pipeline.process(_sudo("www-data")) == []
    # the custom logsource routes to its event types only
    assert built.pipeline.process(Event(type="execve", ts=2)) == []


def test_bad_mapping_names_the_key_line_and_column(tmp_path):
    with pytest.raises(ConfigError) as exc:
        _config(tmp_path, target="auth.nosuchfield")
    assert exc.value.key == "rules.sigma_fields.privilege_change.Command"
    assert exc.value.line == 8


def test_sigma_engine_reports_the_event_types_the_kernel_must_deliver(tmp_path):
    rule = tmp_path / "exec.yml"
    rule.write_text(RULE.replace("category: privilege_change", "category: process_creation")
                    .replace("TargetUser: root", "Image|endswith: /passwd")
                    .replace("Command|contains: passwd", "CommandLine|contains: root"))
    cfg = parse_config(f'state_dir = "{tmp_path}"\n[rules]\nfalco = []\nsigma = ["{rule}"]\n')
    built = build_pipeline(config=cfg, audit=False, alerts=False, detectors=False)
    assert not built.fatal, built.problems
    assert built.sigma.event_types == {"execve", "execveat"}
    assert built.event_types() == {"execve", "execveat"}
