"""False positive #6 end to end: real Falco and Sigma engines, a real vigil.toml.

A noisy rule is switched off for one environment by name (Falco) or id (Sigma) under
`[allowlist.rules] suppress`: it still fires, and its detection comes out of the
suppression stage marked suppressed (so the audit trail records it, with the reason),
while other rules on the same events still raise incidents.
"""

from __future__ import annotations

from pathlib import Path

from vigil.audit.query import RecordFilter, iter_records
from vigil.audit.trail import AuditTrail
from vigil.config import load_config
from vigil.events.model import Event, FdInfo, Process
from vigil.rules.falco.engine import FalcoEngine
from vigil.rules.falco.loader import load_rules
from vigil.rules.sigma import SigmaEngine, load_sigma_paths
from vigil.suppress.suppressor import Suppressor

FALCO_RULES = """
- rule: Shell run by anything
  desc: a generic, noisy rule
  condition: evt.type = execve and proc.name = sh
  output: "shell run (command=%proc.cmdline user=%user.name)"
  priority: NOTICE
- rule: Shadow file opened
  desc: reads of /etc/shadow
  condition: evt.type in (open, openat) and fd.name = /etc/shadow
  output: "shadow opened by %proc.name"
  priority: WARNING
"""

SIGMA_ID = "4f5e2a10-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
SIGMA_RULE = f"""
title: Neighbour table listed
id: {SIGMA_ID}
status: test
logsource:
  product: linux
  category: process_creation
detection:
  sel:
    Image|endswith: /ip
    CommandLine|contains: neigh
  condition: sel
level: low
"""

VIGIL_TOML = f"""
[allowlist.rules]
suppress = [
  {{ value = "Shell run by anything", reason = "monitoring scripts run ip neigh show" }},
  {{ value = "{SIGMA_ID}", reason = "neighbour polling is normal here" }},
]
"""


def shell(exepath: str, name: str, args: list[str]) -> Event:
    return Event(type="execve", proc=Process(pid=300, name=name, exe=exepath, exepath=exepath,
                                             args=args, user="root", uid=0))


def test_noisy_falco_and_sigma_rules_suppressed_by_name_and_id(tmp_path: Path) -> None:
    (tmp_path / "vigil.toml").write_text(VIGIL_TOML)
    (tmp_path / "neigh.yml").write_text(SIGMA_RULE)
    suppressor = Suppressor(load_config(tmp_path / "vigil.toml").allowlist)
    ruleset = load_rules(texts=[("noisy.yaml", FALCO_RULES)])
    assert ruleset.ok, ruleset
    falco = FalcoEngine(ruleset, hostname="test")
    sigma_rules = load_sigma_paths([tmp_path / "neigh.yml"])
    assert [r.rule_id for r in sigma_rules.rules] == [SIGMA_ID]
    sigma = SigmaEngine(sigma_rules.rules)

    events = [shell("/bin/sh", "sh", ["-c", "ip neigh show"]),
              shell("/usr/sbin/ip", "ip", ["neigh", "show"]),
              Event(type="openat", proc=Process(pid=301, name="cat", exepath="/usr/bin/cat"),
                    fd=FdInfo(type="file", name="/etc/shadow"))]
    detections = [d for ev in events for d in falco.on_event(ev) + sigma.on_event(ev)]
    assert [d.name for d in detections] == [
        "Shell run by anything", "Neighbour table listed", "Shadow file opened"]

    out = [suppressor.process(d) for d in detections]
    assert len(out) == len(detections)  # nothing dropped
    noisy_falco, noisy_sigma, shadow = out
    assert noisy_falco.suppressed is not None
    assert (noisy_falco.suppressed.layer, noisy_falco.suppressed.entry,
            noisy_falco.suppressed.reason) == (
        "dynamic", "allowlist.rules.suppress=Shell run by anything",
        "monitoring scripts run ip neigh show")
    assert noisy_sigma.suppressed is not None
    assert noisy_sigma.suppressed.entry == f"allowlist.rules.suppress={SIGMA_ID}"
    assert noisy_sigma.suppressed.reason == "neighbour polling is normal here"
    assert shadow.suppressed is None  # the true positive still raises an incident

    # the audit trail (a real one) keeps both suppressed hits with their reasons
    with AuditTrail(tmp_path / "audit") as trail:
        for det in out:
            (trail.record_suppressed if det.suppressed else trail.record_detection)(det)
    records = list(iter_records(tmp_path / "audit", RecordFilter(
        types=frozenset({"detection", "suppressed"}))))
    assert [(r.type, r.key) for r in records] == [
        ("suppressed", "falco:Shell run by anything"),
        ("suppressed", "sigma:Neighbour table listed"),
        ("detection", "falco:Shadow file opened")]
    assert records[0].suppression == {"layer": "dynamic",
                                      "entry": "allowlist.rules.suppress=Shell run by anything",
                                      "reason": "monitoring scripts run ip neigh show"}
