"""sshd's messages (OpenSSH 3.x to 9.x, `sshd`, `sshd-session`, `sshd-auth`) -> `auth.*`
kinds and arguments. Pure functions; `vigil.sensors.authparse` adds the header parts.

Our own patterns, written from OpenSSH's source and real logs (see docs/auth-sensors.md
for the wording each kind covers). Two rules keep an attacker from steering them:

- The client chooses the user name, and sshd writes it *before* the address, so a pattern
  takes the user greedily and is anchored at the end: the address is the last one on the
  line (`Invalid user x from 10.9.9.9 port 22 from 192.0.2.5 port 7000` is 192.0.2.5).
- In `Failed`/`Accepted` lines, text after the address (`ssh2: <key>`, hostbased `client
  user "..."`) may also be the client's: the address is the last `from <ip> [port <n>]
  [ssh2]` that is followed by `: `, `[preauth]` or the end of the line, preferring one
  with a port.

Messages without an address (`Disconnecting: Too many authentication failures`,
`kex_exchange_identification: ...`) still give an event; `vigil.sensors.sshd_join` fills
in the address from another line of the same sshd process.
"""

from __future__ import annotations

import re
from typing import Any

from vigil.sensors.peer_address import address_args

Parsed = tuple[str, dict[str, Any]]

#: `error: `, `fatal: ` (sshd's log level words) in front of a message
_LEVEL = re.compile(r"^(?:error|fatal|warning|debug\d?): ")
_PRE = r"(?P<preauth> \[preauth\])?\s*$"
_PORT = r"(?: port (?P<port>\d+))?"
_INV = r"(?:(?P<inv>invalid|illegal) user )?"
#: an address as sshd writes it (never bracketed, so `[preauth]` is not one)
_IP = r"(?P<ip>[^\s\[\]]+)"
_IP_LAZY = r"(?P<ip>[^\s\[\]]+?)"

_VERDICT = re.compile(r"^(?P<verb>Failed|Accepted) (?P<method>\S+) for " + _INV + r"(?P<rest>.*)$",
                      re.S)
_FROM_CANDIDATE = re.compile(r" from " + _IP_LAZY + _PORT + r"(?: on \S+(?: port \d+)?)?"
                             r"(?: ssh\d?)?(?=: |\s*\[preauth\]\s*$|\s*$)")
_SOLARIS_NO_USER = "<invalid username>"

