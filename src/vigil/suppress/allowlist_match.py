"""Matching allowlist values against what a detection is about, by index, not by scan.

An allowlist is built once and consulted for every detection, so its values are indexed
when it is built: exact values in dicts, globs compiled to regular expressions, IPs as
parsed addresses, path prefixes looked up directory by directory. A lookup costs a few
dict probes however long the allowlist grows; only globs and networks are tried in turn.

`Subject` gathers from a detection, once, everything the entries are compared with.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from dataclasses import dataclass
from typing import Callable, Generic, Iterable, TypeVar

from vigil.detections import Detection

T = TypeVar("T")
V = TypeVar("V")
K = TypeVar("K")
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_GLOB_CHARS = frozenset("*?[")


def is_glob(text: str) -> bool:
    """True when `text` is a shell-style pattern rather than a literal."""
    return not _GLOB_CHARS.isdisjoint(text)


@dataclass(frozen=True)
class Subject:
    """What a detection is about, gathered once for all entries to compare against."""

    #: process names: comm, and the last component of executable paths
    names: frozenset[str]
    #: executable paths (resolved exepath, argv[0] path, entity process path)
    paths: frozenset[str]
    users: frozenset[str]
    ips: tuple[IpAddress, ...]
    ports: frozenset[int]
    files: frozenset[str]
    service: str | None

    @classmethod
    def of(cls, det: Detection) -> "Subject":
        """Gather the subject of `det`: its entity and its first evidence event's process."""
        proc = det.evidence[0].proc if det.evidence else None
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
        service = det.data.get("service")
        return cls(frozenset(names), frozenset(paths), frozenset(users), _ips_of(det),
                   _ports_of(det), _files_of(det),
                   service if isinstance(service, str) and service else None)


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


def first_for_any(values: Iterable[V], find: Callable[[V], T | None]) -> T | None:
    """The entry found for any of `values` (they describe the same thing, e.g. the names
    of one process)."""
    for value in values:
        hit = find(value)
        if hit is not None:
            return hit
    return None


def first_for_all(values: Iterable[V], find: Callable[[V], T | None]) -> T | None:
    """An entry when there is at least one value and every value has an entry, else None.

    A detection about two IPs is only allowlisted when both are: one trusted address must
    not hide an untrusted one.
    """
    first = None
    for value in values:
        hit = find(value)
        if hit is None:
            return None
        if first is None:
            first = hit
    return first


class _ExactThenTried(Generic[K, T]):
    """Exact keys in a dict (one lookup), then tests tried in order (globs, networks)."""

    def __init__(self) -> None:
        self.exact: dict[K, T] = {}
        self.tried: list[tuple[Callable[[K], object], T]] = []

    def __bool__(self) -> bool:
        return bool(self.exact or self.tried)

    def find(self, value: K) -> T | None:
        """The item for `value`, or None."""
        hit = self.exact.get(value)
        if hit is not None:
            return hit
        for test, item in self.tried:
            if test(value):
                return item
        return None


class TextPatterns(_ExactThenTried[str, T]):
    """Literal strings and shell-style globs (case-sensitive).

    A glob also matches itself literally: a Falco rule may well be named
    "Launch Privileged Container [k8s]", which as a glob would not match its own name."""

    def __init__(self, items: Iterable[tuple[str, T]]) -> None:
        super().__init__()
        for text, item in items:
            self.exact.setdefault(text, item)
            if is_glob(text):
                self.tried.append((re.compile(fnmatch.translate(text)).match, item))


class ProcessPatterns(Generic[T]):
    """Process entries: one with a `/` judges executable paths, one without judges names."""

    def __init__(self, items: Iterable[tuple[str, T]]) -> None:
        items = list(items)
        self.paths = TextPatterns((t, i) for t, i in items if "/" in t)
        self.names = TextPatterns((t, i) for t, i in items if "/" not in t)

    def __bool__(self) -> bool:
        return bool(self.paths or self.names)

    def find(self, subject: Subject) -> T | None:
        """The item for the subject's process, or None."""
        return (first_for_any(subject.paths, self.paths.find)
                or first_for_any(subject.names, self.names.find))


class PathPatterns(Generic[T]):
    """Path entries: a glob, or a path covering itself and everything below it."""

    def __init__(self, items: Iterable[tuple[str, T]]) -> None:
        items = list(items)
        self.globs = TextPatterns((t, i) for t, i in items if is_glob(t))
        self.prefixes: dict[str, T] = {}
        for text, item in items:
            if not is_glob(text):
                self.prefixes.setdefault(text.rstrip("/"), item)

    def __bool__(self) -> bool:
        return bool(self.globs or self.prefixes)

    def find(self, path: str) -> T | None:
        """The item covering `path`, or None: the path itself, then each parent directory."""
        if self.prefixes:
            probe = path.rstrip("/")
            while True:
                hit = self.prefixes.get(probe)
                if hit is not None:
                    return hit
                if not probe:
                    break
                probe = probe.rsplit("/", 1)[0]
        return self.globs.find(path)


def _in_network(net: IpNetwork) -> Callable[[IpAddress], bool]:
    return lambda ip: ip.version == net.version and ip in net


class NetworkPatterns(_ExactThenTried[IpAddress, T]):
    """Addresses and networks."""

    def __init__(self, addresses: Iterable[tuple[str, T]],
                 networks: Iterable[tuple[str, T]]) -> None:
        super().__init__()
        for text, item in addresses:
            self.exact.setdefault(ipaddress.ip_address(text), item)
        for text, item in networks:
            self.tried.append((_in_network(ipaddress.ip_network(text, strict=False)), item))
