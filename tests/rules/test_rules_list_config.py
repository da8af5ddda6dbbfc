"""`vigil rules list -c vigil.toml`: what a configuration really loads — rules (Falco and
Sigma), detectors, descriptions, priorities, states — and what its allowlist silences."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vigil.config import load_config
from vigil.detectors.registry import DETECTORS
from vigil.rules.inventory import build_inventory
from vigil.rules.inventory_report import inventory_lines

#: the rules of Vigil's default rules file, counted from the file (others add rules too)
BUILTIN_RULES = sum(1 for line in (Path(__file__).resolve().parents[2] / "src" / "vigil" /
                                   "defaults" / "vigil_rules.yaml").read_text().splitlines()
                    if line.startswith("- rule:"))

SIGMA = """\
title: Whoami by a web server account
id: 2f0c3a5e-6a43-4a0a-9d52-0c1d2b3e4f50
description: A web server account asked who it is, as web shells do first.
status: test
level: high
logsource: {category: process_creation, product: linux}
detection:
  selection:
    Image|endswith: /whoami
    User: www-data
  condition: selection
"""


def vigil(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vigil", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    (tmp_path / "rules.d").mkdir()
    (tmp_path / "rules.d" / "local.yaml").write_text(textwrap.dedent("""\
    - rule: Debugfs started
      enabled: false
    - rule: Shell under an admin tool
      desc: A configuration management tool started a shell.
      condition: evt.type = execve and proc.name = bash and proc.pname in (ansible, salt-minion)
      output: Shell by %proc.pname (command=%proc.cmdline)
      priority: DEBUG
    """))
    (tmp_path / "sigma").mkdir()
    (tmp_path / "sigma" / "whoami.yml").write_text(SIGMA)
    cfg = tmp_path / "vigil.toml"
    cfg.write_text(textwrap.dedent(f"""\
    state_dir = "{tmp_path}/state"
    [rules]
    falco = ["builtin", "rules.d"]
    sigma = ["sigma"]
    min_priority = "INFO"
    disabled = ["Raw packet socket opened", "Raw packet sockets"]
    shadow = [{{ value = "Search for*", reason = "new rules, one week" }},
              "{tmp_path}/sigma", "Nothing like this"]
    [detectors.dns_direct]
    enabled = false
    [detectors.crypto_mining]
    mode = "shadow"
    [allowlist]
    processes = [{{ value = "/usr/bin/certbot", reason = "renews TLS certs" }}]
    [allowlist.rules]
    suppress = [
      {{ value = "Credential file read by unexpected program", processes = ["/usr/bin/restic"], reason = "backups read everything" }},
      {{ value = "Log file truncated", reason = "logrotate copytruncate here" }},
      {{ value = "Outbound SSH*", reason = "the bastion listens on 443" }},
      {{ value = "2f0c3a5e-6a43-4a0a-9d52-0c1d2b3e4f50", reason = "a test box" }},
      {{ value = "webshell", reason = "no web server here" }},
      {{ value = "ptrace.attach", reason = "debugging sessions" }},
      {{ value = "Debugfs strated", reason = "a typo" }},
    ]
    [allowlist.detectors.data_exfil]
    skip_binaries = [{{ value = "restic", reason = "backups" }}]
    """))
    return cfg


def test_what_a_configuration_loads_and_silences(config: Path) -> None:
    inv = build_inventory(load_config(config))
    rules = {r.name: r for r in inv.rules}
    dets = {d.name: d for d in inv.detectors}
    assert not inv.errors
    cred = rules["Credential file read by unexpected program"]
    assert (cred.kind, cred.state, cred.priority) == ("falco", "enabled", "Warning")
    assert cred.description.startswith("A program that has no reason to read password hashes")
    assert cred.event_types == ["open", "openat", "openat2"]
    assert cred.source.endswith("vigil_rules.yaml:" + cred.source.rsplit(":", 1)[1])
    assert (rules["Debugfs started"].state, rules["Debugfs started"].why) == \
        ("disabled", "`enabled: false` in its rules file")
    assert (rules["Raw packet socket opened"].state, rules["Raw packet socket opened"].why) \
        == ("disabled", "[rules] disabled")
    admin = rules["Shell under an admin tool"]
    assert (admin.state, admin.why) == ("disabled", "[rules] min_priority = Informational")
    log = rules["Log file truncated"]
    assert log.state == "silenced"
    assert (log.silenced_by.entry, log.silenced_by.reason) == (
        "allowlist.rules.suppress=Log file truncated", "logrotate copytruncate here")
    assert rules["Outbound SSH to a non-standard port"].silenced_by.reason == \
        "the bastion listens on 443"
    whoami = rules["Whoami by a web server account"]
    assert (whoami.kind, whoami.priority, whoami.state) == ("sigma", "Error", "silenced")
    assert whoami.description == "A web server account asked who it is, as web shells do first."
    assert set(dets) == set(DETECTORS)
    assert (dets["dns_direct"].state, dets["dns_direct"].why) == \
        ("disabled", "[detectors.dns_direct] enabled = false")
    assert dets["webshell"].state == "silenced"
    assert dets["webshell"].description.startswith("a process that is serving requests")
    assert [str(e) for e in dets["ptrace"].exceptions] == \
        ["allowlist.rules.suppress=ptrace.attach: debugging sessions"]
    assert dets["ptrace"].state == "enabled"
    assert [str(e) for e in dets["data_exfil"].exceptions] == \
        ["allowlist.detectors.data_exfil.skip_binaries=restic: backups"]
    assert [str(e) for e in inv.everywhere] == \
        ["allowlist.processes=/usr/bin/certbot: renews TLS certs"]
    assert cred.state == "enabled" and cred.silenced_by is None
    assert [str(e) for e in cred.silenced_in] == [
        "allowlist.rules.suppress=Credential file read by unexpected program "
        "(processes=/usr/bin/restic): backups read everything"]
    keys = rules["Search for private keys or passwords"]
    assert keys.state == "shadow"
    assert keys.shadow.entry == "rules.shadow=Search for* (new rules, one week)"
    assert dets["crypto_mining"].state == "shadow"
    assert dets["crypto_mining"].shadow.entry == "detectors.crypto_mining.mode=shadow"
    assert whoami.shadow.entry == f"rules.shadow={config.parent}/sigma"
    assert inv.unmatched == [
        "rules.shadow=Nothing like this: matches no loaded rule",
        "allowlist.rules.suppress=Debugfs strated: matches no loaded rule or detector "
        "(did you mean Debugfs started?)",
        "rules.disabled=Raw packet sockets: matches no loaded rule "
        "(did you mean Raw packet socket opened?)"]


def test_the_text_listing(config: Path) -> None:
    r = vigil("rules", "list", "-c", str(config))
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    n = BUILTIN_RULES + 2  # the config adds one local Falco rule and one Sigma rule
    assert out[0] == (f"Rules ({config}): {n} rule(s) from 2 Falco file(s) and 1 Sigma file(s): "
                      f"{n - 8} enabled, 3 disabled, 3 silenced, 2 shadow")
    i = next(n for n, l in enumerate(out) if l.startswith("Log file truncated "))
    assert out[i].split()[3:5] == ["Warning", "silenced"]
    assert out[i].split()[5].startswith("ftruncate,open,openat,openat2,")
    assert out[i + 1].startswith("    A program other than a log rotator emptied an existing file")
    assert "    silenced by allowlist.rules.suppress=Log file truncated: logrotate " \
           "copytruncate here" in out
    assert "    disabled by [rules] disabled" in out
    assert any(l.startswith("sigma:2f0c3a5e-6a43-4a0a-9d52-0c1d2b3e4f50") and
               l.endswith("Whoami by a web server account") for l in out)
    assert f"Detectors ({config}): {len(DETECTORS)} detector(s): " \
           f"{len(DETECTORS) - 3} enabled, 1 silenced, 1 disabled, 1 shadow" in out
    assert "    shadow mode by rules.shadow=Search for* (new rules, one week)" in out
    assert "    silenced in a scope by allowlist.rules.suppress=Credential file read by " \
           "unexpected program (processes=/usr/bin/restic): backups read everything" in out
    assert "    disabled by [detectors.dns_direct] enabled = false" in out
    assert "    silenced by allowlist.rules.suppress=webshell: no web server here" in out
    assert "WARNING allowlist.rules.suppress=Debugfs strated: matches no loaded rule or " \
           "detector (did you mean Debugfs started?)" in out
    brief = vigil("rules", "list", "-c", str(config), "--brief").stdout
    assert "A program other than a log rotator" not in brief
    assert "silenced by allowlist.rules.suppress=Log file truncated" in brief


def test_the_json_listing(config: Path) -> None:
    r = vigil("rules", "list", "-c", str(config), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["config"] == str(config)
    log = next(x for x in doc["rules"] if x["name"] == "Log file truncated")
    assert log["state"] == "silenced" and log["priority"] == "Warning"
    assert log["silenced_by"] == {"entry": "allowlist.rules.suppress=Log file truncated",
                                  "reason": "logrotate copytruncate here"}
    assert log["description"].startswith("A program other than a log rotator")
    assert {d["name"] for d in doc["detectors"]} == set(DETECTORS)
    assert doc["allowlist_everywhere"] == [{"entry": "allowlist.processes=/usr/bin/certbot",
                                            "reason": "renews TLS certs"}]
    assert len(doc["unmatched"]) == 3
    cred = next(x for x in doc["rules"] if x["name"].startswith("Credential file read"))
    assert cred["silenced_in"][0]["reason"] == "backups read everything"
    keys = next(x for x in doc["rules"] if x["name"] == "Search for cloud credentials")
    assert keys["shadow"] == {"entry": "rules.shadow=Search for* (new rules, one week)",
                              "reason": ""}


def test_without_a_config_rules_only(tmp_path: Path) -> None:
    r = vigil("rules", "list")
    assert r.returncode == 0
    assert r.stdout.startswith(f"Rules: {BUILTIN_RULES} rule(s) from 1 Falco file(s) and "
                               f"0 Sigma file(s): {BUILTIN_RULES} enabled")
    assert "Detectors" not in r.stdout
    doc = json.loads(vigil("rules", "list", "--json").stdout)
    assert doc["config"] is None and doc["detectors"] == [] and len(doc["rules"]) == BUILTIN_RULES


def test_rules_on_the_command_line_replace_the_configured_ones(config: Path,
                                                               tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(
        "- rule: One\n  desc: d\n  condition: evt.type = execve\n  output: o\n"
        "  priority: ERROR\n")
    inv = build_inventory(load_config(config), [str(tmp_path / "one.yaml")])
    assert [r.name for r in inv.rules] == ["One"]
    assert inv.rules[0].event_types == ["execve"]


def test_rules_that_do_not_compile_are_listed_as_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "- rule: Bad\n  desc: d\n  condition: evt.type = execve and proc.nmae = x\n"
        "  output: o\n  priority: ERROR\n")
    r = vigil("rules", "list", str(tmp_path / "bad.yaml"))
    assert r.returncode == 1
    assert "unknown field proc.nmae (did you mean proc.name?)" in r.stderr
    assert "    error: does not compile (see the errors)" in r.stdout


def test_a_bad_config_is_one_located_message(tmp_path: Path) -> None:
    cfg = tmp_path / "vigil.toml"
    cfg.write_text("[rules]\nmin_priority = \"LOUD\"\n")
    r = vigil("rules", "list", "-c", str(cfg))
    assert r.returncode == 2
    assert r.stderr.startswith(f"vigil rules list: {cfg}:2")
    assert "Traceback" not in r.stderr


def test_text_from_rule_files_is_escaped(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        '- rule: "Evil \\x1b[2J"\n  desc: "clears \\x1b]0;x\\x07"\n'
        "  condition: evt.type = execve\n  output: o\n  priority: ERROR\n")
    text = "\n".join(inventory_lines(build_inventory(load_config(None),
                                                     [str(tmp_path / "r.yaml")], False)))
    assert "\x1b" not in text and "Evil \\x1b[2J" in text
