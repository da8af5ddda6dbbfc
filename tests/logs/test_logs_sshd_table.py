"""The parser on our table of sshd lines (tests/logs/sshd_table.py): kind, user and address
of every message family fail2ban and CrowdSec recognise, in every header format."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from sshd_table import HEADERS, OTHER_LINES, ROWS
from vigil.sensors.authparse import KINDS, parse_syslog_line
from vigil.sensors.syslog_header import split_syslog_line

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc).timestamp()


def _line(i: int, header: str, message: str) -> str:
    return HEADERS[header].format(pid=1000 + i) + message


def _check(line: str, kind: str | None, user: str | None, ip: str | None) -> None:
    ev = parse_syslog_line(line, now=NOW, tz=timezone.utc)
    if kind is None:
        assert ev is None, (line, ev and ev.type)
        return
    assert ev is not None, line
    assert ev.type == f"auth.{kind}", (line, ev.type)
    assert ev.type in KINDS and ev.source == "auth" and ev.raw == line
    assert ev.args.get("user") == user, (line, ev.args)
    assert ev.args.get("src_ip", ev.args.get("src_host")) == ip, (line, ev.args)
    assert not ("src_ip" in ev.args and "src_host" in ev.args and kind != "ssh_refused")


def test_the_table_is_big_enough_and_covers_every_sshd_kind() -> None:
    assert len(ROWS) + len(OTHER_LINES) >= 150
    seen = {f"auth.{k}" for _h, _m, k, _u, _i in ROWS if k} | {
        f"auth.{k}" for _l, k, _u, _i in OTHER_LINES if k}
    assert seen == set(KINDS)
    assert {h for h, *_ in ROWS} == set(HEADERS)


@pytest.mark.parametrize("i,header,message,kind,user,ip",
                         [(i, *row) for i, row in enumerate(ROWS)],
                         ids=[f"{i}:{row[1][:40]}" for i, row in enumerate(ROWS)])
def test_sshd_line(i: int, header: str, message: str, kind: str | None, user: str | None,
                   ip: str | None) -> None:
    line = _line(i, header, message)
    _check(line, kind, user, ip)
    ev = parse_syslog_line(line, now=NOW, tz=timezone.utc)
    if ev is not None and header not in ("bracket", "bracket-nocolon"):
        assert ev.proc.pid == 1000 + i


@pytest.mark.parametrize("line,kind,user,ip", OTHER_LINES, ids=[l[:40] for l, *_ in OTHER_LINES])
def test_other_line(line: str, kind: str | None, user: str | None, ip: str | None) -> None:
    _check(line, kind, user, ip)


def _row(message: str) -> tuple[int, str]:
    return next((i, h) for i, (h, m, *_r) in enumerate(ROWS) if m == message)


def _args(message: str) -> dict:
    i, header = _row(message)
    ev = parse_syslog_line(_line(i, header, message), now=NOW, tz=timezone.utc)
    return ev.args


def test_results_say_what_failed() -> None:
    for header, message, kind, _u, _i in ROWS:
        if kind in ("ssh_failed", "ssh_invalid_user", "ssh_user_not_allowed", "ssh_pam_failure",
                    "ssh_too_many_failures", "ssh_preauth_disconnect", "ssh_handshake_failed"):
            assert _args(message)["result"] == "failure", message
        elif kind == "ssh_accepted":
            assert _args(message)["result"] == "success", message
        elif kind in ("ssh_connection", "ssh_connection_closed", "ssh_bad_kex",
                      "ssh_protocol_error", "ssh_auth_timeout", "ssh_disconnect"):
            assert "result" not in _args(message), message


def test_received_disconnect_codes() -> None:
    jsch = _args("Received disconnect from 198.51.100.72: 3: com.jcraft.jsch.JSchException: Auth fail")
    assert jsch["reason_code"] == 3 and jsch["result"] == "failure" and "preauth" not in jsch
    gave_up = _args("Received disconnect from 198.51.100.74: 14: No supported authentication "
                    "methods available [preauth]")
    assert gave_up["reason_code"] == 14 and gave_up["result"] == "failure" and gave_up["preauth"]
    bye = _args("Received disconnect from 198.51.100.70 port 58846:11: Bye Bye [preauth]")
    assert bye["reason_code"] == 11 and "result" not in bye and bye["src_port"] == 58846
    assert bye["reason"] == "Bye Bye" and bye["preauth"] is True
    logout = _args("Received disconnect from 198.51.100.61 port 51578:11: disconnected by user")
    assert "preauth" not in logout and "result" not in logout


def test_extra_arguments() -> None:
    a = _args("Failed password for invalid user admin from 192.0.2.11 port 50002 ssh2")
    assert a["invalid_user"] is True and a["method"] == "password" and a["src_port"] == 50002
    a = _args("Failed keyboard-interactive for <invalid username> from 198.51.100.22 port 42742 ssh2")
    assert a["invalid_user"] is True and "user" not in a
    a = _args("Accepted publickey for root from 198.51.100.54 port 22 ssh2: RSA-CERT SHA256:x ID "
              "ci@example (serial 7) CA ED25519 SHA256:y")
    assert a["key"].startswith("RSA-CERT SHA256:x ID ci@example")
    assert _args("message repeated 3 times: [ Failed password for root from 203.0.113.34 port "
                 "40000 ssh2]")["repeat"] == 3
    a = _args("Bad protocol version identification 'GET / HTTP/1.1' from 203.0.113.112 port 31778")
    assert a["client_version"] == "GET / HTTP/1.1" and a["src_port"] == 31778
    a = _args("refused connect from host.example (203.0.113.130)")
    assert a["src_host"] == "host.example" and a["src_ip"] == "203.0.113.130"
    a = _args("User root from 192.0.2.80 not allowed because not listed in AllowUsers")
    assert a["reason"] == "not listed in AllowUsers"
    a = _args("ROOT LOGIN REFUSED FROM 192.0.2.85 port 12345 [preauth]")
    assert a["reason"] == "ROOT LOGIN REFUSED" and a["preauth"] is True
    a = _args("Unable to negotiate with 203.0.113.92 port 45296: no matching MAC found. Their "
              "offer: hmac-sha1 [preauth]")
    assert a["reason"].startswith("no matching MAC found") and a["preauth"] is True
    a = _args("Connection closed by invalid user oracle 192.0.2.121 port 4000 [preauth]")
    assert a["invalid_user"] is True and a["src_port"] == 4000


@pytest.mark.parametrize("header,host,pid,iso", [
    ("3164", "web", 7, "2026-11-26T10:00:00+00:00"),
    ("3339", "web", 7, "2026-11-26T09:00:00.123456+00:00"),
    ("space", "web", 7, "2026-11-26T10:00:00+00:00"),
    ("solaris", "dusky", 7, "2026-11-26T10:00:00+00:00"),
    ("nohost", None, 7, "2026-11-26T10:00:00+00:00"),
    ("bsdverbose", "web", 7, "2026-11-26T10:00:00+00:00"),
    ("pri", "web", 7, "2026-11-26T10:00:00+00:00"),
    ("precise", "web", 7, "2026-11-26T10:00:00.250000+00:00"),
    ("5424", "web.example", 7, "2026-11-26T10:00:00.500000+00:00"),
    ("5424sd", "web.example", 7, "2026-11-26T14:00:00+00:00"),
    ("bracket", "web", None, "2026-11-26T10:00:00+00:00"),
    ("bracket-nocolon", "web", None, "2026-11-26T10:00:00+00:00"),
    ("auth", "web", 7, "2026-11-26T10:00:00+00:00"),
    ("pam-tag", "web", 7, "2026-11-26T10:00:00+00:00"),
])
def test_headers(header: str, host: str | None, pid: int | None, iso: str) -> None:
    head = split_syslog_line(HEADERS[header].format(pid=7) + "Server listening", now=NOW,
                             tz=timezone.utc)
    assert head is not None
    assert head.host == host and head.pid == pid and head.message == "Server listening"
    assert head.program.startswith("sshd")
    assert head.ts == int(datetime.fromisoformat(iso).timestamp() * 1e6) * 1000


def test_nanosecond_stamps_are_kept() -> None:
    head = split_syslog_line("2026-11-26T10:00:00.123456789Z h sshd[1]: x", now=NOW)
    assert head is not None and head.ts % 10**9 == 123456789
