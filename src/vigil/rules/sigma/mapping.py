"""Sigma field names -> Vigil registry fields, per logsource (declarative tables).

Sigma rules name fields in Sigma's taxonomy (`Image`, `CommandLine`, `TargetFilename`,
auditd's `a0` ...); Vigil's events are read through the field registry
(`vigil.events.fields.DEFAULT_FIELDS`, Falco names). The tables below say which registry
field stands for which Sigma field in each logsource. They are data, not code: the
translator looks fields up here and never special-cases a name, and configuration can
override or extend them (`SigmaFieldMapping.with_overrides`).

A table target is a registry field as a condition names it: `proc.exepath`,
`proc.argv[1]`, `audit.syscall_arg[0]`.

auditd's `a0`..`a7` mean different things in different records: argv entries in an
`EXECVE` record, raw syscall arguments in a `SYSCALL` record. The `auditd.EXECVE` and
`auditd.SYSCALL` tables hold those record-specific names; the translator picks the table
from the `type` values of the same selection (see `translate.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from vigil.config_errors import ConfigError
from vigil.events.fields import DEFAULT_FIELDS, FieldRegistry, UnknownFieldError
from vigil.rules.ast import FieldRef

#: The full-text field that keyword (field-less) detection values search.
TEXT_FIELD = "evt.text"

_PROCESS = {
    "Image": "proc.exepath",
    # argv joined, as Sysmon and auditd's EXECVE record show it (not the 15-character comm)
    "CommandLine": "proc.exeline",
    "ParentImage": "proc.pexepath",
    "ParentCommandLine": "proc.pexeline",
    "User": "user.name",
    "CurrentDirectory": "proc.cwd",
    "LogonId": "user.loginuid",
    "ProcessId": "proc.pid",
    "ParentProcessId": "proc.ppid",
    "OriginalFileName": "proc.name",
}

#: Default mapping tables: logsource key -> Sigma field -> registry field.
DEFAULT_TABLES: dict[str, dict[str, str]] = {
    "process_creation": dict(_PROCESS),
    "file_event": {
        "TargetFilename": "fd.name",
        "Image": "proc.exepath",
        "CommandLine": "proc.exeline",
        "User": "user.name",
        "ProcessId": "proc.pid",
    },
    "network_connection": {
        "DestinationIp": "fd.sip",
        "DestinationPort": "fd.sport",
        "SourceIp": "fd.cip",
        "SourcePort": "fd.cport",
        "Initiated": "fd.initiated",
        "Protocol": "fd.l4proto",
        "Image": "proc.exepath",
        "CommandLine": "proc.exeline",
        "User": "user.name",
        "ProcessId": "proc.pid",
    },
    "auditd": {
        "exe": "proc.exepath",
        "comm": "proc.name",
        "SYSCALL": "evt.type",
        "syscall": "evt.type",
        "name": "audit.path",
        "nametype": "audit.nametype",
        "unit": "audit.stopped_unit",
        "uid": "user.uid",
        "euid": "user.euid",
        "auid": "user.loginuid",
        "gid": "group.gid",
        "pid": "proc.pid",
        "ppid": "proc.ppid",
        "cwd": "proc.cwd",
        "tty": "proc.tty",
        **{f"a{i}": f"proc.argv[{i}]" for i in range(8)},
    },
    "auditd.EXECVE": {f"a{i}": f"proc.argv[{i}]" for i in range(8)},
    # a SYSCALL record prints the first four argument registers
    "auditd.SYSCALL": {f"a{i}": f"audit.syscall_arg[{i}]" for i in range(4)},
    # log services (sshd, cron, syslog ...) and rules with only a product: raw text only
    "log": {"program": "log.program", "hostname": "evt.hostname"},
}

#: Sigma fields that no Vigil sensor fills, per logsource, and why: a comparison on one is
#: never true (as on a log without the field), and a rule that needs one is reported
#: unsupported with the reason. A `[rules.sigma_fields]` entry for the field wins.
UNAVAILABLE: dict[str, dict[str, str]] = {
    "network_connection": {
        "DestinationHostname": (
            "DestinationHostname: no Vigil sensor reports the host name a connection was "
            "made to (the kernel sees an address; DNS answers are not collected, so an "
            "address cannot be tied to a name)"),
    },
}

_TARGET_RE = re.compile(r"^([A-Za-z_][\w.]*)(?:\[([^\]]+)\])?$")


def parse_target(text: str, registry: FieldRegistry = DEFAULT_FIELDS) -> FieldRef:
    """A table target (`proc.argv[1]`) as a `FieldRef`, checked against the registry.

    Raises `ValueError` with the reason when the field is malformed or unknown.
    """
    m = _TARGET_RE.match(text.strip())
    if m is None:
        raise ValueError(f"not a field name: {text!r}")
    name, arg = m.group(1), m.group(2)
    try:
        _fdef, resolved_arg = registry.resolve(name, arg)
    except UnknownFieldError as exc:
        raise ValueError(str(exc).strip("'\"")) from None
    if resolved_arg is not None and arg is None:
        # dotted argument form (`evt.arg.flags`): keep it as the registry resolved it
        name = name[: -len(resolved_arg) - 1]
        arg = resolved_arg
    return FieldRef(name, arg)


@dataclass(frozen=True)
class SigmaFieldMapping:
    """Per-logsource tables of Sigma field -> registry `FieldRef`, validated once."""

    tables: Mapping[str, Mapping[str, FieldRef]]
    registry: FieldRegistry = field(default=DEFAULT_FIELDS, compare=False)

    @classmethod
    def from_tables(cls, tables: Mapping[str, Mapping[str, str]],
                    registry: FieldRegistry = DEFAULT_FIELDS) -> "SigmaFieldMapping":
        """Build from plain `{logsource: {SigmaField: "registry.field"}}` tables."""
        built: dict[str, dict[str, FieldRef]] = {}
        for source, table in tables.items():
            built[source] = {}
            for sigma_field, target in table.items():
                try:
                    built[source][sigma_field] = parse_target(target, registry)
                except ValueError as exc:
                    raise ConfigError(f"rules.sigma_fields.{source}.{sigma_field}",
                                      str(exc)) from None
        return cls(built, registry)

    @classmethod
    def default(cls) -> "SigmaFieldMapping":
        """The built-in tables (`DEFAULT_TABLES`)."""
        return _DEFAULT

    def with_overrides(self, overrides: Mapping[str, Any],
                       key_prefix: str = "rules.sigma_fields") -> "SigmaFieldMapping":
        """A copy with configured entries added or replaced.

        `overrides` is the TOML table `[rules.sigma_fields]`: logsource key (a category
        such as `process_creation`, a service, or a new name for a custom source) ->
        `{SigmaField = "registry.field"}`. Bad entries raise `ConfigError` naming the key.
        """
        tables = {k: dict(v) for k, v in self.tables.items()}
        for source, table in overrides.items():
            if not isinstance(table, Mapping):
                raise ConfigError(f"{key_prefix}.{source}",
                                  "expected a table of SigmaField = \"registry.field\"")
            dest = tables.setdefault(str(source), {})
            for sigma_field, target in table.items():
                key = f"{key_prefix}.{source}.{sigma_field}"
                if not isinstance(target, str):
                    raise ConfigError(key, "expected a registry field name (a string)")
                try:
                    dest[str(sigma_field)] = parse_target(target, self.registry)
                except ValueError as exc:
                    raise ConfigError(key, str(exc)) from None
        return SigmaFieldMapping(tables, self.registry)

    def lookup(self, source: str, sigma_field: str,
               record_types: frozenset[str] = frozenset()) -> FieldRef | None:
        """The registry field for `sigma_field` in logsource `source`, or None.

        `record_types` (auditd only) are the `type` values of the same selection; a
        record-specific table (`auditd.EXECVE`) wins over the logsource's own table. The
        exact name is tried first, then a case-insensitive match.
        """
        for rt in sorted(record_types):
            hit = self._find(f"{source}.{rt}", sigma_field)
            if hit is not None:
                return hit
        return self._find(source, sigma_field)

    def unavailable(self, source: str, sigma_field: str) -> str | None:
        """Why `sigma_field` of logsource `source` has no value on Vigil's events, when it
        is a known field that no sensor fills (`UNAVAILABLE`); else None."""
        table = UNAVAILABLE.get(source, {})
        low = sigma_field.lower()
        return next((why for k, why in table.items() if k.lower() == low), None)

    def _find(self, source: str, sigma_field: str) -> FieldRef | None:
        table = self.tables.get(source)
        if not table:
            return None
        hit = table.get(sigma_field)
        if hit is None:
            low = sigma_field.lower()
            hit = next((v for k, v in table.items() if k.lower() == low), None)
        return hit


_DEFAULT = SigmaFieldMapping.from_tables(DEFAULT_TABLES)
