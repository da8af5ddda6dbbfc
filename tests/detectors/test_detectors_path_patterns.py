"""PathPatterns agrees with the plain definition (fnmatch / prefix / exact) it speeds up."""

from __future__ import annotations

import fnmatch

from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.detectors.path_patterns import PathPatterns

PATTERNS = ["*/.ssh/id_*", "/etc/ssh/ssh_host_*_key", "*/.mozilla/firefox/*/logins.json",
            "*.key", "/etc/pam.d/", "/etc/shadow", "/var/log/auth.log*", "/x/[ab]c",
            "*/.aws/credentials", "/e?c/a"]


def reference(path: str) -> bool:
    for pat in PATTERNS:
        if any(c in pat for c in "*?["):
            if fnmatch.fnmatchcase(path, pat):
                return True
        elif pat.endswith("/"):
            if path.startswith(pat):
                return True
        elif path == pat:
            return True
    return False


PIECES = st.sampled_from(["/", "etc", "ssh", ".ssh", "id_rsa", "ssh_host_", "_key", ".key",
                          "pam.d", "shadow", "var", "log", "auth.log", ".1", "x", "ac", "bc",
                          "cc", ".aws", "credentials", ".mozilla", "firefox", "logins.json",
                          "a", "e", "c", "home", "u"])


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, min_size=1, max_size=8))
def test_match_agrees_with_reference(pieces: list[str]) -> None:
    path = "".join(pieces)
    assert (PathPatterns({"c": PATTERNS}).match(path) is not None) == reference(path)


def test_match_names_category_and_pattern() -> None:
    pp = PathPatterns({"keys": ["*/.ssh/id_*"], "pam": ["/etc/pam.d/"]})
    assert pp.match("/root/.ssh/id_ed25519") == ("keys", "*/.ssh/id_*")
    assert pp.match("/etc/pam.d/sshd") == ("pam", "/etc/pam.d/")
    assert pp.match("/etc/pam.conf") is None and pp.match(None) is None
