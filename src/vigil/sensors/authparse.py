"""Parse sshd, sudo and su log lines into `auth.*` events (pure functions, no I/O).

Two entry points share one message parser:
- `parse_syslog_line(line)` for a line of `/var/log/auth.log` or `/var/log/secure`
  (RFC 3164 `Mmm dd hh:mm:ss host prog[pid]: msg` or RFC 3339 `2023-11-14T00:20:42+01:00 ...`);
- `parse_message(program, pid, message, ts=..., hostname=...)` for a journal entry, whose
  fields arrive already split.

Every event has `source="auth"`, `type="auth.<kind>"` (see `KINDS`), `args` with the keys
the field registry exposes as `auth.*` (`user`, `src_ip`, `src_port`, `method`, `service`,
`target_user`, `command`, `tty`, `result`), `raw` = the original line and `proc` = the
logging program and pid.

The source address is always the LAST `from <ip> port <n>` of a line: sshd writes the user
name before the address, and a user name chosen by an attacker may contain a fake one.
Lines that are not about authentication return `None`.
"""

from __future__ import annotations

import ipaddress
import re
import time
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Callable

from vigil.events.model import Event, Process

#: Every kind this parser emits, with what it means. `result` is "failure" exactly for the
#: kinds that CrowdSec's sshd parser labels `ssh_failed-auth`.
KINDS: dict[str, str] = {
    "auth.ssh_failed": "Failed <method> for [invalid user] <user> from <ip> port <n>",
    "auth.ssh_invalid_user": "Invalid user <user> from <ip> port <n>",
    "auth.ssh_user_not_allowed": "User <user> from <ip> not allowed because ...",
    "auth.ssh_pam_failure": "pam_unix(sshd:auth) / PAM authentication failure for sshd",
    "auth.ssh_preauth_disconnect": "connection closed/reset/disconnected before auth",
    "auth.ssh_handshake_failed": "obfuscated handshake magic value check failed",
    "auth.ssh_accepted": "Accepted <method> for <user> from <ip> port <n>",
    "auth.ssh_disconnect": "an authenticated user disconnected",
    "auth.ssh_bad_kex": "Unable to negotiate (no common kex/hostkey/cipher/MAC)",
    "auth.ssh_auth_timeout": "Timeout before authentication",
    "auth.ssh_protocol_error": "ssh_dispatch_run_fatal (MAC error, bad packet ...)",
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

_FROM = r"(?P<ip>\S+) port (?P<port>\d+)"

# Each pattern is anchored at both ends and takes the user greedily, so that the address
# matched is the last `from <ip> port <n>` of the message.
_SSHD_PATTERNS: list[tuple[re.Pattern[str], str, dict[str, Any]]] = [
    (re.compile(rf"^Failed (?P<method>\S+) for (?P<inv>invalid user )?(?P<user>.*) from {_FROM}"
                r"(?: ssh\d?)?(?P<trail>: .*)?$"), "auth.ssh_failed", {"result": "failure"}),
    (re.compile(rf"^Accepted (?P<method>\S+) for (?P<user>.*) from {_FROM}"
                r"(?: ssh\d?)?(?P<trail>: .*)?$"), "auth.ssh_accepted", {"result": "success"}),
    (re.compile(rf"^Invalid user (?P<user>.*) from {_FROM}$"), "auth.ssh_invalid_user",
     {"result": "failure"}),
    (re.compile(r"^Invalid user (?P<user>.*) from (?P<ip>\S+)$"), "auth.ssh_invalid_user",
     {"result": "failure"}),
    (re.compile(r"^User (?P<user>.*) from (?P<ip>\S+) not allowed because (?P<reason>.*)$"),
     "auth.ssh_user_not_allowed", {"result": "failure"}),
    (re.compile(r"^(?:Connection closed by|Connection reset by|Disconnected from) "
                rf"(?P<who>authenticating|invalid) user (?P<user>.*) {_FROM} \[preauth\]$"),
     "auth.ssh_preauth_disconnect", {"result": "failure"}),
    (re.compile(rf"^(?:Connection closed by|Connection reset by|Disconnected from) {_FROM}"
                r" \[preauth\]$"), "auth.ssh_preauth_disconnect", {"result": "failure"}),
    (re.compile(rf"^Disconnected from user (?P<user>.*) {_FROM}$"), "auth.ssh_disconnect", {}),
    (re.compile(r"^Magic value check failed \(\d+\) on obfuscated handshake "
                rf"from {_FROM}$"), "auth.ssh_handshake_failed", {"result": "failure"}),
    (re.compile(rf"^Unable to negotiate with {_FROM}: (?P<reason>.*?)(?: \[preauth\])?\s*$"),
     "auth.ssh_bad_kex", {}),
    (re.compile(rf"^banner exchange: Connection from {_FROM}: (?P<reason>.*)$"),
     "auth.ssh_protocol_error", {}),
    (re.compile(rf"^fatal: Timeout before authentication for {_FROM}$"),
     "auth.ssh_auth_timeout", {}),
    (re.compile(rf"^ssh_dispatch_run_fatal: Connection from (?:(?P<who>authenticating|invalid) "
                rf"user (?P<user>.*) )?{_FROM}: (?P<reason>.*?)(?: \[preauth\])?$"),
     "auth.ssh_protocol_error", {}),
    (re.compile(r"^refused connect from (?P<host>.*) \((?P<ip>[^()\s]+)\)$"), "auth.ssh_refused",
     {}),
]

# pam_unix and friends: "pam_unix(sshd:auth): authentication failure; logname= uid=0 ..."
_PAM_AUTH_FAIL = re.compile(r"^pam_(?P<module>\w+)\((?P<svc>[\w-]+):auth\): "
                            r"authentication failure;(?P<kv>.*)$")
_PAM_SESSION = re.compile(r"^pam_\w+\((?P<svc>[\w-]+):session\): session (?P<what>opened|closed) "
                          r"for user (?P<user>[^(\s]+)(?:\(uid=\d+\))?(?: by (?P<by>[^(\s]*))?")
_PAM_KV = re.compile(r"(\w+)=(\S*)")
_SSHD_PAM_ERROR = re.compile(r"^error: PAM: Authentication failure for (?:illegal user )?"
                             r"(?P<user>.*) from (?P<ip>\S+)$")

# sudo: "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id"
#       "alice : 3 incorrect password attempts ; TTY=pts/0 ; ... ; COMMAND=/bin/sh"
_SUDO = re.compile(r"^\s*(?P<user>\S+) : (?P<rest>.*)$")
# su (shadow-utils / util-linux): "(to root) alice on pts/0", "FAILED SU (to root) alice on pts/0"
_SU = re.compile(r"^(?P<failed>FAILED SU )?\(to (?P<target>[^)]*)\) (?P<user>\S+) on (?P<tty>\S+)$")

_SYSLOG_3164 = re.compile(r"^(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d) "
                          r"(?P<host>\S+) (?P<rest>.*)$")
_SYSLOG_3339 = re.compile(r"^(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?"
                          r"(?:Z|[+-]\d\d:?\d\d)?) (?P<host>\S+) (?P<rest>.*)$")
_PROGRAM = re.compile(r"^(?P<prog>[\w./-]+)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$", re.S)
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def parse_syslog_line(line: str, *, now: float | None = None,
                      tz: tzinfo | None = None) -> Event | None:
    """Parse one auth-log line; `None` when it is not an authentication line we know.

    A RFC 3164 stamp has no year: it is taken from `now` (seconds since the epoch, default
    the wall clock), minus one year when that would put the line more than a day in the
    future (a December line read in January). `tz` is the zone of such stamps (default
    the host's local zone).
    """
    line = line.rstrip("\r\n")
    head = _split_header(line, now, tz)
    if head is None:
        return None
    ts, host, rest = head
    m = _PROGRAM.match(rest)
    if m is None:
        return None
    pid = int(m["pid"]) if m["pid"] else None
    return parse_message(m["prog"], pid, m["msg"], ts=ts, hostname=host, raw=line)


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
    parsed = parser(message)
    if parsed is None:
        return None
    kind, args = parsed
    if raw is None:
        raw = f"{prog}[{pid}]: {message}" if pid is not None else f"{prog}: {message}"
    clean = {k: v for k, v in args.items() if v is not None and v != ""}
    return Event(type=kind, ts=ts, source="auth", args=clean,
                 proc=Process(name=prog[:15], pid=pid),
                 hostname=hostname, raw=raw)


def _parser_for(prog: str) -> Callable[[str], tuple[str, dict[str, Any]] | None] | None:
    if prog in SSHD_PROGRAMS:
        return _parse_sshd
    if prog in SUDO_PROGRAMS:
        return _parse_sudo
    if prog in SU_PROGRAMS:
        return _parse_su
    return None


def _split_header(line: str, now: float | None,
                  tz: tzinfo | None) -> tuple[int, str, str] | None:
    m = _SYSLOG_3164.match(line)
    if m is not None:
        month = _MONTHS.get(m["mon"])
        if month is None:
            return None
        return _ts_3164(month, int(m["day"]), m["hms"], now, tz), m["host"], m["rest"]
    m = _SYSLOG_3339.match(line)
    if m is not None:
        try:
            dt = datetime.fromisoformat(m["iso"].replace("Z", "+00:00"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=tz) if tz is not None else dt.astimezone()
        return _to_ns(dt), m["host"], m["rest"]
    return None


def _ts_3164(month: int, day: int, hms: str, now: float | None, tz: tzinfo | None) -> int:
    now_s = time.time() if now is None else now
    ref = datetime.fromtimestamp(now_s, tz or timezone.utc).astimezone(tz)
    hh, mm, ss = (int(x) for x in hms.split(":"))
    for year in (ref.year, ref.year - 1):
        try:
            naive = datetime(year, month, day, hh, mm, ss)
        except ValueError:  # Feb 29 in a year without it
            continue
        dt = naive.replace(tzinfo=tz) if tz is not None else naive.astimezone()
        if dt <= ref + timedelta(days=1):
            return _to_ns(dt)
    return 0


def _to_ns(dt: datetime) -> int:
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000


def _address(ip: str | None, port: str | None = None) -> dict[str, Any]:
    """`src_ip` when the text is an address, else `src_host` (sshd with UseDNS)."""
    out: dict[str, Any] = {}
    if ip:
        text = ip[7:] if ip.startswith("::ffff:") and "." in ip else ip
        try:
            out["src_ip"] = str(ipaddress.ip_address(text))
        except ValueError:
            out["src_host"] = ip
    if port:
        out["src_port"] = int(port)
    return out


def _parse_sshd(msg: str) -> tuple[str, dict[str, Any]] | None:
    for pattern, kind, extra in _SSHD_PATTERNS:
        m = pattern.match(msg)
        if m is None:
            continue
        g = m.groupdict()
        args: dict[str, Any] = {"service": "sshd", **extra, **_address(g.get("ip"), g.get("port"))}
        if g.get("user") is not None:
            args["user"] = g["user"]
        if g.get("method"):
            args["method"] = g["method"]
        if g.get("inv") or g.get("who") == "invalid" or kind == "auth.ssh_invalid_user":
            args["invalid_user"] = True
        if g.get("reason"):
            args["reason"] = g["reason"]
        if kind == "auth.ssh_refused" and g.get("host"):
            args["src_host"] = g["host"]
        if g.get("trail"):
            args["key"] = g["trail"][2:]
        return kind, args
    m = _SSHD_PAM_ERROR.match(msg)
    if m is not None:
        return "auth.ssh_pam_failure", {"service": "sshd", "result": "failure",
                                        "user": m["user"], **_address(m["ip"])}
    return _parse_pam(msg, "sshd")


def _parse_pam(msg: str, service: str) -> tuple[str, dict[str, Any]] | None:
    m = _PAM_AUTH_FAIL.match(msg)
    if m is not None:
        kv = dict(_PAM_KV.findall(m["kv"]))
        args: dict[str, Any] = {"service": service, "result": "failure", "user": kv.get("user"),
                                "tty": kv.get("tty"), "pam_module": m["module"],
                                **_address(kv.get("rhost"))}
        if service == "sshd":
            return "auth.ssh_pam_failure", args
        # sudo/su: `ruser` (or logname) is who typed the password, `user` whom they wanted
        args["target_user"] = args.pop("user")
        args["user"] = kv.get("ruser") or kv.get("logname")
        return ("auth.su_failed" if service == "su" else "auth.sudo_auth_failed"), args
    m = _PAM_SESSION.match(msg)
    if m is not None:
        by = m["by"] or None
        args = {"service": service, "target_user": m["user"], "user": by}
        return f"auth.session_{m['what']}", args
    return None


def _parse_sudo(msg: str) -> tuple[str, dict[str, Any]] | None:
    pam = _parse_pam(msg, "sudo")
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


def _parse_su(msg: str) -> tuple[str, dict[str, Any]] | None:
    pam = _parse_pam(msg, "su")
    if pam is not None:
        return pam
    m = _SU.match(msg)
    if m is not None:
        failed = bool(m["failed"])
        return ("auth.su_failed" if failed else "auth.su"), {
            "service": "su", "user": m["user"], "target_user": m["target"], "tty": m["tty"],
            "result": "failure" if failed else "success"}
    return None
