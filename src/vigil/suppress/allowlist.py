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
from vigil.events.model import Process

_GLOB_CHARS = frozenset("*?[")
_VALUE_NAMES = {str: "a string", int: "an integer"}

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class AllowEntry:
    """One allowlist entry: its key (`allowlist.ips`), its value and why it is there."""

    key: str
    value: str | int
    reason: str = ""

    @property
    def label(self) -> str:
        """How the entry is named in a `Suppression`: `allowlist.ips=10.0.0.5`."""
        return f"{self.key}={self.value}"


def _is_glob(text: str) -> bool:
    return not _GLOB_CHARS.isdisjoint(text)


def _text_matches(pattern: str, value: str) -> bool:
    if _is_glob(pattern):
        return fnmatch.fnmatchcase(value, pattern)
    return pattern == value


def _path_matches(pattern: str, path: str) -> bool:
    """A glob, an exact path, or a directory prefix (`/etc/letsencrypt` or `.../`)."""
    if _is_glob(pattern):
        return fnmatch.fnmatchcase(path, pattern)
    prefix = pattern.rstrip("/")
    return path == prefix or path.startswith(prefix + "/") or (prefix == "" and path.startswith("/"))


def _process_matches(pattern: str, names: Iterable[str], paths: Iterable[str]) -> bool:
    """A pattern with a `/` judges executable paths; one without judges names."""
    if "/" in pattern:
        return any(_text_matches(pattern, p) for p in paths)
    return any(_text_matches(pattern, n) for n in names)


@dataclass(frozen=True)
class _Subject:
    """What a detection is about, gathered once for all entries to compare against."""

    names: frozenset[str]
    paths: frozenset[str]
    users: frozenset[str]
    ips: tuple[IpAddress, ...]
    ports: frozenset[int]
    files: frozenset[str]
    service: str | None

    @classmethod
    def of(cls, det: Detection) -> "_Subject":
        proc: Process | None = det.evidence[0].proc if det.evidence else None
        names: set[str] = set()
        paths: set[str] = set()
        users: set[str] = set()
        if det.entity.process:
            (paths if "/" in det.entity.process else names).add(det.entity.process)
            names.add(det.entity.process.rsplit("/", 1)[-1])
        if proc is not None:
            for path in (proc.exepath, proc.exe):
                if path and "/" in path:
                    paths.add(path)
                    names.add(path.rsplit("/", 1)[-1])
            if proc.name:
                names.add(proc.name)
            if proc.user:
                users.add(proc.user)
        if det.entity.user:
            users.add(det.entity.user)
        return cls(frozenset(names), frozenset(paths), frozenset(users), _ips_of(det),
                   _ports_of(det), _files_of(det), _service_of(det))


def _ips_of(det: Detection) -> tuple[IpAddress, ...]:
    """The entity's IP; without one, every remote IP among the evidence events."""
    texts = [det.entity.ip] if det.entity.ip else [
        ev.fd.rip for ev in det.evidence if ev.fd is not None and ev.fd.rip]
    out: list[IpAddress] = []
    for text in texts:
        try:
            out.append(ipaddress.ip_address(text))
        except ValueError:
            continue
    return tuple(out)


def _ports_of(det: Detection) -> frozenset[int]:
    port = det.data.get("port")
    if isinstance(port, int) and not isinstance(port, bool):
        return frozenset([port])
    return frozenset(ev.fd.rport for ev in det.evidence
                     if ev.fd is not None and ev.fd.rport is not None)


def _files_of(det: Detection) -> frozenset[str]:
    """The file a detection is about: the entity's, `data["path"]`, or the evidence fds."""
    named = [p for p in (det.entity.path, det.data.get("path")) if isinstance(p, str) and p]
    if named:
        return frozenset(named)
    return frozenset(ev.fd.name for ev in det.evidence
                     if ev.fd is not None and ev.fd.name and ev.fd.name.startswith("/"))


def _service_of(det: Detection) -> str | None:
    service = det.data.get("service")
    return service if isinstance(service, str) and service else None


