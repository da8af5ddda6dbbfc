"""Our auth-line parses must agree with CrowdSec's sshd parser tests.

Reads every `parser.assert` under ../shared/fixtures/ssh/crowdsec (read at its path,
never copied), takes the expectations of the `s01-parse` stage (success, log_type,
source_ip, target_user/user) and checks `parse_syslog_line` on the matching log line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from needs import SHARED
from vigil.sensors.authparse import parse_syslog_line

FIXTURES = SHARED / "fixtures" / "ssh" / "crowdsec"

_ASSERT = re.compile(r'^results\["s01-parse"\]\["[^"]+"\]\[(\d+)\]\.'
                     r'(?:Success == (true|false)|Evt\.Meta\["(\w+)"\] == "(.*)")$')

#: CrowdSec log_type -> our event type (None: any type whose result is "failure")
LOG_TYPES = {
    "ssh_failed-auth": None,
    "auth_success": "auth.ssh_accepted",
    "ssh_bad_keyexchange": "auth.ssh_bad_kex",
    "ssh_auth_timeout": "auth.ssh_auth_timeout",
    "ssh_dispatch_fatal": "auth.ssh_protocol_error",
    "ssh_refused_conn": "auth.ssh_refused",
}


def _cases() -> list[tuple[str, int, str, dict[str, str]]]:
    cases = []
    for assert_file in sorted(FIXTURES.glob("*/parser.assert")):
        expected: dict[int, dict[str, str]] = {}
        for line in assert_file.read_text().splitlines():
            m = _ASSERT.match(line.strip())
            if m is None:
                continue
            entry = expected.setdefault(int(m[1]), {})
            if m[2] is not None:
                entry["Success"] = m[2]
            else:
                entry[m[3]] = m[4]
        if not expected:
            continue
        config = yaml.safe_load((assert_file.parent / "config.yaml").read_text())
        log_lines = [ln for ln in (assert_file.parent / config["log_file"]).read_text().splitlines()
                     if ln.strip()]
        assert len(log_lines) > max(expected), assert_file
        for idx, exp in sorted(expected.items()):
            cases.append((assert_file.parent.name, idx, log_lines[idx], exp))
    return cases


CASES = _cases()


def test_fixtures_found(shared_dir: Path) -> None:
    assert FIXTURES.is_dir(), FIXTURES
    dirs = {c[0] for c in CASES}
    assert {"sshd-logs", "sshd-logs-fp", "sshd-success-logs", "sshd-invalid-bf"} <= dirs
    assert len(CASES) >= 40


@pytest.mark.parametrize("folder,idx,line,exp", CASES, ids=[f"{c[0]}[{c[1]}]" for c in CASES])
def test_parse_agrees_with_crowdsec(folder: str, idx: int, line: str, exp: dict[str, str]) -> None:
    ev = parse_syslog_line(line, now=1_800_000_000)
    if exp.get("Success") == "false":
        assert ev is None or ev.args.get("result") != "failure", line
        return
    assert ev is not None, line
    assert ev.source == "auth" and ev.raw == line
    want_type = LOG_TYPES[exp["log_type"]]
    if want_type is None:
        assert ev.args.get("result") == "failure", (line, ev.type)
    else:
        assert ev.type == want_type, line
        assert ev.args.get("result") != "failure"
    assert ev.args.get("src_ip") == exp["source_ip"], line
    user = exp.get("target_user", exp.get("user"))
    assert ev.args.get("user") == user, line
    assert ev.proc.name in ("sshd", "sshd-session") and ev.proc.pid is not None
