"""Loading, validation reports, logsource isolation, field-mapping overrides and suppression
of Sigma detections by id through a real `vigil.toml`."""

from __future__ import annotations

from pathlib import Path

import pytest
from needs import needs_shared, shared_path
import yaml

from sigma_event_spec import build_event
from test_sigma_modifiers import NET, PROC, write_rule
from vigil.config import load_config
from vigil.config_errors import ConfigError
from vigil.rules.sigma import (CustomLogsource, LogsourceRouter, SigmaEngine, SigmaFieldMapping,
                               load_sigma_paths, validate_sigma)
from vigil.suppress.suppressor import Suppressor

SIGMA_LINUX = shared_path("rules", "sigma", "linux")
PY_OS_SYSTEM = "2d2f44ff-4611-4778-a8fc-323a0e9850cc"


def test_bad_files_are_reported_with_path_and_id_and_do_not_stop_the_rest(tmp_path):
    good = write_rule(tmp_path, {"sel": {"Image|endswith": "/id"}, "condition": "sel"})
    (tmp_path / "broken.yml").write_text("title: x\ndetection: [unclosed\n")
    (tmp_path / "nodetect.yml").write_text(yaml.safe_dump(
        {"title": "no detection", "id": "11111111-1111-1111-1111-111111111111",
         "logsource": PROC}))
    (tmp_path / "list.yml").write_text("- just\n- a list\n")
    result = load_sigma_paths([tmp_path, tmp_path / "missing-dir"])
    assert [r.rule_id for r in result.rules] == [good]
    errors = {Path(e.path).name: e for e in result.errors}
    assert set(errors) == {"broken.yml", "nodetect.yml", "list.yml", "missing-dir"}
    assert "cannot read YAML" in errors["broken.yml"].message
    assert errors["nodetect.yml"].rule_id == "11111111-1111-1111-1111-111111111111"
    assert "detection" in errors["nodetect.yml"].message
    assert "no such file" in errors["missing-dir"].message


def test_unsupported_rules_are_reported_with_id_and_reason(tmp_path):
    unknown_field = write_rule(tmp_path, {"sel": {"Hashes|contains": "abc"},
                                          "condition": "sel"})
    unknown_category = write_rule(tmp_path, {"sel": {"Image": "/x"}, "condition": "sel"},
                                  {"category": "registry_event", "product": "linux"})
    windows = write_rule(tmp_path, {"sel": {"Image": "/x"}, "condition": "sel"},
                         {"category": "process_creation", "product": "windows"})
    never = write_rule(tmp_path, {"sel": {"type": "USER_TTY"}, "condition": "sel"},
                       {"product": "linux", "service": "auditd"})
    placeholder = write_rule(tmp_path, {"sel": {"User|expand": "%admins%"},
                                        "condition": "sel"})
    report = validate_sigma(load_sigma_paths([tmp_path]))
    reasons = {e.rule_id: e.reason for e in report.problems()}
    assert report.counts() == {"compiled": 0, "unsupported": 5, "error": 0}
    assert "'Hashes'" in reasons[unknown_field] and "process_creation" in reasons[unknown_field]
    assert "registry_event" in reasons[unknown_category]
    assert "windows" in reasons[windows]
    assert "never matches" in reasons[never] and "USER_TTY" in reasons[never]
    assert "placeholder" in reasons[placeholder]
    text = "\n".join(report.lines())
    assert text.startswith("sigma: 0 compiled, 5 unsupported, 0 errors")
    assert unknown_field in text


def test_process_creation_rule_never_fires_on_network_or_file_events(tmp_path):
    rid = write_rule(tmp_path, {"sel": {"Image|endswith": "/bash"}, "condition": "sel"})
    engine = SigmaEngine(load_sigma_paths([tmp_path]).rules)

    def fired(spec):
        return rid in {d.rule_id for d in engine.on_event(build_event(spec))}

    bash = {"exec": "bash -i", "exepath": "/usr/bin/bash"}
    assert fired(bash)
    assert not fired({**bash, "connect": "203.0.113.5:443"})
    assert not fired({**bash, "write": "/tmp/x"})
    assert not fired({**bash, "syscall": "ptrace"})
    assert not fired({**bash, "res": -2})  # a failed exec did not create a process


