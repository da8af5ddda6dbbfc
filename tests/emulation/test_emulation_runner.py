"""The emulation runner's logic on synthetic input: header parsing, the incident stream
(the incident schema and the legacy Falco-JSON adapter), attribution by window and by
process tree, the judgement, the totals and the scorecard outputs."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import pytest

from emulation_path import EMULATION

from emulate.attribution import Window, attribute
from emulate.incidents import IncidentStream
from emulate.judge import RunResult, judge, matching_keyword
from emulate.legacy_falco import rfc3339_ns
from emulate.proctrack import Fork, Ownership, compute_ownership, parse_proc_events
from emulate.report_md import render_markdown
from emulate.scenario import HeaderError, parse_scenario
from emulate.scorecard import Scorecard, ScenarioRecord, render_text, totals

S = 1_000_000_000
HEADER_ATTACK = """#!/bin/bash
# vigil-emulation: attack
# technique: T1059.004 Command and Scripting Interpreter: Unix Shell
# tactic: execution, command-and-control
# what: bash connects to a listener
#   on 127.0.0.1 and runs id.
# report: a reverse shell
# expect: reverse shell|reverse_shell
# timeout: 30
echo hi
"""
HEADER_BENIGN = """#!/usr/bin/python3
# vigil-emulation: benign
# technique: T1053.003 Scheduled Task/Job: Cron
# tactic: execution
# what: cron jobs
# report: nothing
# expect: none
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    d = tmp_path / ("attacks" if "attack" in text.split("\n")[1] else "benign")
    d.mkdir(exist_ok=True)
    p = d / name
    p.write_text(text)
    return p


def test_header_parses_continuations_and_lists(tmp_path: Path) -> None:
    sc = parse_scenario(write(tmp_path, "exec-x.sh", HEADER_ATTACK))
    assert sc.name == "exec-x" and sc.kind == "attack" and sc.timeout == 30
    assert sc.tactics == ("execution", "command-and-control")
    assert sc.what == "bash connects to a listener on 127.0.0.1 and runs id."
    assert sc.expect == ("reverse shell", "reverse_shell")
    assert sc.techniques[0].id == "T1059.004"
    benign = parse_scenario(write(tmp_path, "cron.py", HEADER_BENIGN))
    assert benign.expect == () and not benign.is_attack


@pytest.mark.parametrize("change, message", [
    (("# expect: reverse shell|reverse_shell\n", ""), "lacks expect"),
    (("tactic: execution, command-and-control", "tactic: hacking"), "unknown tactic"),
    (("technique: T1059.004 Command", "technique: 1059 Command"), "not 'Tnnnn"),
    (("expect: reverse shell|reverse_shell", "expect: none"), "at least one"),
    (("# timeout: 30\n", "# timeout: soon\n"), "not a number"),
    (("# timeout: 30\n", "# colour: red\n"), "unknown header key"),
    (("vigil-emulation: attack", "vigil-emulation: maybe"), "attack or benign"),
])
def test_header_errors_name_the_problem(tmp_path: Path, change: tuple[str, str],
                                        message: str) -> None:
    text = HEADER_ATTACK.replace(*change)
    path = tmp_path / "attacks"
    path.mkdir(exist_ok=True)
    (path / "bad.sh").write_text(text)
    with pytest.raises(HeaderError, match=message):
        parse_scenario(path / "bad.sh")


def test_benign_must_not_expect_anything(tmp_path: Path) -> None:
    p = write(tmp_path, "b.py", HEADER_BENIGN.replace("expect: none", "expect: cron"))
    with pytest.raises(HeaderError, match="expect: none"):
        parse_scenario(p)


def test_keywords_match_case_and_separators_insensitively() -> None:
    assert matching_keyword(("reverse shell",), "reverse_shell") == "reverse shell"
    assert matching_keyword(("ld.so.preload",), "Write to /etc/LD-SO-PRELOAD") == "ld.so.preload"
    assert matching_keyword(("reverse shell",), "Reverse-Shell one-liner") == "reverse shell"
    assert matching_keyword(("scan",), "Credential file read") is None
    assert matching_keyword(("  ",), "anything") is None