# (pattern, kind, constant arguments); tried in order, the first match wins
_TABLE: list[tuple[re.Pattern[str], str, dict[str, Any]]] = [(re.compile(p, re.S), k, a) for p, k, a in (
    (r"^[Ii](?:nvalid|llegal) user(?: (?P<user>.*))? from " + _IP + _PORT + _PRE,
     "auth.ssh_invalid_user", {"result": "failure", "invalid_user": True}),
    (r"^User (?P<user>.*?) from " + _IP + _PORT + r" not allowed because (?P<reason>.+?)"
     + _PRE, "auth.ssh_user_not_allowed", {"result": "failure"}),
    (r"^User (?P<user>.*) not allowed because (?P<reason>.+?)" + _PRE,
     "auth.ssh_user_not_allowed", {"result": "failure"}),
    (r"^ROOT LOGIN REFUSED FROM " + _IP_LAZY + _PORT + _PRE, "auth.ssh_user_not_allowed",
     {"result": "failure", "user": "root", "reason": "ROOT LOGIN REFUSED"}),
    (r"^(?:PAM: )?[Aa]uthentication (?:failure|error|failed) for " + _INV
     + r"(?P<user>.*) from " + _IP + r"(?: via \S+)?" + _PORT + r"(?: ssh\d?)?" + _PRE,
     "auth.ssh_pam_failure", {"result": "failure"}),
    (r"^(?:PAM: )?User not known to the underlying authentication module for " + _INV
     + r"(?P<user>.*) from " + _IP + _PORT + _PRE, "auth.ssh_pam_failure",
     {"result": "failure", "invalid_user": True}),
    (r"^maximum authentication attempts exceeded for " + _INV + r"(?P<user>.*) from " + _IP
     + _PORT + r"(?: ssh\d?)?" + _PRE, "auth.ssh_too_many_failures", {"result": "failure"}),
    (r"^Disconnecting (?P<who>invalid|authenticating) user (?P<user>.*) " + _IP + r" port "
     r"(?P<port>\d+): Too many authentication failures" + _PRE, "auth.ssh_too_many_failures",
     {"result": "failure"}),
    (r"^Disconnecting: Too many authentication failures(?: for " + _INV + r"(?P<user>.+?))?"
     + _PRE, "auth.ssh_too_many_failures", {"result": "failure"}),
    # the user switching names mid-authentication: its first name is in the tuple again
    (r"^Disconnecting (?P<who>invalid|authenticating) user (?P<user>.*) " + _IP + r" port "
     r"(?P<port>\d+): (?P<reason>Change of username or service not allowed): "
     r"\((?P=user),.*\) -> \(.*\)" + _PRE, "auth.ssh_preauth_disconnect", {"result": "failure"}),
    (r"^Disconnecting: (?P<reason>Change of username or service not allowed): "
     r"\((?P<user>[^,]*),.*\)" + _PRE, "auth.ssh_preauth_disconnect", {"result": "failure"}),
    (r"^(?:Connection closed by|Connection reset by|Disconnected from) (?P<who>authenticating"
     r"|invalid) user (?P<user>.*) " + _IP + r" port (?P<port>\d+)" + _PRE,
     "auth.ssh_preauth_disconnect", {"result": "failure"}),
    (r"^(?:Connection closed by|Connection reset by|Disconnected from) " + _IP + _PORT
     + r"(?P<preauth> \[preauth\])\s*$", "auth.ssh_preauth_disconnect", {"result": "failure"}),
    (r"^(?:Connection closed by|Connection reset by|Disconnected from) " + _IP + _PORT
     + r"\s*$", "auth.ssh_connection_closed", {}),
    (r"^Disconnected from user (?P<user>.*) " + _IP + r" port (?P<port>\d+)\s*$",
     "auth.ssh_disconnect", {}),
    (r"^Received disconnect from " + _IP_LAZY + _PORT + r": ?(?P<code>\d{1,9}): ?"
     r"(?P<reason>.*?)" + _PRE, "auth.ssh_received_disconnect", {}),
    (r"^Magic value check failed \(\d+\) on obfuscated handshake from " + _IP + _PORT
     + r"\s*$", "auth.ssh_handshake_failed", {"result": "failure"}),
    (r"^Unable to negotiate with " + _IP_LAZY + _PORT + r": (?P<reason>.*?)" + _PRE,
     "auth.ssh_bad_kex", {}),
    (r"^Unable to negotiate an? (?P<reason>[\w ]+?)" + _PRE, "auth.ssh_bad_kex", {}),
    (r"^(?P<reason>no matching [\w ]+? found)(?:[:.] .*?)?" + _PRE, "auth.ssh_bad_kex", {}),
    (r"^Timeout before authentication for (?:connection from )?(?P<ip>[^\s,]+?)" + _PORT
     + r"(?: to \S+, pid = \d+)?\s*$", "auth.ssh_auth_timeout", {}),
    (r"^ssh_dispatch_run_fatal: Connection from (?:(?P<who>authenticating|invalid) user "
     r"(?P<user>.*) )?" + _IP + r" port (?P<port>\d+): (?P<reason>.*?)" + _PRE,
     "auth.ssh_protocol_error", {}),
    (r"^banner exchange: Connection from " + _IP + r" port (?P<port>\d+): (?P<reason>.*?)"
     + _PRE, "auth.ssh_protocol_error", {}),
    (r"^(?P<reason>Bad protocol version identification) '(?P<ident>.*)'(?: from)? "
     r"" + _IP + _PORT + _PRE, "auth.ssh_protocol_error", {}),
    (r"^(?P<reason>Did not receive identification string) from " + _IP + _PORT + r"\s*$",
     "auth.ssh_protocol_error", {}),
    (r"^(?P<reason>Protocol major versions differ) for " + _IP_LAZY + _PORT + r": .*$",
     "auth.ssh_protocol_error", {}),
    (r"^kex_exchange_identification: (?P<reason>.*?)" + _PRE, "auth.ssh_protocol_error", {}),
    (r"^(?P<reason>Read from socket failed: .*?)" + _PRE, "auth.ssh_protocol_error", {}),
    (r"^refused connect from (?P<host>.*) \((?P<ip>[^()\s]+)\)\s*$", "auth.ssh_refused", {}),
    (r"^Connection from " + _IP + _PORT + r"(?: on \S+ port \d+)?(?: rdomain .*)?\s*$",
     "auth.ssh_connection", {}),
    (r"^SSH: Server;Ltype: \w+;Remote: (?P<ip>[^;\s]+)-(?P<port>\d+);.*$",
     "auth.ssh_connection", {}),
)]


