"""Sigma logsource -> which Vigil events a rule runs on.

A Sigma rule names the kind of log it was written for (`category: process_creation`,
`service: auditd`, `service: sshd` ...). Here each logsource becomes a `LogsourceRoute`:
the event sources and syscall event types the rule is indexed under, a guard condition
that every event must also pass (e.g. file_event: opened for writing, and the open
succeeded), and the key of the field-mapping table to use. A process_creation rule is
therefore never even evaluated on a network event.

auditd records are mapped onto syscall events per rule, through the audit rules the
Sigma rule assumes (`auditd.py`); the records auditd writes from user space whatever its
rules (`SERVICE_STOP`, `ADD_USER` ...) are in `AUDIT_RECORD_TYPES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from vigil.config_errors import ConfigError
from vigil.rules.sigma.auditd import AuditdSettings
from vigil.rules.ast import And, Compare, Const, FieldRef, ListValue, Node, Not, Or, Value

#: event source buckets: syscall events, and every log-derived source (auth, journal ...)
SYSCALL = "syscall"
LOG = "log"

EXEC_TYPES = frozenset({"execve", "execveat"})
OPEN_WRITE_TYPES = frozenset({"open", "openat", "openat2", "creat"})
#: outbound connections only: Sigma's network_connection is the client side (Sysmon's
#: "Initiated"); accept, bind and listen are a server's, never an outbound connection
CONNECT_TYPES = frozenset({"connect"})
def _cmp(field: str, op: str, value: str | tuple[str, ...] | None = None,
         arg: str | None = None) -> Compare:
    if value is None:
        return Compare(FieldRef(field, arg), op)
    if isinstance(value, tuple):
        return Compare(FieldRef(field, arg), op, ListValue(tuple(Value(v, True) for v in value)))
    return Compare(FieldRef(field, arg), op, Value(value, True))


_SUCCEEDED = Not(_cmp("evt.failed", "=", "true"))
#: a non-blocking connect returns EINPROGRESS and still connects (Falco's outbound macro)
_CONNECTED = Or((_cmp("evt.rawres", ">=", "0"), _cmp("evt.rawres", "=", "-115")))
#: a socket the sensor knows as a server's (a bound datagram socket that also connects)
#: does not make an outbound connection
_CLIENT_SIDE = Not(_cmp("fd.is_server", "=", "true"))
#: a connect to the unspecified address goes nowhere: the C library's getaddrinfo connects
#: a UDP socket to each address it sorts (RFC 6724), a server's own listen address "::"
#: or "0.0.0.0" included, and sends nothing (Falco's outbound macro leaves 0.0.0.0 out too)
_SOMEWHERE = Not(_cmp("fd.sip", "in", ("0.0.0.0", "::")))


@dataclass(frozen=True)
class LogsourceRoute:
    """Where a rule of one logsource runs, and what every event must also satisfy."""

    #: key of the field-mapping table (`process_creation`, `auditd`, `log` ...)
    table: str
    #: `SYSCALL` and/or `LOG`
    sources: frozenset[str]
    #: syscall event types (None: any); ignored for log events
    event_types: frozenset[str] | None
    guard: Node = Const(True)

    def applies(self, source: str, event_type: str) -> bool:
        """True when an event of this source and type is in the rule's logsource."""
        bucket = SYSCALL if source == SYSCALL else LOG
        if bucket not in self.sources:
            return False
        return bucket == LOG or self.event_types is None or event_type in self.event_types


_CATEGORY_ROUTES: dict[str, LogsourceRoute] = {
    "process_creation": LogsourceRoute("process_creation", frozenset({SYSCALL}), EXEC_TYPES,
                                       _SUCCEEDED),
    "file_event": LogsourceRoute("file_event", frozenset({SYSCALL}), OPEN_WRITE_TYPES,
                                 And((_cmp("evt.is_open_write", "=", "true"), _SUCCEEDED))),
    "network_connection": LogsourceRoute(
        "network_connection", frozenset({SYSCALL}), CONNECT_TYPES,
        And((_cmp("fd.type", "in", ("ipv4", "ipv6")), _CONNECTED, _CLIENT_SIDE, _SOMEWHERE))),
}

#: log services -> the program names that write their lines (None: any log line)
DEFAULT_SERVICE_PROGRAMS: dict[str, tuple[str, ...] | None] = {
    "sshd": ("sshd", "sshd-session", "sshd-auth"),
    "cron": ("cron", "crond", "CRON", "crontab"),
    "vsftpd": ("vsftpd",),
    "clamav": ("clamd", "freshclam", "clamscan", "clamdscan"),
    "guacamole": ("guacd", "guacamole"),
    "sudo": ("sudo",),
    "su": ("su", "su-l"),
    "auth": None,
    "syslog": None,
}


