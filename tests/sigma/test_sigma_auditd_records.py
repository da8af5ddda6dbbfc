"""auditd rules see only the records auditd would write: the audit rules a Sigma rule
documents (or, when it documents none, the least its record types need) decide which
events are SYSCALL, EXECVE or PATH records; `[rules.sigma_auditd]` widens or replaces them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from needs import needs_shared, shared_path

from sigma_event_spec import build_event
from test_sigma_modifiers import write_rule
from vigil.agent import build_pipeline
from vigil.config import parse_config
from vigil.config_errors import ConfigError
from vigil.rules.sigma import SigmaEngine, load_sigma_paths, validate_sigma
from vigil.rules.sigma.auditd import AuditRuleError, parse_audit_rule, parse_audit_rules

SIGMA_LINUX = shared_path("rules", "sigma", "linux")
AUDITD = {"product": "linux", "service": "auditd"}
#: marks a test that reads SigmaHQ's rules
SHARED = needs_shared("rules", "sigma", "linux")
SHELL_RC = "a94cdd87-6c54-4678-a6cc-2814ffe5a13d"        # Unix Shell Configuration Modification
SPLIT = "2dad0cba-c62a-4a4f-949f-5f6ecd619769"           # Split A File Into Pieces
C2 = "f7158a64-6204-4d6d-868a-6e6378b467e0"              # Suspicious C2 Activities
SYSINFO_PATHS = "f34047d9-20d3-4e8b-8672-0a35cc50dc71"   # System Information Discovery - Auditd


@pytest.fixture(scope="module")
def sigmahq():
    result = load_sigma_paths([SIGMA_LINUX / "auditd"])
    assert not result.unsupported and not result.errors
    return result


@pytest.fixture(scope="module")
def engine(sigmahq):
    return SigmaEngine(sigmahq.rules)


def fired(engine: SigmaEngine, **spec) -> set[str]:
    return {d.rule_id for d in engine.on_event(build_event(spec))}


LOGIN = {"exec": "-bash", "exepath": "/usr/bin/bash", "comm": "bash", "user": "alice",
         "uid": 1000, "euid": 1000}


@SHARED
def test_a_login_shell_reading_its_rc_files_is_no_modification(engine):
    # the issue: every read of /etc/bash.bashrc by a login shell fired the rule, because a
    # PATH record was assumed for every syscall; its audit rules are `-w ... -p wa`
    for path in ("/etc/bash.bashrc", "/etc/profile", "/home/alice/.bashrc",
                 "/home/alice/.profile", "/etc/profile.d/bash_completion.sh"):
        assert SHELL_RC not in fired(engine, read=path, **LOGIN), path


@SHARED
def test_writes_and_attribute_changes_of_rc_files_still_fire(engine):
    assert SHELL_RC in fired(engine, write="/etc/bash.bashrc", **LOGIN)
    assert SHELL_RC in fired(engine, write="/home/alice/.bashrc", **LOGIN)
    assert SHELL_RC in fired(engine, syscall="fchmodat", **LOGIN,
                             args={"dirfd": -100, "filename": "/etc/profile", "mode": 0o777})
    assert SHELL_RC in fired(engine, syscall="renameat2", **LOGIN,
                             args={"olddirfd": -100, "oldpath": "/tmp/x", "newdirfd": -100,
                                   "newpath": "/root/.bashrc", "flags": 0})
    # an open for reading and writing is a write (the kernel's access mode test)
    ev = build_event({"read": "/etc/profile", **LOGIN})
    ev.args["flags"] = 0o2
    assert SHELL_RC in {d.rule_id for d in engine.on_event(ev)}


@SHARED
def test_syscall_records_of_a_program_are_its_exec(engine):
    # "type: SYSCALL, comm: split" documents no audit rule: exec logging is assumed, so
    # split's hundreds of writes are not each a detection
    assert SPLIT in fired(engine, exec="split -b 1M secrets.tar part.")
    assert SPLIT not in fired(engine, exec="split -b 1M secrets.tar part.",
                              write="/root/part.aa")
    assert SPLIT not in fired(engine, exec="split -b 1M secrets.tar part.",
                              read="/root/secrets.tar")


@SHARED
def test_keys_are_what_the_rules_own_audit_rules_select(engine):
    # the rule lists `-w /usr/bin/ss -p x -k susp_activity` among its audit rules
    assert C2 in fired(engine, exec="ss -tnp", exepath="/usr/bin/ss")
    assert C2 in fired(engine, exec="nc -zv 10.0.0.1 22", exepath="/usr/bin/nc")  # -w /bin/nc
    assert C2 not in fired(engine, exec="ls -l", exepath="/usr/bin/ls")
    # a watch -p x records executions only, not curl's connects or reads
    assert C2 not in fired(engine, exec="curl https://x", exepath="/usr/bin/curl",
                           connect="203.0.113.5:443")


@SHARED
def test_discovery_rules_assume_a_read_watch(engine):
    # "System Information Discovery": the rule's words speak of discovery, so a -p r watch
    assert SYSINFO_PATHS in fired(engine, read="/etc/issue", exec="cat /etc/issue")
    assert SYSINFO_PATHS not in fired(engine, write="/etc/issue", exec="vim /etc/issue")


@SHARED
def test_auditd_rules_no_longer_need_every_syscall_from_the_kernel(sigmahq):
    types = SigmaEngine(sigmahq.rules).event_types
    assert types is not None  # before: some auditd rule took any event type
    assert {"execve", "openat", "sysinfo", "connect"} <= types
    assert not {"read", "write", "sendto", "recvfrom", "close"} & types


# --- audit rules documented by a rule --------------------------------------------------

def _rule(tmp_path: Path, detection: dict, definition: str = "", **extra) -> SigmaEngine:
    logsource = dict(AUDITD, definition=definition) if definition else AUDITD
    write_rule(tmp_path, detection, logsource, **extra)
    result = load_sigma_paths([tmp_path])
    assert not result.unsupported and not result.errors
    return SigmaEngine(result.rules)


def _hit(engine: SigmaEngine, **spec) -> bool:
    return bool(engine.on_event(build_event(spec)))


def test_a_documented_watch_records_its_permissions_on_its_path(tmp_path):
    e = _rule(tmp_path, {"sel": {"type": "PATH", "name|startswith": "/etc/app"},
                         "condition": "sel"},
              definition="Required auditd configuration:\n-w /etc/app.conf -p wa -k app\n")
    assert _hit(e, write="/etc/app.conf")
    assert _hit(e, syscall="chown", args={"path": "/etc/app.conf", "uid": 0, "gid": 0})
    assert not _hit(e, read="/etc/app.conf")
    # the rule's own condition would take this path; no audit rule watches it
    assert not _hit(e, write="/etc/app.conf.d/extra")


def test_documented_read_and_exec_watches(tmp_path):
    (tmp_path / "r").mkdir()
    r = _rule(tmp_path / "r", {"sel": {"type": "PATH", "name": "/etc/issue"}, "condition": "sel"},
               definition="-w /etc/issue -p r -k recon")
    assert _hit(r, read="/etc/issue") and not _hit(r, write="/etc/issue")
    (tmp_path / "x").mkdir()
    x = _rule(tmp_path / "x", {"sel": {"type": "SYSCALL", "exe": "/opt/tools/scan"},
                               "condition": "sel"},
              definition="auditctl -w /opt/tools -p x -k tools")
    assert _hit(x, exec="/opt/tools/scan -q", exepath="/opt/tools/scan")
    assert not _hit(x, exec="/opt/tools/scan -q", exepath="/opt/tools/scan",
                    read="/etc/passwd")


def test_documented_syscall_rule_with_fields(tmp_path):
    e = _rule(tmp_path, {"sel": {"type": "SYSCALL", "SYSCALL": "kill"}, "condition": "sel"},
              description="Detects SIGKILL sent by root.\n"
                          "-a always,exit -F arch=b64 -S kill,tkill -F a1=9 -F euid=0 "
                          "-F success=1 -k kill9")
    kill = {"syscall": "kill", "args": {"pid": 812, "sig": 9}}
    assert _hit(e, **kill, regs=[812, 9, 0, 0, 0, 0])
    assert not _hit(e, **kill, regs=[812, 15, 0, 0, 0, 0])       # a1 is register 1
    assert not _hit(e, **kill, regs=[9, 812, 0, 0, 0, 0])
    assert not _hit(e, **kill, regs=[812, 9, 0, 0, 0, 0], res=-1)  # success=1
    assert not _hit(e, **kill, regs=[812, 9, 0, 0, 0, 0], euid=1000, uid=1000)


def test_a_key_nobody_defines_never_matches_and_says_why(tmp_path):
    write_rule(tmp_path, {"sel": {"key": "my_own_key"}, "condition": "sel"}, AUDITD)
    result = load_sigma_paths([tmp_path])
    [u] = result.unsupported
    assert "my_own_key" in u.reason


@SHARED
def test_validate_reports_the_assumed_audit_rules(sigmahq):
    notes = {e.rule_id: " ".join(e.notes) for e in validate_sigma(sigmahq).entries}
    assert "documents no audit rules" in notes[SHELL_RC]
    assert "-p wa" in notes[SHELL_RC] and "title" in notes[SHELL_RC]
    assert "-w /usr/bin/ss -p x -k susp_activity" in notes[C2]
    assert "execve" in notes[SPLIT]


# --- [rules.sigma_auditd] ----------------------------------------------------------------

def _pipeline(tmp_path: Path, table: str):
    text = (f'state_dir = "{tmp_path / "state"}"\n[rules]\nfalco = []\n'
            f'sigma = ["{SIGMA_LINUX / "auditd" / "path"}"]\n{table}')
    built = build_pipeline(config=parse_config(text, tmp_path / "vigil.toml"), audit=False,
                           alerts=False, detectors=False)
    assert not built.fatal, built.problems
    return built.pipeline


def _ids(pipeline, **spec) -> set[str]:
    return {d.rule_id for d in pipeline.process(build_event(spec))}


@SHARED
def test_assume_all_widens_to_every_record(tmp_path):
    p = _pipeline(tmp_path, '[rules.sigma_auditd]\nassume = "all"\n')
    assert SHELL_RC in _ids(p, read="/etc/bash.bashrc", **LOGIN)
    p = _pipeline(tmp_path, '[rules.sigma_auditd]\nassume = "documented"\n')
    assert SHELL_RC not in _ids(p, read="/etc/bash.bashrc", **LOGIN)


@SHARED
def test_configured_audit_rules_replace_the_assumption(tmp_path):
    p = _pipeline(tmp_path, f'[rules.sigma_auditd.audit_rules]\n'
                            f'"{SHELL_RC}" = ["-w /etc/bash.bashrc -p r -k rc_reads"]\n')
    assert SHELL_RC in _ids(p, read="/etc/bash.bashrc", **LOGIN)
    assert SHELL_RC not in _ids(p, write="/etc/bash.bashrc", **LOGIN)
    assert SHELL_RC not in _ids(p, read="/etc/profile", **LOGIN)


@pytest.mark.parametrize("table, key, words", [
    ('[rules.sigma_auditd]\nassume = "sometimes"\n', "rules.sigma_auditd.assume",
     '"documented" or "all"'),
    ('[rules.sigma_auditd]\nassumes = "all"\n', "rules.sigma_auditd.assumes", "unknown key"),
    ('[rules.sigma_auditd.audit_rules]\n"x-1" = ["-w etc/passwd -p wa"]\n',
     "rules.sigma_auditd.audit_rules.x-1", "absolute"),
    ('[rules.sigma_auditd.audit_rules]\n"x-1" = ["-w /etc/passwd -p rz"]\n',
     "rules.sigma_auditd.audit_rules.x-1", "r, w, x, a"),
    ('[rules.sigma_auditd.audit_rules]\n"x-1" = 3\n', "rules.sigma_auditd.audit_rules.x-1",
     "list"),
])
def test_bad_settings_name_the_key(tmp_path, table, key, words):
    with pytest.raises(ConfigError) as exc:
        parse_config(f'state_dir = "{tmp_path}"\n[rules]\nfalco = []\n{table}',
                     tmp_path / "vigil.toml")
    assert exc.value.key == key
    assert words in exc.value.message
    assert exc.value.line is not None


# --- the auditctl reader ---------------------------------------------------------------

def test_audit_rule_lines():
    w = parse_audit_rule("-w /etc/shadow -p wa -k shadow")
    assert (w.key, w.perms) == ("shadow", "wa")
    assert parse_audit_rule("-w /etc/x").perms == "rwxa"  # auditctl's default
    s = parse_audit_rule('-a exit,always -F arch=b64 -S connect -F a2=16 -F "key=net 4"')
    assert s.key == "net 4" and s.perms == ""
    assert parse_audit_rule("-a never,exit -S all -F exe=/usr/bin/chatty") is None
    odd = parse_audit_rule("-a always,exit -S open -F subj_type=x_t -k k")
    assert odd.notes and "subj_type" in odd.notes[0]
    for bad in ("-w /etc/x -p q", "-a always,exit -F uid=0", "-x /etc", "-a always,exit -S 44",
                "-w /etc/x -p", "-a sometimes -S open"):
        with pytest.raises(AuditRuleError):
            parse_audit_rule(bad)


def test_audit_rules_are_found_in_prose():
    rules, problems = parse_audit_rules(
        "Required auditd configuration:\n  -w /etc/a -p wa -k a\n"
        "`auditctl -a always,exit -S sysinfo -k si`\n- a list item\n-w relative -p r\n"
        "Change the number 33 to your user id.")
    assert [r.text for r in rules] == ["-w /etc/a -p wa -k a",
                                       "-a always,exit -S sysinfo -k si"]
    assert len(problems) == 1 and "absolute" in problems[0]


@SHARED
def test_rules_validate_prints_the_assumptions_with_notes():
    import subprocess
    import sys

    path = str(SIGMA_LINUX / "auditd" / "path")
    r = subprocess.run([sys.executable, "-m", "vigil", "rules", "validate", "--notes", path],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    line = next(ln for ln in r.stdout.splitlines() if SHELL_RC in ln)
    assert line.startswith(f"NOTE sigma {SHELL_RC} Unix Shell Configuration Modification: ")
    assert "-p wa" in line
    plain = subprocess.run([sys.executable, "-m", "vigil", "rules", "validate", path],
                           capture_output=True, text=True, timeout=120)
    assert "NOTE" not in plain.stdout and plain.returncode == 0
