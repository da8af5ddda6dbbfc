"""Parse sshd, sudo and su log lines into `auth.*` events (pure functions, no I/O).

Two entry points share one message parser:
- `parse_syslog_line(line)` for a line of `/var/log/auth.log` or `/var/log/secure` (every
  header `vigil.sensors.syslog_header` knows: RFC 3164, RFC 3339, RFC 5424, ...);
- `parse_message(program, pid, message, ts=..., hostname=...)` for a journal entry, whose
  fields arrive already split.

Every event has `source="auth"`, `type="auth.<kind>"` (see `KINDS`), `args` with the keys
the field registry exposes as `auth.*` (`user`, `src_ip`, `src_port`, `method`, `service`,
`target_user`, `command`, `tty`, `result`) and a few more (docs/auth-sensors.md), `raw` =
the original line and `proc` = the logging program and pid.

The message parsers live beside this module: `sshd_messages` (sshd), `pam_messages` (PAM
under any service); sudo and su are here. A syslog daemon's `message repeated N times: [
...]` is unfolded: the inner message is parsed and `args["repeat"] = N`. Lines that are not
about authentication return `None`.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Any, Callable

from vigil.events.model import Event, Process
from vigil.sensors.pam_messages import parse_pam
from vigil.sensors.sshd_messages import parse_sshd
from vigil.sensors.syslog_header import split_syslog_line

#: Every kind this parser emits, with what it means. `result` is "failure" for the lines
#: that report a failed authentication (CrowdSec's `ssh_failed-auth`), "success" for logins.
KINDS: dict[str, str] = {
    "auth.ssh_failed": "Failed <method> for [invalid user] <user> from <ip> [port <n>] [ssh2]",
    "auth.ssh_invalid_user": "Invalid|Illegal user <user> from <ip> [port <n>]",
    "auth.ssh_user_not_allowed": "User <user> [from <ip>] not allowed because ...; "
                                 "ROOT LOGIN REFUSED FROM <ip>",
    "auth.ssh_pam_failure": "pam_*(sshd:auth): authentication failure; [PAM: ]Authentication "
                            "failure|error for <user> from <host>; User not known to the "
                            "underlying authentication module",
    "auth.ssh_too_many_failures": "maximum authentication attempts exceeded; Disconnecting "
                                  "...: Too many authentication failures",
    "auth.ssh_preauth_disconnect": "a connection closed, reset or disconnected before "
                                   "authentication ([preauth]), with or without a user",
    "auth.ssh_received_disconnect": "Received disconnect from <ip> [port <n>]:<code>: <text>",
    "auth.ssh_handshake_failed": "obfuscated handshake magic value check failed",
    "auth.ssh_accepted": "Accepted <method> for <user> from <ip> port <n>",
    "auth.ssh_disconnect": "an authenticated user disconnected",
    "auth.ssh_connection_closed": "Connection closed|reset by <ip> [port <n>] (no [preauth])",
    "auth.ssh_connection": "Connection from <ip> port <n> (LogLevel VERBOSE)",
    "auth.ssh_bad_kex": "Unable to negotiate (no common kex/hostkey/cipher/MAC)",
    "auth.ssh_auth_timeout": "Timeout before authentication",
    "auth.ssh_protocol_error": "no identification string, bad banner or protocol version, "
                               "kex_exchange_identification, ssh_dispatch_run_fatal",
    "auth.ssh_refused": "refused connect (tcp wrappers)",
    "auth.sudo_command": "sudo ran a command",
    "auth.sudo_auth_failed": "sudo authentication failure (wrong password)",
    "auth.sudo_denied": "sudo refused (user not in sudoers / command not allowed)",
    "auth.su": "su switched user",
    "auth.su_failed": "su authentication failure",
    "auth.session_opened": "PAM session opened (sshd, sudo, su, ...)",
    "auth.session_closed": "PAM session closed",
}

#: Programs whose lines are parsed; the sshd variants share one parser.
SSHD_PROGRAMS = frozenset({"sshd", "sshd-session", "sshd-auth"})
SUDO_PROGRAMS = frozenset({"sudo"})
SU_PROGRAMS = frozenset({"su", "su-l"})
PROGRAMS = SSHD_PROGRAMS | SUDO_PROGRAMS | SU_PROGRAMS

#: rsyslog/syslog-ng fold identical consecutive lines into one of these
_REPEATED = re.compile(r"^message repeated (?P<n>\d{1,9}) times: \[ ?(?P<msg>.*)\]\s*$", re.S)

# sudo: "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id"
#       "alice : 3 incorrect password attempts ; TTY=pts/0 ; ... ; COMMAND=/bin/sh"
_SUDO = re.compile(r"^\s*(?P<user>\S+) : (?P<rest>.*)$", re.S)
# su (shadow-utils / util-linux): "(to root) alice on pts/0", "FAILED SU (to root) alice on pts/0"
_SU = re.compile(r"^(?P<failed>FAILED SU )?\(to (?P<target>[^)]*)\) (?P<user>\S+) on (?P<tty>\S+)$")

Parsed = tuple[str, dict[str, Any]]


def parse_syslog_line(line: str, *, now: float | None = None,
                      tz: tzinfo | None = None) -> Event | None:
    """Parse one auth-log line; `None` when it is not an authentication line we know.

    A RFC 3164 stamp has no year: it is taken from `now` (seconds since the epoch, default
    the wall clock), minus one year when that would put the line more than a day in the
    future (a December line read in January). `tz` is the zone of stamps that carry none
    (default the host's local zone).
    """
    line = line.rstrip("\r\n")
    head = split_syslog_line(line, now=now, tz=tz)
    if head is None:
        return None
    return parse_message(head.program, head.pid, head.message, ts=head.ts,
                         hostname=head.host, raw=line)


def parse_message(program: str, pid: int | None, message: str, *, ts: int = 0,
                  hostname: str | None = None, raw: str | None = None) -> Event | None:
    """Parse the message part of a log entry from `program` (sshd, sshd-session, sudo, su).

    `ts` is in ns since the epoch. `raw` defaults to `program[pid]: message`.
    """
    prog = program.rsplit("/", 1)[-1]
    parser = _parser_for(prog)
    if parser is None:
        return None
    message = message.rstrip("\r\n")
    repeat = None
    m = _REPEATED.match(message)
    if m is not None:
        repeat, message = int(m["n"]), m["msg"]
    parsed = parser(message)
    if parsed is None:
        return None
    kind, args = parsed
    if repeat is not None:
        args["repeat"] = repeat
    if raw is None:
        raw = f"{prog}[{pid}]: {message}" if pid is not None else f"{prog}: {message}"
    clean = {k: v for k, v in args.items() if v is not None and v != ""}
    return Event(type=kind, ts=ts, source="auth", args=clean,
                 proc=Process(name=prog[:15], pid=pid),
                 hostname=hostname, raw=raw)


def _parser_for(prog: str) -> Callable[[str], Parsed | None] | None:
    if prog in SSHD_PROGRAMS:
        return _parse_sshd
    if prog in SUDO_PROGRAMS:
        return _parse_sudo
    if prog in SU_PROGRAMS:
        return _parse_su
    return None


def _parse_sshd(msg: str) -> Parsed | None:
    return parse_sshd(msg) or parse_pam(msg, "sshd")


def _parse_sudo(msg: str) -> Parsed | None:
    pam = parse_pam(msg, "sudo")
    if pam is not None:
        return pam
    m = _SUDO.match(msg)
    if m is None:
        return None
    parts = [p.strip() for p in m["rest"].split(" ; ")]
    kv: dict[str, str] = {}
    reason = None
    for i, part in enumerate(parts):
        key, eq, value = part.partition("=")
        if eq and key.isupper() and key.isalpha():
            # COMMAND is last and may itself contain " ; ": keep the rest of the line
            if key == "COMMAND":
                kv[key] = " ; ".join([value, *parts[i + 1:]])
                break
            kv[key] = value
        elif i == 0:
            reason = part
    if "COMMAND" not in kv and "TTY" not in kv:
        return None
    args: dict[str, Any] = {"service": "sudo", "user": m["user"], "tty": kv.get("TTY"),
                            "cwd": kv.get("PWD"), "target_user": kv.get("USER") or "root",
                            "command": kv.get("COMMAND")}
    if reason is None:
        return "auth.sudo_command", {**args, "result": "success"}
    args["reason"] = reason
    low = reason.lower()
    if "password" in low or "authentication" in low:
        return "auth.sudo_auth_failed", {**args, "result": "failure"}
    return "auth.sudo_denied", {**args, "result": "failure"}


def _parse_su(msg: str) -> Parsed | None:
    pam = parse_pam(msg, "su")
    if pam is not None:
        return pam
    m = _SU.match(msg)
    if m is not None:
        failed = bool(m["failed"])
        return ("auth.su_failed" if failed else "auth.su"), {
            "service": "su", "user": m["user"], "target_user": m["target"], "tty": m["tty"],
            "result": "failure" if failed else "success"}
    return None