#: the first word each pattern of `_TABLE` can start with, in the table's order: a message
#: is tried against the few patterns of its first word only
_FIRST_WORDS: list[tuple[str, ...]] = [
    ("Invalid", "Illegal", "invalid", "illegal"), ("User",), ("User",), ("ROOT",),
    ("PAM:", "Authentication", "authentication"), ("PAM:", "User"), ("maximum",),
    ("Disconnecting",), ("Disconnecting:",), ("Disconnecting",), ("Disconnecting:",),
    ("Connection", "Disconnected"), ("Connection", "Disconnected"),
    ("Connection", "Disconnected"), ("Disconnected",), ("Received",), ("Magic",), ("Unable",),
    ("Unable",), ("no",), ("Timeout",), ("ssh_dispatch_run_fatal:",), ("banner",), ("Bad",),
    ("Did",), ("Protocol",), ("kex_exchange_identification:",), ("Read",), ("refused",),
    ("Connection",), ("SSH:",),
]
assert len(_FIRST_WORDS) == len(_TABLE)
_BY_FIRST_WORD: dict[str, list[tuple[re.Pattern[str], str, dict[str, Any]]]] = {}
for _words, _entry in zip(_FIRST_WORDS, _TABLE):
    for _word in _words:
        _BY_FIRST_WORD.setdefault(_word, []).append(_entry)


def parse_sshd(msg: str) -> Parsed | None:
    """(kind, args) of one sshd message (without header), or None if it is not one we
    know. PAM lines under sshd are `vigil.sensors.pam_messages`' job."""
    m = _LEVEL.match(msg)
    if m is not None:
        msg = msg[m.end():]
    if msg.startswith(("Failed ", "Accepted ")):
        return _parse_verdict(msg)
    for pattern, kind, extra in _BY_FIRST_WORD.get(msg.split(" ", 1)[0], ()):
        m = pattern.match(msg)
        if m is not None:
            return kind, _args(m.groupdict(), kind, extra)
    return None


def _args(g: dict[str, Any], kind: str, extra: dict[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {"service": "sshd", **extra, **address_args(g.get("ip"), g.get("port"))}
    if g.get("user") is not None and "user" not in extra:
        args["user"] = g["user"]
    if g.get("inv") or g.get("who") == "invalid":
        args["invalid_user"] = True
    if g.get("reason") and "reason" not in extra:
        args["reason"] = g["reason"]
    if g.get("preauth"):
        args["preauth"] = True
    if g.get("host") and kind == "auth.ssh_refused":
        args["src_host"] = g["host"]
    if g.get("ident") is not None:
        args["client_version"] = g["ident"]
    if g.get("code") is not None:
        args.update(_disconnect_args(int(g["code"]), args.get("reason", "")))
    return args


def _disconnect_args(code: int, reason: str) -> dict[str, Any]:
    """`Received disconnect` codes (RFC 4253 11.1): 14 is "no more authentication methods"
    (the client gave up after failing), and Java's JSch sends 3 with "Auth fail"."""
    out: dict[str, Any] = {"reason_code": code}
    if code == 14 or (code == 3 and "auth fail" in reason.lower()):
        out["result"] = "failure"
    return out


def _parse_verdict(msg: str) -> Parsed | None:
    """`Failed|Accepted <method> for [invalid user ]<user> from <ip> [port <n>] [ssh2][: <info>]`."""
    m = _VERDICT.match(msg)
    if m is None:
        return None
    rest = m["rest"]
    chosen = None
    for cand in _FROM_CANDIDATE.finditer(rest):
        if chosen is None or cand["port"] is not None or chosen["port"] is None:
            chosen = cand
    if chosen is None:
        return None
    user: str | None = rest[:chosen.start()]
    invalid = bool(m["inv"])
    if user == _SOLARIS_NO_USER:
        user, invalid = None, True
    accepted = m["verb"] == "Accepted"
    args: dict[str, Any] = {"service": "sshd", "result": "success" if accepted else "failure",
                            **address_args(chosen["ip"], chosen["port"]),
                            "user": user, "method": m["method"]}
    if invalid:
        args["invalid_user"] = True
    tail = rest[chosen.end():]
    if tail.rstrip().endswith("[preauth]"):
        args["preauth"] = True
        tail = tail.rstrip()[:-len("[preauth]")].rstrip()
    if tail.startswith(": "):
        args["key"] = tail[2:]
    return ("auth.ssh_accepted" if accepted else "auth.ssh_failed"), args

