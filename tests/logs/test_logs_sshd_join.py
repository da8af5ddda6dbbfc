"""`SshdJoiner`: sshd lines without an address take it from another line of the same
process, as fail2ban's multi-line sshd filter does (our own lines)."""

from __future__ import annotations

from datetime import datetime, timezone

from vigil.events.model import Event
from vigil.sensors.authparse import parse_syslog_line
from vigil.sensors.sshd_join import MAX_HELD, SshdJoiner

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc).timestamp()
S = 10**9


def ev(pid: int, msg: str, host: str = "web") -> Event:
    e = parse_syslog_line(f"Nov 26 10:00:00 {host} sshd[{pid}]: {msg}", now=NOW, tz=timezone.utc)
    assert e is not None, msg
    return e


def feed(joiner: SshdJoiner, events: list[Event], t: int = 0) -> list[Event]:
    out: list[Event] = []
    for e in events:
        out += joiner.push(e, t)
    return out


def addr(events: list[Event]) -> list[tuple[str, str | None]]:
    return [(e.type.removeprefix("auth."), e.args.get("src_ip")) for e in events]


def test_address_from_the_next_line_of_the_same_pid() -> None:
    """OpenSSH < 7: the failure names no address; the close right after does."""
    j = SshdJoiner()
    out = feed(j, [ev(8148, "Disconnecting: Too many authentication failures for root [preauth]")])
    assert out == [] and j.held() == 1
    out = feed(j, [ev(8148, "Connection closed by 192.0.2.7 [preauth]")])
    assert addr(out) == [("ssh_too_many_failures", "192.0.2.7"),
                         ("ssh_preauth_disconnect", "192.0.2.7")]
    assert out[0].args["joined_address"] is True and out[0].args["user"] == "root"
    assert "joined_address" not in out[1].args and j.joined == 1 and j.held() == 0


def test_no_join_across_pids_or_hosts_and_waiting_ends_after_the_hold() -> None:
    j = SshdJoiner(hold_seconds=5)
    feed(j, [ev(9148, "Disconnecting: Too many authentication failures for root [preauth]")], 0)
    out = feed(j, [ev(7148, "Connection closed by 192.0.2.8 [preauth]"),
                   ev(9148, "Connection closed by 192.0.2.9 [preauth]", host="other")], 1 * S)
    assert addr(out) == [("ssh_preauth_disconnect", "192.0.2.8"),
                         ("ssh_preauth_disconnect", "192.0.2.9")]
    assert j.expire(4 * S) == []
    late = j.expire(5 * S)
    assert addr(late) == [("ssh_too_many_failures", None)] and j.unjoined == 1


def test_address_from_an_earlier_line_until_the_connection_ends() -> None:
    """LogLevel VERBOSE: `Connection from` first; old wordings without an address follow."""
    j = SshdJoiner()
    out = feed(j, [
        ev(22440, "Connection from 192.0.2.3 port 39678 on 192.168.1.9 port 22"),
        ev(22440, "fatal: Unable to negotiate a key exchange method [preauth]"),
        ev(22440, "fatal: Read from socket failed: Connection reset by peer [preauth]"),
        ev(22440, "Connection closed by 192.0.2.3 port 39678"),
    ])
    assert addr(out) == [("ssh_connection", "192.0.2.3"), ("ssh_bad_kex", "192.0.2.3"),
                         ("ssh_protocol_error", "192.0.2.3"),
                         ("ssh_connection_closed", "192.0.2.3")]
    assert out[1].args["src_port"] == 39678
    # the pid is reused later: its address-less first line must not take the old address
    assert feed(j, [ev(22440, "error: kex_exchange_identification: Connection closed by remote "
                              "host")]) == []
    out = feed(j, [ev(22440, "Connection closed by 192.0.2.15 port 35352")])
    assert addr(out) == [("ssh_protocol_error", "192.0.2.15"),
                         ("ssh_connection_closed", "192.0.2.15")]


def test_locked_account_takes_the_address_of_the_disconnect() -> None:
    j = SshdJoiner()
    out = feed(j, [ev(29116, "User root not allowed because account is locked"),
                   ev(29116, "Received disconnect from 198.51.100.1: 11: Bye Bye [preauth]")])
    assert addr(out) == [("ssh_user_not_allowed", "198.51.100.1"),
                         ("ssh_received_disconnect", "198.51.100.1")]
    assert out[0].args["user"] == "root"


def test_other_programs_and_lines_without_pid_pass_through() -> None:
    j = SshdJoiner()
    sudo = parse_syslog_line("Nov 26 10:00:00 web sudo: a : TTY=pts/0 ; PWD=/ ; USER=root ; "
                             "COMMAND=/bin/true", now=NOW)
    bare = parse_syslog_line("Nov 26 10:00:00 web sshd: error: kex_exchange_identification: "
                             "banner line too long", now=NOW)
    assert feed(j, [sudo, bare]) == [sudo, bare]


def test_bounded_memory_and_nothing_lost() -> None:
    j = SshdJoiner(max_connections=3)
    line = "error: kex_exchange_identification: Connection closed by remote host"
    out = feed(j, [ev(pid, line) for pid in range(10)])
    assert len(out) == 7 and j.held() == 3      # the oldest connections let go of theirs
    out += j.drain()
    assert len(out) == 10 and j.held() == 0 and j.unjoined == 10
    j = SshdJoiner()
    out = feed(j, [ev(1, line)] * (MAX_HELD + 5))
    assert len(out) == 5 and j.held() == MAX_HELD