def _all_in(values: Iterable[Any], accept: Callable[[Any], bool]) -> bool:
    """True when there is at least one value and every value is accepted.

    A detection about two IPs is only allowlisted when both are: one trusted address must
    not hide an untrusted one.
    """
    values = list(values)
    return bool(values) and all(accept(v) for v in values)


# ---------------------------------------------------------------- parsing entries

def _entries(table: TableReader, name: str, convert: Callable[[Any, str], Any] | None = None,
             value_types: tuple[type, ...] = (str,)) -> tuple[AllowEntry, ...]:
    """Read an array whose items are values or `{ value = ..., reason = ... }` tables."""
    raw = table.raw(name, [])
    key = table.key_of(name)
    if not isinstance(raw, list):
        raise ConfigError(key, "must be an array of values or {value, reason} tables")
    out: list[AllowEntry] = []
    what = " or ".join(_VALUE_NAMES.get(t, t.__name__) for t in value_types)
    for i, item in enumerate(raw):
        item_key = join_key(key, i)
        reason = ""
        if isinstance(item, dict):
            entry = TableReader(item, item_key)
            if not entry.has("value"):
                raise ConfigError(item_key, "a table entry needs a 'value' key")
            value = entry.raw("value")
            reason = entry.get_str("reason", "")
            entry.finish()
            value_key = join_key(item_key, "value")
        else:
            value, value_key = item, item_key
        if isinstance(value, bool) or not isinstance(value, value_types):
            raise ConfigError(value_key, f"must be {what}, not {type(value).__name__}")
        if isinstance(value, str) and not value.strip():
            raise ConfigError(value_key, "must not be empty")
        if convert is not None:
            convert(value, value_key)
        out.append(AllowEntry(key=key, value=value, reason=reason))
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

    def match(self, subject: _Subject) -> AllowEntry | None:
        """The first entry that covers the subject, or None."""
        for e in self.skip_binaries:
            if _process_matches(str(e.value), subject.names, subject.paths):
                return e
        for e in self.skip_paths:
            if _all_in(subject.files, lambda p, pat=str(e.value): _path_matches(pat, p)):
                return e
        for e in self.skip_services:
            if subject.service is not None and _text_matches(str(e.value), subject.service):
                return e
        for e in self.skip_users:
            if any(_text_matches(str(e.value), u) for u in subject.users):
                return e
        return None


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
    #: `ips` and `cidrs` entries, parsed once
    _networks: tuple[tuple[AllowEntry, IpNetwork], ...] = field(default=(), repr=False)

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
        rules = _entries(rules_table, "suppress")
        rules_table.finish()
        ips = _entries(table, "ips", _check_ip)
        cidrs = _entries(table, "cidrs", _check_cidr)
        out = cls(processes=_entries(table, "processes"),
                  users=_entries(table, "users"),
                  ips=ips,
                  cidrs=cidrs,
                  ports=_entries(table, "ports", _check_port, (int,)),
                  detectors=detectors,
                  rules=rules,
                  _networks=tuple((e, ipaddress.ip_network(str(e.value), strict=False))
                                  for e in ips + cidrs))
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
        for e in self.rules:
            value = str(e.value)
            if _text_matches(value, det.name) or (det.rule_id is not None
                                                  and _text_matches(value, det.rule_id)):
                return e
        if not (self.detectors or self.processes or self.users or self._networks
                or self.ports):
            return None  # no need to gather what the detection is about
        subject = _Subject.of(det)
        if det.kind == "detector":
            own = self.detectors.get(det.name)
            if own is not None:
                hit = own.match(subject)
                if hit is not None:
                    return hit
        for e in self.processes:
            if _process_matches(str(e.value), subject.names, subject.paths):
                return e
        for e in self.users:
            if any(_text_matches(str(e.value), u) for u in subject.users):
                return e
        # `ips` entries are kept as single-address networks beside `cidrs`
        for e, net in self._networks:
            if _all_in(subject.ips, lambda ip, n=net: ip.version == n.version and ip in n):
                return e
        for e in self.ports:
            if _all_in(subject.ports, lambda p, v=e.value: p == v):
                return e
        return None
