"""`vigil rules test`: specs run through the agent's rule loading and pipeline; failures
read as a diff; malformed specs are located errors, never tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vigil.ruletest.report import exit_code, text_report
from vigil.ruletest.runner import RuleTestRunner
from vigil.ruletest.spec import load_spec

SHADOW_READ = ("{type: openat, res: 3, args: {flags: O_RDONLY, name: /etc/shadow}, "
               "proc: {pid: 300, name: cat, exepath: /usr/bin/cat, args: [/etc/shadow], "
               "uid: 0, user: root, parent: {pid: 200, name: bash}}, "
               "fd: {num: 3, type: file, name: /etc/shadow}}")
RULE = "Credential file read by unexpected program"


def vigil(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vigil", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def run(path: Path):
    return RuleTestRunner().run_file(path)


# ----------------------------------------------------------------------- passing and failing

def test_a_passing_spec_exits_0(tmp_path: Path) -> None:
    spec = write(tmp_path, f"""\
    tests:
      - name: cat reads shadow
        event: {SHADOW_READ}
        expect:
          fire: [{{rule: {RULE}, priority: warning, output: read by cat}}]
          not_fire: [Debugfs started]
          exclusive: true
    """)
    r = vigil("rules", "test", str(spec))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().endswith("1 spec file(s), 1 test(s): 1 passed, 0 failed")


def test_a_broken_spec_reports_the_event_and_the_difference(tmp_path: Path) -> None:
    spec = write(tmp_path, f"""\
    tests:
      - name: cat reads shadow
        event: {SHADOW_READ}
        expect:
          fire:
            - rule: {RULE}
              priority: ERROR
              output: read by dog
      - name: sshd reads shadow
        events:
          - type: openat
            args: {{flags: O_RDONLY, name: /etc/shadow}}
            proc: {{name: sshd}}
            fd: {{num: 3, type: file, name: /etc/shadow}}
          - type: openat
            args: {{flags: O_RDONLY, name: /etc/shadow}}
            proc: {{name: python3}}
            fd: {{num: 3, type: file, name: /etc/shadow}}
            expect: {{not_fire: [{RULE}]}}
    """)
    r = vigil("rules", "test", str(spec))
    assert r.returncode == 1
    out = r.stdout
    assert f"FAIL {spec}:2: cat reads shadow" in out
    # which event (where it is written and what it was), expected vs got, the output text
    assert f"event 1 at {spec}:3 (openat by cat: /etc/shadow):" in out
    assert f"'{RULE}' fired with priority Warning, expected Error; and with an output that " \
           "does not contain 'read by dog'" in out
    assert "got: Credential file read by unexpected program (Warning): Credential file " \
           "/etc/shadow read by cat (command=cat /etc/shadow" in out
    assert f"FAIL {spec}:9: sshd reads shadow" in out
    assert f"event 2 at {spec}:15 (openat by python3: /etc/shadow):" in out
    assert f"'{RULE}' fired but must not" in out
    assert out.strip().endswith("1 spec file(s), 2 test(s): 0 passed, 2 failed")


def test_did_not_fire_lists_what_fired_instead_and_where(tmp_path: Path) -> None:
    spec = write(tmp_path, """\
    tests:
      - name: two events, one expectation over both
        events:
          - {type: execve, proc: {name: debugfs, args: [/dev/sda1]}}
          - {type: execve, proc: {name: ls}}
        expect:
          fire: [Kernel module loaded]
    """)
    result = run(spec)
    text = "\n".join(text_report([result]))
    assert "over the whole test:" in text
    assert "'Kernel module loaded' did not fire" in text
    assert f"got on event 1 ({spec}:4): Debugfs started (Warning): debugfs started" in text
    assert exit_code([result]) == 1


def test_count_detect_and_exclusive(tmp_path: Path) -> None:
    spec = write(tmp_path, """\
    tests:
      - name: counted
        events:
          - {type: execve, proc: {name: shred, args: [-u, a]}}
          - {type: execve, proc: {name: shred, args: [-u, b]}}
        expect: {fire: [{rule: Bulk data removal tool started, count: 3}]}
      - name: nothing may fire
        event: {type: execve, proc: {name: debugfs}}
        expect: {detect: false}
      - name: something must fire
        event: {type: execve, proc: {name: ls}}
        expect: {detect: true}
      - name: only the listed rules
        event: {type: execve, proc: {name: debugfs, args: [-w, /dev/sda]}}
        expect: {fire: [Bulk data removal tool started], exclusive: true}
    """)
    res = run(spec)
    msgs = {c.name: [f.message for f in c.failures] for c in res.cases}
    assert msgs["counted"] == ["'Bulk data removal tool started' fired 2 time(s), expected 3"]
    assert msgs["nothing may fire"] == ["expected nothing to fire (detect: false)"]
    assert msgs["something must fire"] == ["expected a detection (detect: true), nothing fired"]
    assert msgs["only the listed rules"] == [
        "'Bulk data removal tool started' did not fire",
        "'Debugfs started' fired, but only the rules under fire may (exclusive)"]


def test_json_output_for_scripts(tmp_path: Path) -> None:
    spec = write(tmp_path, f"""\
    tests:
      - name: ok
        event: {SHADOW_READ}
        expect: {{fire: [{RULE}]}}
      - name: not ok
        event: {SHADOW_READ}
        expect: {{not_fire: [{RULE}]}}
    """)
    r = vigil("rules", "test", "--json", str(spec))
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["ok"] is False
    assert doc["summary"] == {"specs": 1, "specs_with_errors": 0, "tests": 2, "passed": 1,
                              "failed": 1}
    ok, bad = doc["specs"][0]["tests"]
    assert ok["passed"] and ok["detections"][0]["rule"] == RULE
    (failure,) = bad["failures"]
    assert failure["message"] == f"'{RULE}' fired but must not"
    assert failure["event"] == 1 and failure["event_at"] == f"{spec}:6"
    assert failure["expect_line"] == 7
    assert failure["got"][0]["priority"] == "Warning"


def test_name_filter_and_verbose(tmp_path: Path) -> None:
    spec = write(tmp_path, """\
    tests:
      - name: debugfs runs
        event: {type: execve, proc: {name: debugfs}}
        expect: {fire: [Debugfs started]}
      - name: broken one
        event: {type: execve, proc: {name: ls}}
        expect: {fire: [Debugfs started]}
    """)
    r = vigil("rules", "test", "-v", "-k", "DEBUGFS", str(spec))
    assert r.returncode == 0, r.stdout
    assert f"ok   {spec}:2: debugfs runs" in r.stdout
    assert "broken one" not in r.stdout


# ----------------------------------------------------------------------- what is loaded

def test_own_rules_and_macros_by_path_relative_to_the_spec(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "local.yaml").write_text(textwrap.dedent("""\
    - list: my_admin_tools
      items: [ansible-playbook, salt-call]
    - macro: my_admin_tool_parent
      condition: proc.pname in (my_admin_tools)
    - rule: Shell under an admin tool
      desc: d
      condition: evt.type = execve and proc.name = bash and my_admin_tool_parent
      output: shell under %proc.pname (command=%proc.cmdline)
      priority: NOTICE
    """))
    (tmp_path / "specs").mkdir()
    spec = write(tmp_path / "specs", """\
    rules: [../rules/local.yaml]
    tests:
      - name: under ansible
        event: {type: execve, proc: {name: bash, args: [-c, x], parent: {name: ansible-playbook}}}
        expect: {fire: [{rule: Shell under an admin tool, priority: NOTICE,
                         output: "shell under ansible-playbook (command=bash -c x)"}]}
      - name: under cron
        event: {type: execve, proc: {name: bash, parent: {name: cron}}}
        expect: {not_fire: [Shell under an admin tool]}
      - name: builtin rules are not loaded
        event: {type: execve, proc: {name: debugfs}}
        expect: {detect: false}
    """)
    res = run(spec)
    assert res.ok, text_report([res])
    assert len(res.cases) == 3


def test_sigma_rules_by_path(tmp_path: Path) -> None:
    (tmp_path / "whoami.yml").write_text(textwrap.dedent("""\
    title: Whoami by a web server account
    id: 2f0c3a5e-6a43-4a0a-9d52-0c1d2b3e4f50
    status: test
    level: high
    logsource: {category: process_creation, product: linux}
    detection:
      selection:
        Image|endswith: /whoami
        User: www-data
      condition: selection
    """))
    spec = write(tmp_path, """\
    rules: [whoami.yml]
    tests:
      - name: whoami as www-data
        event: {type: execve, proc: {name: whoami, exepath: /usr/bin/whoami, user: www-data, uid: 33}}
        expect:
          fire: [{rule: 2f0c3a5e-6a43-4a0a-9d52-0c1d2b3e4f50, priority: ERROR}]
      - name: whoami as alice
        event: {type: execve, proc: {name: whoami, exepath: /usr/bin/whoami, user: alice, uid: 1000}}
        expect:
          not_fire: [Whoami by a web server account]
    """)
    res = run(spec)
    assert res.ok, text_report([res])


def test_a_recording_relative_to_the_spec(tmp_path: Path) -> None:
    from vigil.events.jsonl import EventWriter
    from vigil.events.model import Event, FdInfo, Process

    with EventWriter(tmp_path / "rec.jsonl") as w:
        for name in ("cat", "sshd", "python3"):
            w.write(Event(type="openat", res=3, args={"flags": 0, "name": "/etc/shadow"},
                          proc=Process(pid=1, name=name),
                          fd=FdInfo(num=3, type="file", name="/etc/shadow")))
    spec = write(tmp_path, f"""\
    tests:
      - name: replayed
        recording: rec.jsonl
        expect: {{fire: [{{rule: {RULE}, count: 2}}]}}
    """)
    res = run(spec)
    assert res.ok, text_report([res])
    assert res.cases[0].events == 3
    (tmp_path / "rec.jsonl").write_text('{"type": "openat"}\n{"type": 3}\n')
    res = run(spec)
    assert [str(e) for e in res.errors] == [
        f"{tmp_path}/rec.jsonl:2: recording of tests[0] ({spec}:3): malformed event: "
        "Expected `str`, got `int` - at `$.type`"]


def test_config_allowlist_silences_and_detectors_run(tmp_path: Path) -> None:
    (tmp_path / "vigil.toml").write_text(textwrap.dedent(f"""\
    state_dir = "{tmp_path}/state"
    [allowlist.rules]
    suppress = [{{ value = "Debugfs started", reason = "disk forensics host" }}]
    """))
    spec = write(tmp_path, f"""\
    config: vigil.toml
    tests:
      - name: silenced by the allowlist
        event: {{type: execve, proc: {{name: debugfs}}}}
        expect:
          fire: [{{rule: Debugfs started, suppressed: true}}]
      - name: silenced is not firing
        event: {{type: execve, proc: {{name: debugfs}}}}
        expect: {{fire: [Debugfs started]}}
      - name: a detector of the config
        event:
          type: ptrace
          args: {{request: PTRACE_ATTACH, pid: 812}}
          proc: {{pid: 9100, name: python3, exepath: /usr/bin/python3.11, uid: 0, user: root}}
        expect: {{fire: [ptrace]}}
    """)
    res = run(spec)
    by = {c.name: c for c in res.cases}
    assert by["silenced by the allowlist"].passed, text_report([res])
    assert by["a detector of the config"].passed, text_report([res])
    (f,) = by["silenced is not firing"].failures
    assert f.message == "'Debugfs started' was detected but suppressed, expected it to fire"
    assert "[suppressed: dynamic allowlist.rules.suppress=Debugfs started: disk forensics " \
           "host]" in "\n".join(text_report([res]))
    assert not (tmp_path / "state").exists()  # a test writes no audit trail or baseline


def test_detectors_are_off_without_a_config_unless_asked(tmp_path: Path) -> None:
    body = """\
    tests:
      - name: memfd
        event: {type: execve, proc: {name: x, exepath: /memfd:x, exe_from_memfd: true}}
        expect: {fire: [fileless_exec]}
    """
    res = run(write(tmp_path, body))
    assert [str(e) for e in res.errors] == [
        f"{tmp_path}/spec.yaml:4: memfd: 'fileless_exec' is a built-in detector, and "
        "detectors are off in this spec (add detectors: true)"]
    res = run(write(tmp_path, "detectors: true\n" + textwrap.dedent(body)))
    assert res.ok, text_report([res])


# ----------------------------------------------------------------------- malformed specs

BAD = """\
rules: [builtin, ./nope.yaml]
detector: true
rule_matching: some
tests:
  - name: a
    event:
      type: openat
      porc: {name: cat}
      args: {flags: O_RDONLY|O_TRUNK, mode: "9z"}
      proc: {pid: abc, args: [-p, 22]}
      res: EWHAT
    expect:
      fire: [{rule: x, prority: INFO, count: 0}]
      not_fire: 7
      detect: maybe
  - name: a
    events: []
  - name: no expectations
    event: {type: execve}
  - name: no events
    expect: {detect: false}
  - name: two sources
    event: {type: execve}
    recording: x.jsonl
    expect: {}
  - just a string
