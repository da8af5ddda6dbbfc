"""The auth line parser on sshd, sudo and su lines beyond the CrowdSec fixtures."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.sensors.authparse import parse_message, parse_syslog_line

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc).timestamp()


def p(line: str):
    return parse_syslog_line(line, now=NOW, tz=timezone.utc)


def test_source_is_the_last_from_ip_port_of_the_line() -> None:
    ev = p("Nov 26 10:00:00 web sshd[5]: Invalid user admin from 6.6.6.6 port 22 "
           "from 1.2.3.4 port 5555")
    assert ev.type == "auth.ssh_invalid_user"
    assert ev.args["src_ip"] == "1.2.3.4" and ev.args["src_port"] == 5555
    assert ev.args["user"] == "admin from 6.6.6.6 port 22"
    ev = p("Nov 26 10:00:00 web sshd[5]: Failed password for invalid user x from 6.6.6.6 "
           "port 22 from 1.2.3.4 port 5555 ssh2")
    assert ev.type == "auth.ssh_failed" and ev.args["src_ip"] == "1.2.3.4"
    assert ev.args["invalid_user"] is True and ev.args["method"] == "password"


def test_failed_and_accepted_password() -> None:
    ev = p("Nov 26 10:00:00 web sshd[77]: Failed password for root from 203.0.113.9 port 4242 ssh2")
    assert (ev.type, ev.args["user"], ev.args["result"]) == ("auth.ssh_failed", "root", "failure")
    assert ev.proc.name == "sshd" and ev.proc.pid == 77 and ev.hostname == "web"
    assert ev.ts == int(datetime(2026, 11, 26, 10, tzinfo=timezone.utc).timestamp()) * 10**9
    ev = p("Nov 26 10:00:01 web sshd[78]: Accepted publickey for deploy from 198.51.100.7 "
           "port 50000 ssh2: ED25519 SHA256:abc")
    assert ev.type == "auth.ssh_accepted" and ev.args["method"] == "publickey"
    assert ev.args["result"] == "success" and ev.args["key"] == "ED25519 SHA256:abc"


def test_year_rolls_back_for_a_december_line_read_in_january() -> None:
    jan = datetime(2027, 1, 2, tzinfo=timezone.utc).timestamp()
    ev = parse_syslog_line("Dec 31 23:59:59 h sshd[1]: Failed password for a from 1.1.1.1 "
                           "port 1 ssh2", now=jan, tz=timezone.utc)
    assert datetime.fromtimestamp(ev.ts / 1e9, timezone.utc).year == 2026


def test_rfc3339_header_and_ipv4_mapped_address() -> None:
    ev = p("2026-11-26T10:00:00.250000+01:00 web sshd-session[9]: Connection closed by "
           "invalid user oracle ::ffff:192.0.2.1 port 4000 [preauth]")
    assert ev.type == "auth.ssh_preauth_disconnect" and ev.args["src_ip"] == "192.0.2.1"
    assert ev.args["invalid_user"] is True and ev.proc.name == "sshd-session"
    assert ev.ts == int(datetime(2026, 11, 26, 9, tzinfo=timezone.utc).timestamp()) * 10**9 + 250_000_000


def test_sudo_lines() -> None:
    ev = p("Nov 26 10:00:00 web sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
           "COMMAND=/usr/bin/systemctl stop vigil ; echo done")
    assert ev.type == "auth.sudo_command"
    assert ev.args == {"service": "sudo", "user": "alice", "tty": "pts/0", "cwd": "/home/alice",
                       "target_user": "root", "result": "success",
                       "command": "/usr/bin/systemctl stop vigil ; echo done"}
    ev = p("Nov 26 10:00:00 web sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ; "
           "PWD=/home/alice ; USER=root ; COMMAND=/bin/sh")
    assert ev.type == "auth.sudo_auth_failed" and ev.args["result"] == "failure"
    ev = p("Nov 26 10:00:00 web sudo[4]: pam_unix(sudo:auth): authentication failure; "
           "logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice")
    assert ev.type == "auth.sudo_auth_failed" and ev.args["user"] == "alice"
    assert "src_ip" not in ev.args
    ev = p("Nov 26 10:00:00 web sudo:      bob : user NOT in sudoers ; TTY=pts/1 ; PWD=/ ; "
           "USER=root ; COMMAND=/bin/bash")
    assert ev.type == "auth.sudo_denied" and ev.args["user"] == "bob"


def test_su_lines() -> None:
    ev = p("Nov 26 10:00:00 web su[12]: (to root) alice on pts/0")
    assert ev.type == "auth.su" and ev.args["target_user"] == "root" and ev.args["user"] == "alice"
    ev = p("Nov 26 10:00:00 web su[12]: FAILED SU (to root) alice on pts/0")
    assert ev.type == "auth.su_failed" and ev.args["result"] == "failure"
    ev = p("Nov 26 10:00:00 web su[12]: pam_unix(su:auth): authentication failure; logname=alice "
           "uid=1000 euid=0 tty=pts/0 ruser=alice rhost=  user=root")
    assert ev.type == "auth.su_failed" and ev.args["user"] == "alice"
    assert ev.args["target_user"] == "root"
    ev = p("Nov 26 10:00:00 web su[12]: pam_unix(su-l:session): session opened for user "
           "root(uid=0) by alice(uid=1000)")
    assert ev.type == "auth.session_opened" and ev.args["target_user"] == "root"


def test_unrelated_and_malformed_lines_are_none() -> None:
    for line in ("", "garbage", "Nov 26 10:00:00 web cron[1]: (root) CMD (run-parts)",
                 "Nov 26 10:00:00 web sshd[1]: Server listening on 0.0.0.0 port 22.",
                 "Foo 26 10:00:00 web sshd[1]: Failed password for a from 1.1.1.1 port 1 ssh2",
                 "Feb 30 10:00:00 web sshd[1]: Accepted password for a from 1.1.1.1 port 1 ssh2"[:20],
                 "Nov 26 10:00:00 web sshd[1]: Disconnected from totobad user x 1.1.1.1 port 1"):
        assert p(line) is None, line


def test_hostname_instead_of_address_goes_to_src_host() -> None:
    ev = p("Nov 26 10:00:00 web sshd[1]: Failed password for a from evil.example port 1 ssh2")
    assert "src_ip" not in ev.args and ev.args["src_host"] == "evil.example"


def test_parse_message_for_journal_fields() -> None:
    ev = parse_message("/usr/sbin/sshd", 42, "Failed password for root from 10.0.0.1 port 2 ssh2",
                       ts=5, hostname="h")
    assert ev.type == "auth.ssh_failed" and ev.ts == 5 and ev.proc.pid == 42
    assert ev.raw == "sshd[42]: Failed password for root from 10.0.0.1 port 2 ssh2"
    assert parse_message("nginx", 1, "Failed password for root from 10.0.0.1 port 2") is None


PREFIXES = ["Nov 26 10:00:00 web sshd[5]: ", "2026-11-26T10:00:00Z web sudo: ", "Feb 29 1:2:3 h su[1]: ",
            "Nov 26 10:00:00 web sshd-session[7]: Failed password for ", "Nov 26 10:00:00 h sudo: a : ",
            "Nov 26 10:00:00 web sshd[5]: pam_unix(sshd:auth): authentication failure;"]


@settings(max_examples=300, deadline=None)
@given(prefix=st.sampled_from(PREFIXES), rest=st.text(max_size=200))
def test_any_line_parses_or_is_none_without_raising(prefix: str, rest: str) -> None:
    ev = parse_syslog_line(prefix + rest, now=NOW)
    if ev is not None:
        assert ev.type.startswith("auth.") and ev.source == "auth"
        ip = ev.args.get("src_ip")
        assert ip is None or isinstance(ip, str)


def test_a_january_line_read_on_new_years_eve_is_next_years() -> None:
    eve = datetime(2026, 12, 31, 23, 59, 50, tzinfo=timezone.utc).timestamp()
    ev = parse_syslog_line("Jan  1 00:00:05 h sshd[1]: Failed password for a from 1.1.1.1 "
                           "port 1 ssh2", now=eve, tz=timezone.utc)
    assert datetime.fromtimestamp(ev.ts / 1e9, timezone.utc) == datetime(2027, 1, 1, 0, 0, 5,
                                                                         tzinfo=timezone.utc)