def incident_line(event: str, iid: str, title: str, first_ts: int, detections: list[dict],
                  pids: list[int], priority: str = "Critical") -> str:
    return json.dumps({"event": event, "incident": {
        "id": iid, "host": "h", "status": "closed" if event == "closed" else "open",
        "priority": priority, "title": title, "first_ts": first_ts,
        "last_ts": max(d["last_ts"] for d in detections), "first_time": "x", "last_time": "x",
        "detection_count": len(detections), "detections": detections,
        "entities": {"root": None, "processes": [{"pid": p, "start_ts": 0, "ppid": 1,
                                                  "name": "bash", "cmdline": "bash"}
                                                 for p in pids],
                     "users": [], "sessions": [], "remote_ips": [], "files": []},
        "tactics": [], "techniques": [],
        **({"closed_reason": "idle"} if event == "closed" else {})}})


def det(name: str, rule_id: str, ts: int, pid: int, priority: str = "Critical") -> dict:
    return {"kind": "detector", "name": name, "rule_id": rule_id, "priority": priority,
            "count": 1, "first_ts": ts, "last_ts": ts, "pid": pid, "process": "bash",
            "target": None, "output": "o", "tags": []}


def test_stream_folds_lifecycle_events_into_one_view() -> None:
    st = IncidentStream()
    d1 = det("reverse_shell", "reverse_shell.dev_tcp", 10 * S, 100, "Error")
    d2 = det("data_exfil", "data_exfil.archive_pipe", 12 * S, 101)
    st.feed(incident_line("opened", "a1", "Reverse shell by bash", 10 * S, [d1], [100], "Error"))
    st.feed(incident_line("escalated", "a1", "Reverse shell and exfiltration", 10 * S,
                          [d1, d2], [100, 101]))
    st.feed(incident_line("closed", "a1", "Reverse shell and exfiltration", 10 * S,
                          [d1, d2], [100, 101]))
    st.feed("not json")
    st.feed('{"event": "opened"}')
    (view,) = st.views()
    assert view.titles == ["Reverse shell by bash", "Reverse shell and exfiltration"]
    assert view.priority == "Critical" and view.first_ts == 10 * S
    assert view.events == ["opened", "escalated", "closed"] and view.closed_reason == "idle"
    assert len(view.detections) == 2 and view.pids == {100, 101}
    assert len(st.unparsed) == 2


def test_legacy_falco_json_line_is_a_one_detection_incident() -> None:
    st = IncidentStream()
    line = {"hostname": "vm", "output": "x", "priority": "Warning",
            "rule": "Credential file read by unexpected program", "source": "syscall",
            "tags": ["T1003.008"], "time": "2026-12-07T17:13:12.124511219Z",
            "output_fields": {"evt.time": 1796663592124511219, "proc.pid": 4242,
                              "proc.name": "cat"}}
    other = dict(line, rule="reverse_shell", vigil={"kind": "detector",
                                                    "rule_id": "reverse_shell.dev_tcp"},
                 output_fields={"proc.name": "bash"})
    st.feed(json.dumps(line))
    st.feed(json.dumps(other))
    a, b = st.views()
    assert a.legacy and a.title == "Credential file read by unexpected program"
    assert a.first_ts == 1796663592124511219 and a.pids == {4242}
    assert b.first_ts == rfc3339_ns("2026-12-07T17:13:12.124511219Z") == 1796663592124511219
    (d,) = b.detections.values()
    assert d.rule_id == "reverse_shell.dev_tcp" and d.kind == "detector" and not b.pids


