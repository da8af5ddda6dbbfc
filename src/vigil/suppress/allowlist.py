"""The dynamic allowlist: what `[allowlist]` in `vigil.toml` says is normal here.

Static allowlists (always true, in code beside each detector) handle what is normal
everywhere; this one handles what depends on the environment: this host's deploy user,
its monitoring IPs, the one noisy rule. `Allowlist.match(detection)` returns the entry
that covers a detection, so the suppression stage can record which entry and why.

Every entry is written either as a plain value or as a table with a reason:

    processes = ["cc", { value = "/usr/bin/certbot", reason = "renews TLS certs" }]

String values that contain `*`, `?` or `[` are shell-style globs; `skip_paths` entries
also match as directory prefixes. See docs/config.md for every key.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from vigil.config_errors import ConfigError
from vigil.config_reader import TableReader, join_key
from vigil.detections import Detection
from vigil.detectors.process_identity import script_path
from vigil.suppress.allowlist_match import (NetworkPatterns, PathPatterns, ProcessPatterns,
                                            Subject, TextPatterns, first_for_all,
                                            first_for_any)

_VALUE_NAMES = {str: "a string", int: "an integer"}


#: the context a `[allowlist.rules] suppress` entry can be limited to
SCOPE_KEYS = ("processes", "parents", "users", "paths", "ips")


@dataclass(frozen=True)
class AllowEntry:
    """One allowlist entry: its key (`allowlist.ips`), its value and why it is there.

    An entry of `[allowlist.rules] suppress` may carry a *scope*: the processes, parents,
    users, paths or IPs the rule is normal for (each a list; every list given must match,
    any value within a list may). Without one it silences the rule for the whole host."""

    key: str
    value: str | int
    reason: str = ""
    #: (scope key, values) pairs, e.g. (("processes", ("/usr/sbin/logrotate",)),)
    scope: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def label(self) -> str:
        """How the entry is named in a `Suppression`: `allowlist.ips=10.0.0.5`, or with
        its scope: `allowlist.rules.suppress=Log file truncated (processes=logrotate)`."""
        text = f"{self.key}={self.value}"
        if self.scope:
            text += " (" + "; ".join(f"{k}={','.join(v)}" for k, v in self.scope) + ")"
        return text


def _items(entries: Iterable[AllowEntry]) -> Iterator[tuple[str, AllowEntry]]:
    return ((str(e.value), e) for e in entries)


# ---------------------------------------------------------------- parsing entries

def _entries(table: TableReader, name: str, check: Callable[[Any, str], None] | None = None,
             value_types: tuple[type, ...] = (str,), scoped: bool = False
             ) -> tuple[AllowEntry, ...]:
    """Read an array whose items are values or `{ value = ..., reason = ... }` tables
    (with `scoped`, the tables may also name `processes`, `parents`, `users`, `paths` or
    `ips` lists)."""
    raw = table.raw(name, [])
    key = table.key_of(name)
    if not isinstance(raw, list):
        raise ConfigError(key, "must be an array of values or {value, reason} tables")
    out: list[AllowEntry] = []
    what = " or ".join(_VALUE_NAMES.get(t, t.__name__) for t in value_types)
    for i, item in enumerate(raw):
        item_key = join_key(key, i)
        reason = ""
        scope: list[tuple[str, tuple[str, ...]]] = []
        if isinstance(item, dict):
            entry = TableReader(item, item_key)
            if not entry.has("value"):
                raise ConfigError(item_key, "a table entry needs a 'value' key")
            value = entry.raw("value")
            reason = entry.get_str("reason", "")
            if scoped:
                for skey in SCOPE_KEYS:
                    if entry.has(skey):
                        values = entry.get_str_list(skey)
                        if not values:
                            raise entry.error(skey, "must list at least one value")
                        for j, v in enumerate(values):
                            if not v.strip():
                                raise ConfigError(join_key(entry.key_of(skey), j),
                                                  "must not be empty")
                            if skey == "ips":
                                try:
                                    ipaddress.ip_network(v, strict=False)
                                except ValueError:
                                    raise ConfigError(join_key(entry.key_of(skey), j),
                                                      f"{v!r} is not an IP address or "
                                                      "network") from None
                        scope.append((skey, values))
            entry.finish()
            value_key = join_key(item_key, "value")
        else:
            value, value_key = item, item_key
        if isinstance(value, bool) or not isinstance(value, value_types):
            raise ConfigError(value_key, f"must be {what}, not {type(value).__name__}")
        if isinstance(value, str) and not value.strip():
            raise ConfigError(value_key, "must not be empty")
        if check is not None:
            check(value, value_key)
        out.append(AllowEntry(key=key, value=value, reason=reason, scope=tuple(scope)))
    return tuple(out)


def _check_ip(value: Any, key: str) -> None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ConfigError(key, f"{value!r} is not an IP address") from None


def _check_cidr(value: Any, key: str) -> None:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ConfigError(key, f"{value!r} is not a network in CIDR notation "
                               "(e.g. 10.0.0.0/8)") from None


def _check_port(value: Any, key: str) -> None:
    if not 0 < value < 65536:
        raise ConfigError(key, f"{value} is not a port number (1-65535)")


def _check_absolute(value: Any, key: str) -> None:
    if not (value.startswith("/") or value.startswith("*")):
        raise ConfigError(key, f"{value!r} must be an absolute path or a glob")


def read_entries(table: TableReader, name: str) -> tuple[AllowEntry, ...]:
    """Read an array of strings or `{ value, reason }` tables (for other sections)."""
    return _entries(table, name)


# ---------------------------------------------------------------- the allowlist

@dataclass(frozen=True)
class DetectorAllowlist:
    """`[allowlist.detectors.<name>]`: exceptions for one built-in detector."""

    name: str
    skip_binaries: tuple[AllowEntry, ...] = ()
    skip_paths: tuple[AllowEntry, ...] = ()
    skip_services: tuple[AllowEntry, ...] = ()
    skip_users: tuple[AllowEntry, ...] = ()

    @classmethod
    def from_table(cls, name: str, table: TableReader) -> "DetectorAllowlist":
        """Read and validate one `[allowlist.detectors.<name>]` table."""
        out = cls(name=name,
                  skip_binaries=_entries(table, "skip_binaries"),
                  skip_paths=_entries(table, "skip_paths", _check_absolute),
                  skip_services=_entries(table, "skip_services"),
                  skip_users=_entries(table, "skip_users"))
        table.finish()
        return out

    def entries(self) -> Iterator[AllowEntry]:
        """All entries, in the order they are tried."""
        yield from self.skip_binaries
        yield from self.skip_paths
        yield from self.skip_services
        yield from self.skip_users

    def match(self, subject: Subject) -> AllowEntry | None:
        """The first entry that covers the subject, or None."""
        return (self._binaries.find(subject)
                or first_for_all(subject.files, self._paths.find)
                or (self._services.find(subject.service) if subject.service else None)
                or first_for_any(subject.users, self._users.find))

    def __post_init__(self) -> None:
        # indexes for matching, built once per (immutable) allowlist
        object.__setattr__(self, "_binaries", ProcessPatterns(_items(self.skip_binaries)))
        object.__setattr__(self, "_paths", PathPatterns(_items(self.skip_paths)))
        object.__setattr__(self, "_services", TextPatterns(_items(self.skip_services)))
        object.__setattr__(self, "_users", TextPatterns(_items(self.skip_users)))


@dataclass(frozen=True)
class Allowlist:
    """`[allowlist]` of `vigil.toml`, validated; immutable, so it can be swapped whole."""

    processes: tuple[AllowEntry, ...] = ()
    users: tuple[AllowEntry, ...] = ()
    ips: tuple[AllowEntry, ...] = ()
    cidrs: tuple[AllowEntry, ...] = ()
    ports: tuple[AllowEntry, ...] = ()
    detectors: dict[str, DetectorAllowlist] = field(default_factory=dict)
    #: `[allowlist.rules] suppress`: Falco rule names, Sigma ids (or titles)
    rules: tuple[AllowEntry, ...] = ()

    def __post_init__(self) -> None:
        # indexes for matching, built once per (immutable) allowlist; a rule may have
        # several scoped entries, tried in order, before its unscoped one
        by_rule: dict[str, list[AllowEntry]] = {}
        for e in self.rules:
            by_rule.setdefault(str(e.value), []).append(e)
        for entries in by_rule.values():
            entries.sort(key=lambda e: not e.scope)
        object.__setattr__(self, "_rules", TextPatterns(by_rule.items()))
        object.__setattr__(self, "_processes", ProcessPatterns(_items(self.processes)))
        object.__setattr__(self, "_users", TextPatterns(_items(self.users)))
        object.__setattr__(self, "_networks", NetworkPatterns(_items(self.ips),
                                                              _items(self.cidrs)))
        object.__setattr__(self, "_ports", {e.value: e for e in reversed(self.ports)})
        object.__setattr__(self, "_needs_subject", bool(
            self.detectors or self.processes or self.users or self.ips or self.cidrs
            or self.ports))

    @classmethod
    def from_table(cls, table: TableReader,
                   detector_names: Iterable[str] | None = None) -> "Allowlist":
        """Read and validate `[allowlist]`. With `detector_names`, an
        `[allowlist.detectors.<name>]` for another name is an error."""
        known = set(detector_names) if detector_names is not None else None
        detectors: dict[str, DetectorAllowlist] = {}
        for name, sub in table.table("detectors").sub_tables():
            if known is not None and name not in known:
                raise ConfigError(sub.key, f"unknown detector {name!r} (known: "
                                           f"{', '.join(sorted(known))})")
            detectors[name] = DetectorAllowlist.from_table(name, sub)
        rules_table = table.table("rules")
        rules = _entries(rules_table, "suppress", scoped=True)
        rules_table.finish()
        out = cls(processes=_entries(table, "processes"),
                  users=_entries(table, "users"),
                  ips=_entries(table, "ips", _check_ip),
                  cidrs=_entries(table, "cidrs", _check_cidr),
                  ports=_entries(table, "ports", _check_port, (int,)),
                  detectors=detectors,
                  rules=rules)
        table.finish()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], key: str = "allowlist",
                  detector_names: Iterable[str] | None = None) -> "Allowlist":
        """Read `[allowlist]` from a plain dict (as `tomllib` returns it)."""
        return cls.from_table(TableReader(data, key), detector_names)

    def __len__(self) -> int:
        return (len(self.processes) + len(self.users) + len(self.ips) + len(self.cidrs)
                + len(self.ports) + len(self.rules)
                + sum(len(list(d.entries())) for d in self.detectors.values()))

    def match(self, det: Detection) -> AllowEntry | None:
        """The entry that allowlists `det`, or None. Rules first, then the detector's own
        table, then the global process/user/ip/network/port entries."""
        if self._rules:
            for name in (det.name, det.rule_id):
                if name is None:
                    continue
                entries = self._rules.find(name)
                if entries:
                    for e in entries:
                        if not e.scope or in_scope(e, det):
                            return e
        if not self._needs_subject:
            return None  # no need to gather what the detection is about
        subject = Subject.of(det)
        if det.kind == "detector":
            own = self.detectors.get(det.name)
            if own is not None:
                hit = own.match(subject)
                if hit is not None:
                    return hit
        return (self._processes.find(subject)
                or first_for_any(subject.users, self._users.find)
                or first_for_all(subject.ips, self._networks.find)
                or first_for_all(subject.ports, self._ports.get))


def in_scope(entry: AllowEntry, det: Detection) -> bool:
    """True when every scope list of `entry` matches what `det` is about."""
    subject = Subject.of(det)
    for key, values in entry.scope:
        if key == "processes":
            paths = set(subject.paths)
            if det.evidence:
                script = script_path(det.evidence[-1].proc)
                if script:
                    paths.add(script)
            if not any(_process_matches(v, subject.names, paths) for v in values):
                return False
        elif key == "parents":
            names, paths = _ancestry(det)
            if not any(_process_matches(v, names, paths) for v in values):
                return False
        elif key == "users":
            if not any(fnmatch.fnmatchcase(u, v) for u in subject.users for v in values):
                return False
        elif key == "paths":
            if not subject.files or not all(
                    any(_path_matches(v, f) for v in values) for f in subject.files):
                return False
        elif key == "ips":
            nets = [ipaddress.ip_network(v, strict=False) for v in values]
            if not subject.ips or not all(any(ip.version == n.version and ip in n
                                              for n in nets) for ip in subject.ips):
                return False
    return True


def _process_matches(value: str, names: Iterable[str], paths: Iterable[str]) -> bool:
    pool = paths if "/" in value else names
    return any(fnmatch.fnmatchcase(x, value) for x in pool)


def _path_matches(value: str, path: str) -> bool:
    if any(c in value for c in "*?["):
        return fnmatch.fnmatchcase(path, value)
    root = value.rstrip("/")
    return path == root or path.startswith(root + "/")


def _ancestry(det: Detection, depth: int = 4) -> tuple[set[str], set[str]]:
    """Names and executable paths of the detection's process's ancestors."""
    names: set[str] = set()
    paths: set[str] = set()
    proc = det.evidence[-1].proc if det.evidence else None
    anc = proc.parent if proc is not None else None
    while anc is not None and depth > 0:
        if anc.name:
            names.add(anc.name)
        script = script_path(anc)
        if script:
            paths.add(script)
        for p in (anc.exepath, anc.exe):
            if p and "/" in p:
                paths.add(p)
                names.add(p.rsplit("/", 1)[-1])
        anc = anc.parent
        depth -= 1
    return names, paths