def test_network_rule_never_fires_on_exec_of_the_same_program(tmp_path):
    rid = write_rule(tmp_path, {"sel": {"Image|endswith": "/bash"}, "condition": "sel"}, NET)
    engine = SigmaEngine(load_sigma_paths([tmp_path]).rules)
    spec = {"exec": "bash -i", "exepath": "/usr/bin/bash"}
    assert rid not in {d.rule_id for d in engine.on_event(build_event(spec))}
    net = {**spec, "connect": "203.0.113.5:443"}
    assert rid in {d.rule_id for d in engine.on_event(build_event(net))}
    failed = {**net, "res": -111}  # ECONNREFUSED: no connection happened
    assert rid not in {d.rule_id for d in engine.on_event(build_event(failed))}


def test_field_mapping_override_and_custom_logsource(tmp_path):
    rid = write_rule(tmp_path, {"sel": {"TargetUser": "root", "Program|endswith": "/sudo"},
                                "condition": "sel"},
                     {"category": "privilege_change", "product": "linux"})
    mapping = SigmaFieldMapping.default().with_overrides(
        {"privilege_change": {"TargetUser": "auth.target_user", "Program": "proc.exepath"}})
    router = LogsourceRouter(custom={"privilege_change": CustomLogsource.from_dict(
        "privilege_change", {"sources": ["log"]})})
    result = load_sigma_paths([tmp_path], mapping=mapping, router=router)
    assert not result.unsupported, result.unsupported
    engine = SigmaEngine(result.rules)
    ev = build_event({"log": "sudo: alice : COMMAND=/bin/sh", "program": "sudo",
                      "exec": "sudo", "exepath": "/usr/bin/sudo"})
    ev.args["target_user"] = "root"
    assert [d.rule_id for d in engine.on_event(ev)] == [rid]
    ev.args["target_user"] = "postgres"
    assert engine.on_event(ev) == []


def test_bad_mapping_overrides_name_the_key():
    with pytest.raises(ConfigError) as exc:
        SigmaFieldMapping.default().with_overrides({"process_creation": {"Image": "proc.nope"}})
    assert exc.value.key == "rules.sigma_fields.process_creation.Image"
    assert "unknown field proc.nope" in exc.value.message
    with pytest.raises(ConfigError) as exc:
        CustomLogsource.from_dict("x", {"sources": ["kernel"]})
    assert exc.value.key == "rules.sigma_logsources.x.sources"


@needs_shared("rules", "sigma", "linux")
def test_sigma_id_suppressed_from_vigil_toml(tmp_path):
    toml = tmp_path / "vigil.toml"
    toml.write_text(f"""
state_dir = "{tmp_path / 'state'}"
[rules]
sigma = ["{SIGMA_LINUX}"]
[allowlist.rules]
suppress = [{{ value = "{PY_OS_SYSTEM}", reason = "build scripts shell out from python" }}]
""")
    config = load_config(toml)
    engine = SigmaEngine(load_sigma_paths(config.rules.sigma_files()).rules)
    suppressor = Suppressor(config.allowlist)
    attack = build_event({"exec": "python3 -c \"import os; os.system('/bin/sh')\"",
                          "exepath": "/usr/bin/python3.11"})
    out = [suppressor.process(d) for d in engine.on_event(attack)]
    [silenced] = [d for d in out if d.rule_id == PY_OS_SYSTEM]
    assert silenced.suppressed is not None
    assert silenced.suppressed.entry == f"allowlist.rules.suppress={PY_OS_SYSTEM}"
    assert silenced.suppressed.reason == "build scripts shell out from python"
    other = build_event({"exec": "crontab -l", "exepath": "/usr/bin/crontab"})
    assert all(suppressor.process(d).suppressed is None for d in engine.on_event(other))


def test_malformed_event_is_counted_not_fatal(tmp_path):
    rid = write_rule(tmp_path, {"sel": {"CommandLine|contains": "evil"}, "condition": "sel"})
    engine = SigmaEngine(load_sigma_paths([tmp_path]).rules)
    good = build_event({"exec": "evil --now"})
    assert [d.rule_id for d in engine.on_event(good)] == [rid]
    broken = build_event({"exec": "evil --now"})
    broken.proc.args = ["--now", None]  # type: ignore[list-item]  # a sensor bug
    assert engine.on_event(broken) == []
    assert engine.errors >= 1 and "TypeError" in (engine.last_error or "")
    assert [d.rule_id for d in engine.on_event(good)] == [rid]  # and the engine goes on