"""


def test_malformed_specs_are_located_errors_never_tracebacks(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(BAD)
    r = vigil("rules", "test", str(spec))
    assert r.returncode == 2
    assert "Traceback" not in r.stdout + r.stderr
    lines = [l.removeprefix(f"ERROR {spec}:") for l in r.stdout.splitlines()
             if l.startswith("ERROR")]
    assert lines == [
        "2: unknown key 'detector' (did you mean detectors?) (expected one of: rules, "
        "config, detectors, rule_matching, description, anchors, tests)",
        f"1: rules[1]: no such file or directory: {tmp_path}/nope.yaml",
        "3: rule_matching: must be all or first, not 'some'",
        "8: tests[0].event: unknown key 'porc' (did you mean proc?)",
        "11: tests[0].event.res: unknown errno name 'EWHAT'",
        "9: tests[0].event.args.flags: unknown open flag 'O_TRUNK' (did you mean O_TRUNC?)",
        "9: tests[0].event.args.mode: '9z' is not an octal mode (e.g. 4755)",
        "13: tests[0].expect.fire[0]: unknown key 'prority' (did you mean priority?) "
        "(expected one of: rule, priority, output, count, suppressed, shadow)",
        "13: tests[0].expect.fire[0].count: must be 1 or more (use not_fire for rules that "
        "must not fire)",
        "14: tests[0].expect.not_fire: must be a list of rule names, not a number",
        "15: tests[0].expect.detect: must be true or false, not a string",
        "16: tests[1].name: duplicate test name 'a' (first at line 5)",
        "17: tests[1].events: must be a non-empty list of events",
        "18: tests[2]: nothing to check: add 'expect' (to the test or to one of its events)",
        "20: tests[3]: missing events: give 'event' (one inline event), 'events' (a list) "
        "or 'recording' (a JSONL file)",
        "24: tests[4]: give only one of event, events and recording (found event, recording)",
        "25: tests[4].expect: is empty: say what must fire (fire), what must not (not_fire), "
        "or detect: false",
        "26: tests[5]: must be a mapping with name, event(s) and expect, not a string",
    ]


@pytest.mark.parametrize("text, message", [
    ("tests: [\n", "2: invalid YAML: did not find expected node content"),
    ("- a\n- b\n", "1: a rule test spec is a mapping with 'tests'"),
    ("rules: [builtin]\n", "1: missing 'tests' (the list of tests)"),
    ("tests: []\n", "1: tests: must be a non-empty list of tests"),
    ("tests:\n  - name: x\n    name: y\n", "3: duplicate key 'name' (first at line 2)"),
    ("tests:\n  - name: x\n    event: {type: execve, proc: {pid: '12x'}}\n"
     "    expect: {detect: false}\n",
     "3: tests[0].event.proc.pid: Expected `int | null`, got `str`"),
    ("tests:\n  - name: x\n    event: {type: execve, proc: {name: ls, args: [-l, 4]}}\n"
     "    expect: {detect: false}\n",
     "3: tests[0].event.proc.args[1]: Expected `str`, got `int` (put it in quotes"),
    ("tests:\n  - name: x\n    event: [openat]\n    expect: {detect: false}\n",
     "3: tests[0].event: an event must be a mapping with at least 'type'"),
    ("tests:\n  - name: x\n    event: {proc: {name: ls}}\n    expect: {detect: false}\n",
     "3: tests[0].event: missing 'type'"),
    ("tests:\n  - name: x\n    event: {type: execve}\n    expect: {fire: [a], detect: false}\n",
     "4: tests[0].expect.detect: detect: false contradicts the rules listed under fire"),
    ("tests:\n  - name: x\n    event: {type: execve}\n"
     "    expect: {fire: [Debugfs started], not_fire: [Debugfs started]}\n",
     "4: tests[0].expect.not_fire: 'Debugfs started' is listed under both fire and not_fire"),
])
def test_each_malformation_is_one_located_message(tmp_path: Path, text: str,
                                                  message: str) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(text)
    res = RuleTestRunner().run_file(spec)
    assert res.errors, "expected a spec error"
    assert str(res.errors[0]).startswith(f"{spec}:{message}"), str(res.errors[0])
    assert exit_code([res]) == 2


def test_rule_names_that_are_not_loaded_are_errors_with_a_suggestion(tmp_path: Path) -> None:
    spec = write(tmp_path, """\
    tests:
      - name: typo
        event: {type: execve, proc: {name: debugfs}}
        expect:
          not_fire: [Debugfs strated]
    """)
    res = run(spec)
    assert [str(e) for e in res.errors] == [
        f"{spec}:5: typo: no rule or detector named 'Debugfs strated' is loaded "
        "(did you mean Debugfs started?)"]
    assert not res.cases


def test_rules_that_do_not_load_fail_the_spec(tmp_path: Path) -> None:
    (tmp_path / "bad_rules.yaml").write_text(
        "- rule: r\n  desc: d\n  condition: evt.type = execve and proc.nmae = x\n"
        "  output: o\n  priority: INFO\n")
    spec = write(tmp_path, """\
    rules: [bad_rules.yaml]
    tests:
      - {name: t, event: {type: execve}, expect: {detect: false}}
    """)
    r = vigil("rules", "test", str(spec))
    assert r.returncode == 1
    assert f"ERROR {spec}: rules: {tmp_path}/bad_rules.yaml:1: rule 'r': unknown field " \
           "proc.nmae (did you mean proc.name?)" in r.stdout


def test_missing_spec_paths_and_unreadable_files(tmp_path: Path) -> None:
    r = vigil("rules", "test", str(tmp_path / "nope.yaml"))
    assert r.returncode == 2
    assert f"ERROR {tmp_path}/nope.yaml: no such file or directory" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = vigil("rules", "test", str(empty))
    assert r.returncode == 2 and "no *.yaml spec files" in r.stderr
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00tests")
    res = RuleTestRunner().run_file(binary)
    assert str(res.errors[0]).startswith(f"{binary}: cannot read the spec:")


def test_text_from_events_is_escaped_for_the_terminal(tmp_path: Path) -> None:
    spec = write(tmp_path, """\
    tests:
      - name: "evil \\x1b]0;owned\\x07 name"
        event: {type: execve, proc: {name: debugfs, args: ["\\x1b[2J"]}}
        expect: {not_fire: [Debugfs started]}
    """)
    r = vigil("rules", "test", str(spec))
    assert r.returncode == 1
    assert "\x1b" not in r.stdout
    assert "\\x1b[2J" in r.stdout and "evil \\x1b]0;owned\\x07 name" in r.stdout


def test_symbolic_values_become_raw_ones() -> None:
    from vigil.ruletest.events import DEFAULT_START_NS, DEFAULT_STEP_NS, build_event
    from vigil.ruletest.located import load_located

    ev = build_event(load_located(
        "type: openat\nargs: {flags: O_WRONLY|O_CREAT|O_TRUNC, mode: '644'}\n"), 1, None)
    assert ev.args == {"flags": 0o1101, "mode": 0o644} and ev.res == 0
    assert ev.ts == DEFAULT_START_NS
    ev2 = build_event(load_located("type: ptrace\nres: EPERM\nargs: {request: PTRACE_SEIZE}\n"),
                      1, ev.ts)
    assert ev2.args == {"request": 0x4206} and ev2.res == -1
    assert ev2.ts == DEFAULT_START_NS + DEFAULT_STEP_NS
    ev3 = build_event(load_located("type: socket\nargs: {domain: AF_PACKET}\nts: 5\n"
                                   "source: syscall\n"), 1, ev2.ts)
    assert ev3.args == {"domain": 17} and ev3.ts == 5
    auth = build_event(load_located("type: auth.ssh_failed\nsource: auth\n"), 1, None)
    assert auth.res is None  # log events have no syscall result


def test_hostile_yaml_is_refused_not_expanded(tmp_path: Path) -> None:
    levels = ["  - &l0 [" + ", ".join(["x"] * 10) + "]"]
    for n in range(1, 9):
        levels.append(f"  - &l{n} [" + ", ".join([f"*l{n - 1}"] * 10) + "]")
    laughs = tmp_path / "laughs.yaml"
    laughs.write_text("anchors:\n" + "\n".join(levels) + "\ntests:\n  - name: x\n"
                      "    event: {type: execve, proc: {args: *l8}}\n"
                      "    expect: {detect: false}\n")
    res = RuleTestRunner().run_file(laughs)
    assert [str(e) for e in res.errors] == [
        f"{laughs}: the document expands to more than 1000000 values (YAML aliases)"]
    loop = tmp_path / "loop.yaml"
    loop.write_text("tests:\n  - &t\n    name: x\n    self: *t\n")
    res = RuleTestRunner().run_file(loop)
    assert str(res.errors[0]).startswith(f"{loop}:2: invalid YAML: found unconstructable "
                                         "recursive node")


def test_a_name_filter_that_matches_nothing_is_a_usage_error() -> None:
    r = vigil("rules", "test", "-k", "no such test name", "builtin")
    assert r.returncode == 2
    assert "ERROR no test name contains 'no such test name'" in r.stderr


def test_scoped_allowlist_entries_and_shadow_mode_of_the_config(tmp_path: Path) -> None:
    (tmp_path / "vigil.toml").write_text(textwrap.dedent(f"""\
    state_dir = "{tmp_path}/state"
    [rules]
    shadow = [{{ value = "Debugfs started", reason = "new here" }}]
    [allowlist.rules]
    suppress = [{{ value = "{RULE}", processes = ["/opt/acme/bin/dbdump"], reason = "backups" }}]
    """))
    spec = write(tmp_path, f"""\
    config: vigil.toml
    detectors: false
    tests:
      - name: the backup tool in its scope
        event: {{type: openat, args: {{flags: O_RDONLY, name: /etc/shadow}},
                proc: {{name: dbdump, exepath: /opt/acme/bin/dbdump}},
                fd: {{num: 3, type: file, name: /etc/shadow}}}}
        expect: {{fire: [{{rule: {RULE}, suppressed: true}}]}}
      - name: anything else out of it
        event: {SHADOW_READ}
        expect: {{fire: [{{rule: {RULE}, shadow: false}}]}}
      - name: a rule in shadow mode fires, without alerting
        event: {{type: execve, proc: {{name: debugfs}}}}
        expect: {{fire: [{{rule: Debugfs started, shadow: true}}]}}
      - name: expecting it to alert
        event: {{type: execve, proc: {{name: debugfs}}}}
        expect: {{fire: [{{rule: Debugfs started, shadow: false}}]}}
    """)
    res = run(spec)
    by = {c.name: c for c in res.cases}
    for name in ("the backup tool in its scope", "anything else out of it",
                 "a rule in shadow mode fires, without alerting"):
        assert by[name].passed, text_report([res])
    (f,) = by["expecting it to alert"].failures
    assert f.message == "'Debugfs started' fired in shadow mode, expected it to alert"
    assert "[shadow: rules.shadow=Debugfs started (new here)]" in "\n".join(text_report([res]))