def test_attribution_by_window_pid_and_joined_detections() -> None:
    windows = [Window("a", 10 * S, 20 * S), Window("b", 21 * S, 30 * S)]
    own = Ownership(by_scenario={"a": {100, 101}, "b": {200}}, outside={1, 300, 400},
                    claimed={"a", "b"})
    st = IncidentStream()
    # opened in a's window by a's process, later joined by a detection of b's process
    st.feed(incident_line("opened", "i1", "Shell wired to TCP", 12 * S,
                          [det("reverse_shell", "r", 12 * S, 100)], [100]))
    st.feed(incident_line("escalated", "i1", "Shell wired to TCP", 12 * S,
                          [det("reverse_shell", "r", 12 * S, 100),
                           det("sensitive_write", "sensitive_write.cron", 25 * S, 200)],
                          [100, 200]))
    # someone else's process during b's window: no scenario's
    st.feed(incident_line("opened", "i2", "Set-uid bit set", 22 * S,
                          [det("suid", "s", 22 * S, 300)], [300]))
    # no pid evidence (an auth-log detection): attributed by time
    st.feed(incident_line("opened", "i3", "SSH brute force", 23 * S,
                          [det("ssh_bruteforce", "ssh_bruteforce.per_ip", 23 * S, 0)], []))
    # between windows
    st.feed(incident_line("opened", "i4", "Whatever", 20 * S + S // 2,
                          [det("x", "x", 20 * S + S // 2, 1)], [1]))
    res = attribute(st.views(), windows, own)
    (a1,) = res.by_scenario["a"]
    assert a1.incident.id == "i1" and a1.how == "pid" and not a1.joined
    assert [d.name for d in a1.detections] == ["reverse_shell"]
    b_ids = {(x.incident.id, x.how, x.joined) for x in res.by_scenario["b"]}
    assert b_ids == {("i1", "pid", True), ("i3", "time", False)}
    reasons = {u.incident.id: u.reason for u in res.unattributed}
    assert set(reasons) == {"i2", "i4"}
    assert "not the scenario's" in reasons["i2"] and "outside" in reasons["i4"]


def test_ownership_follows_forks_and_pid_reuse() -> None:
    runner = 50
    forks = [Fork(runner, 100), Fork(100, 101), Fork(101, 102),   # scenario a
             Fork(7, 300),                                          # someone else
             Fork(runner, 200), Fork(200, 102),                     # b; pid 102 reused
             Fork(300, 101)]                                        # 101 reused outside
    own = compute_ownership(forks, runner, [("a", 100), ("b", 200)], initial={1, 7})
    assert own.by_scenario["a"] == {100, 101, 102}
    assert own.by_scenario["b"] == {200, 102}
    assert {1, 7, 300, 101} <= own.outside
    assert own.current[102] == "b" and own.current[101] is None
    assert own.verdict("a", {101}) == "in"
    assert own.verdict("b", {300}) == "out"
    assert own.verdict("b", {99999}) == "unknown"
    # a root whose fork was never seen cannot be judged by pid
    lost = compute_ownership([Fork(100, 101)], runner, [("c", 100)], initial=set())
    assert lost.verdict("c", {101}) == "unknown"


def test_proc_connector_datagram_parses_forks_not_threads() -> None:
    def msg(what: int, ptgid: int, cpid: int, ctgid: int) -> bytes:
        event = struct.pack("=IIQ", what, 0, 0) + struct.pack("=IIII", ptgid, ptgid, cpid, ctgid)
        cn = struct.pack("=IIIIHH", 1, 1, 0, 0, len(event), 0) + event
        return struct.pack("=IHHII", 16 + len(cn), 3, 0, 0, 0) + cn
    data = msg(1, 10, 11, 11) + msg(1, 10, 12, 10) + msg(2, 10, 11, 11)
    assert parse_proc_events(data) == [Fork(10, 11)]


def scenario(tmp_path: Path, name: str, attack: bool, expect: str = "scan"):
    text = HEADER_ATTACK if attack else HEADER_BENIGN
    text = text.replace("expect: reverse shell|reverse_shell", f"expect: {expect}")
    return parse_scenario(write(tmp_path, name + (".sh" if attack else ".py"), text))


def run_ok() -> RunResult:
    return RunResult(exit_code=0)


def attributed(titles_and_dets: list[tuple[str, list[str]]]) -> list:
    st = IncidentStream()
    for n, (title, names) in enumerate(titles_and_dets):
        st.feed(incident_line("opened", f"i{n}", title, S,
                              [det(x, f"{x}.k", S, 5) for x in names], [5]))
    return attribute(st.views(), [Window("w", 0, 2 * S)]).by_scenario["w"]


def test_judgement_statuses(tmp_path: Path) -> None:
    att = scenario(tmp_path, "disc-scan", True)
    ben = scenario(tmp_path, "quiet", False)
    assert judge(att, run_ok(), attributed([("Port scan by python", ["scan"])])).status \
        == "detected"
    v = judge(att, run_ok(), attributed([("Something odd", ["port_scan"])]))
    assert v.status == "named_in_detection" and v.matched == "scan"
    assert judge(att, run_ok(), attributed([("Credential file read", ["cred"])])).status \
        == "wrong_name"
    assert judge(att, run_ok(), []).status == "missed"
    assert judge(att, RunResult(exit_code=3), []).status == "error"
    assert judge(att, RunResult(exit_code=77, output_tail="x\nneeds nmap\n"), []).note \
        == "needs nmap"
    assert judge(att, RunResult(exit_code=None, timed_out=True), []).status == "timeout"
    assert judge(ben, run_ok(), []).status == "passed"
    failed = judge(ben, run_ok(), attributed([("Webshell", ["webshell"])] * 2))
    assert failed.status == "failed" and failed.priority == "Critical"
    assert len(failed.incidents) == 2


def test_totals_acceptance_and_outputs(tmp_path: Path) -> None:
    recs = []
    for n in range(33):
        sc = scenario(tmp_path, f"a{n}", True)
        recs.append(ScenarioRecord(sc, run_ok(),
                                   judge(sc, run_ok(), attributed([("Port scan", ["s"])]))))
    miss = scenario(tmp_path, "a-miss", True)
    recs.append(ScenarioRecord(miss, run_ok(), judge(miss, run_ok(), [])))
    ben = scenario(tmp_path, "b-ok", False)
    recs.append(ScenarioRecord(ben, run_ok(), judge(ben, run_ok(), [])))
    t = totals(recs)
    assert (t.attacks, t.attacks_ran, t.detected, t.missed) == (34, 34, 33, 1)
    assert round(t.detection_pct, 1) == 97.1 and t.accepted
    loud = scenario(tmp_path, "b-loud", False)
    recs.append(ScenarioRecord(loud, run_ok(),
                               judge(loud, run_ok(), attributed([("Webshell", ["w"])]))))
    card = Scorecard(records=recs, generated="2026-01-01 00:00 UTC",
                     machine={"kernel": "6.1", "cpus": 2, "os": "Debian"},
                     agent={"commit": "abc", "format": "incident events"},
                     unattributed=[{"title": "Noise", "priority": "Notice", "reason": "r",
                                    "first_ts": 1, "pids": []}])
    assert not card.totals.accepted and card.totals.benign_failed == 1
    doc = json.loads(card.to_json())
    assert doc["totals"]["detection_pct"] == 97.1 and doc["totals"]["accepted"] is False
    by_name = {s["name"]: s for s in doc["scenarios"]}
    assert by_name["b-loud"]["verdict"]["incidents"][0]["title"] == "Webshell"
    assert by_name["a-miss"]["verdict"]["status"] == "missed"
    md = render_markdown(card)
    assert "| `b-loud` |" in md and "Webshell (Critical)" in md
    assert "33 of 34 (97.1 %)" in md and "kernel 6.1, 2 CPUs" in md and "**not met**" in md
    assert "| Noise | Notice | r |" in md
    text = render_text(card)
    assert "acceptance: NOT MET" in text and "a-miss" in text


def test_markdown_cells_escape_pipes(tmp_path: Path) -> None:
    sc = scenario(tmp_path, "a-pipe", True)
    rec = ScenarioRecord(sc, run_ok(), judge(sc, run_ok(),
                                             attributed([("curl | sh scan", ["s"])])))
    md = render_markdown(Scorecard(records=[rec], generated="now"))
    assert "curl \\| sh scan" in md


def test_titles_count_only_when_the_scenario_caused_them() -> None:
    own = Ownership(by_scenario={"a": {100}, "b": {200}}, outside={50}, claimed={"a", "b"})
    st = IncidentStream()
    scan = det("network_scan", "network_scan.vertical", 12 * S, 100)
    kill = det("service_tamper", "service_tamper.agent_kill", 40 * S, 50)
    write_ = det("sensitive_write", "sensitive_write.cron", 25 * S, 200, "Critical")
    st.feed(incident_line("opened", "i1", "Network port scan", 12 * S, [scan], [100], "Error"))
    # the runner (outside every tree) stops the agent long after: not a's doing
    st.feed(incident_line("escalated", "i1", "Security agent killed", 12 * S, [scan, kill],
                          [100, 50]))
    st.feed(incident_line("opened", "i2", "Reverse shell", 11 * S,
                          [det("reverse_shell", "r", 11 * S, 100)], [100]))
    # b's detection joins i2 and escalates it with a new title
    st.feed(incident_line("escalated", "i2", "Cron job written", 11 * S,
                          [det("reverse_shell", "r", 11 * S, 100), write_], [100, 200]))
    res = attribute(st.views(), [Window("a", 10 * S, 20 * S), Window("b", 21 * S, 30 * S)], own)
    titles_a = {x.incident.id: x.titles for x in res.by_scenario["a"]}
    assert titles_a == {"i1": ["Network port scan"], "i2": ["Reverse shell"]}
    (b,) = res.by_scenario["b"]
    assert b.joined and b.titles == ["Cron job written"]


def test_custodian_restores_exactly_and_removes_what_was_new(tmp_path: Path) -> None:
    from emulate.custodian import Custodian, restore_pending
    import os
    import subprocess
    f = tmp_path / "etc" / "app.conf"
    f.parent.mkdir()
    f.write_text("original\n")
    os.chmod(f, 0o640)
    os.utime(f, ns=(1_500_000_000 * S, 1_500_000_000 * S))
    inode = f.stat().st_ino
    new = tmp_path / "new" / "deeper" / "file"
    cust = Custodian(tmp_path / "cust")
    cust.start()
    try:
        client = EMULATION / "lib" / "custodian_client.py"
        for path in (f, new):
            subprocess.run([sys.executable, str(client), str(cust.socket_path), "backup",
                            str(path)], check=True)
        bad = subprocess.run([sys.executable, str(client), str(cust.socket_path), "backup",
                              "relative/path"], capture_output=True, text=True)
        assert bad.returncode == 1 and "not absolute" in bad.stderr
        f.write_text("changed by a scenario\n")
        os.chmod(f, 0o777)
        new.parent.mkdir(parents=True)
        new.write_text("x")
        assert cust.pending_path.exists()
        assert cust.restore_all() == []
    finally:
        cust.stop()
    st = f.stat()
    assert f.read_text() == "original\n" and st.st_mode & 0o777 == 0o640
    assert st.st_mtime_ns == 1_500_000_000 * S and st.st_ino == inode
    assert not (tmp_path / "new").exists() and not cust.pending_path.exists()
    # a runner that died: the pending list is replayed by `--restore`
    cust2 = Custodian(tmp_path / "cust2")
    cust2.start()
    assert cust2.backup(str(f)) == "ok"
    cust2.stop()
    f.write_text("again\n")
    assert restore_pending(tmp_path / "cust2") == []
    assert f.read_text() == "original\n"