class UnsupportedLogsource(ValueError):
    """The rule's logsource has no Vigil events; the message says why."""


@dataclass(frozen=True)
class CustomLogsource:
    """A logsource defined in configuration (`[rules.sigma_logsources.<name>]`)."""

    name: str
    sources: frozenset[str]
    event_types: frozenset[str] | None

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any],
                  key_prefix: str = "rules.sigma_logsources") -> "CustomLogsource":
        """Parse `event_types = [...]` and `sources = ["syscall"|"log"]` (default syscall)."""
        key = f"{key_prefix}.{name}"
        unknown = set(d) - {"event_types", "sources"}
        if unknown:
            raise ConfigError(f"{key}.{sorted(unknown)[0]}", "unknown key (expected "
                              "event_types, sources)")
        sources = d.get("sources", [SYSCALL])
        if not isinstance(sources, list) or not sources or \
                any(s not in (SYSCALL, LOG) for s in sources):
            raise ConfigError(f"{key}.sources", 'expected a list of "syscall" and/or "log"')
        types = d.get("event_types")
        if types is not None and (not isinstance(types, list)
                                  or not all(isinstance(t, str) for t in types)):
            raise ConfigError(f"{key}.event_types", "expected a list of event type names")
        return cls(name, frozenset(sources), None if types is None else frozenset(types))


@dataclass(frozen=True)
class LogsourceRouter:
    """Resolves a rule's logsource to a `LogsourceRoute`."""

    custom: Mapping[str, CustomLogsource] = field(default_factory=dict)
    service_programs: Mapping[str, tuple[str, ...] | None] = field(
        default_factory=lambda: dict(DEFAULT_SERVICE_PROGRAMS))
    #: `[rules.sigma_auditd]`: the audit rules `service: auditd` rules assume
    auditd: AuditdSettings = field(default_factory=AuditdSettings)

    def route(self, category: str | None, product: str | None,
              service: str | None) -> LogsourceRoute:
        """The route for a logsource; raises `UnsupportedLogsource` with the reason."""
        if product not in (None, "linux"):
            raise UnsupportedLogsource(f"product {product!r} is not a Linux host")
        for name in (category, service):
            if name is not None and name in self.custom:
                c = self.custom[name]
                return LogsourceRoute(name, c.sources, c.event_types)
        if category is not None:
            hit = _CATEGORY_ROUTES.get(category)
            if hit is None:
                raise UnsupportedLogsource(f"category {category!r} has no Vigil events "
                                           "(define it under [rules.sigma_logsources])")
            return hit
        if service == "auditd":
            return LogsourceRoute("auditd", frozenset({SYSCALL}), None)
        if service is not None:
            if service not in self.service_programs:
                raise UnsupportedLogsource(f"service {service!r} has no Vigil events "
                                           "(define it under [rules.sigma_logsources])")
            programs = self.service_programs[service]
            guard: Node = Const(True) if programs is None else \
                _cmp("log.program", "in", tuple(programs))
            return LogsourceRoute("log", frozenset({LOG}), None, guard)
        # product only: the rule's keywords are searched in log lines and command lines
        return LogsourceRoute("log", frozenset({SYSCALL, LOG}), EXEC_TYPES)


# --- auditd records written from user space -------------------------------------------

@dataclass(frozen=True)
class AuditRecordRoute:
    """What an auditd record type is on Vigil's events: a condition (None: never seen)."""

    condition: Node | None
    note: str = ""


def _types(names: frozenset[str]) -> Compare:
    return _cmp("evt.type", "in", tuple(sorted(names)))


#: records that programs send to auditd themselves (systemd, shadow-utils, pam_tty_audit),
#: whatever the audit rules; the syscall records (SYSCALL, EXECVE, PATH ...) depend on the
#: audit rules and are in `auditd.RuleAudit`
AUDIT_RECORD_TYPES: dict[str, AuditRecordRoute] = {
    "SERVICE_STOP": AuditRecordRoute(
        And((_types(EXEC_TYPES), _cmp("audit.stopped_unit", "exists"))),
        "SERVICE_STOP is approximated by exec events of `systemctl stop <unit>` / "
        "`service <unit> stop`"),
    "ADD_USER": AuditRecordRoute(
        And((_types(EXEC_TYPES), _cmp("proc.name", "in", ("useradd", "adduser")))),
        "ADD_USER is approximated by exec events of useradd/adduser"),
    "TTY": AuditRecordRoute(None, "TTY records (pam_tty_audit keystrokes) are not collected"),
    "USER_TTY": AuditRecordRoute(None, "USER_TTY records (keystrokes) are not collected"),
}
