"""`dns_direct`: DNS queries sent straight to a remote server by a program that is not a
resolver — DNS tunnelling, C2 over DNS, or malware bypassing the host's resolver.

Reported for `connect`/`sendto`/`sendmsg` to a DNS port (`ports`, default 53) on a
non-loopback address that is not one of the host's configured resolvers
(`system_resolvers`, default: the `nameserver` lines of `resolv_conf` and of the network
namespaces' own `resolv.conf` under `netns_dir`, which `ip netns exec` puts in place of
/etc/resolv.conf; the files are read again when they change, as DHCP and VPN clients
rewrite them). Queries to the configured resolvers are what the C library does for every
program and are not reported; loopback is the local stub resolver. One detection per
process and server per `dedupe_seconds`.

Static allowlist (returned suppressed): resolvers and DNS infrastructure
(`systemd-resolved`, `unbound`, `dnsmasq`, `named`, `kresd`, `coredns` ...) and security
tooling that resolves names itself (`cscli`, `crowdsec`).
"""

from __future__ import annotations

import glob
import ipaddress
import logging
import os
from dataclasses import dataclass, field
from typing import ClassVar

from vigil.detections import Detection
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.expiring_map import ExpiringMap
from vigil.detectors.params import minimum
from vigil.detectors.process_identity import AgentIdentity, matched_binary
from vigil.events.model import Event
from vigil.priority import Priority

NAME = "dns_direct"
TAGS = ("attack.command_and_control", "T1071.004", "attack.exfiltration", "T1048")
_NET_EVENTS = frozenset({"connect", "sendto", "sendmsg"})
_log = logging.getLogger(__name__)

#: programs whose job is to talk DNS to remote servers
RESOLVERS: frozenset[str] = frozenset({
    "systemd-resolved", "unbound", "dnsmasq", "named", "bind9", "pdns_recursor",
    "pdns_server", "kresd", "knotd", "knot-resolver", "coredns", "nsd", "dnscrypt-proxy",
    "stubby", "nscd", "unbound-anchor", "cscli", "crowdsec", "pihole-FTL", "AdGuardHome",
    "blocky", "dnsdist", "maradns", "pdnsd",
})


@dataclass(frozen=True)
class DnsDirectParams(DetectorParams):
    """`[detectors.dns_direct]`."""

    DETECTOR: ClassVar[str] = NAME
    #: destination ports that count as DNS
    ports: tuple[int, ...] = field(default=(53,), metadata=minimum(1))
    #: the host's resolvers; unset = read the `nameserver` lines of `resolv_conf`
    system_resolvers: tuple[str, ...] | None = None
    resolv_conf: str = "/etc/resolv.conf"
    #: where `ip netns` keeps per-namespace configuration (`NAME/resolv.conf`)
    netns_dir: str = "/etc/netns"
    #: one detection per process and server within this many seconds
    dedupe_seconds: float = field(default=600.0, metadata=minimum(0))


def read_nameservers(path: str, quiet: bool = False) -> tuple[str, ...]:
    """The `nameserver` addresses of a resolv.conf (empty when it cannot be read)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        if not quiet:
            _log.warning("dns_direct: cannot read %s (%s); no resolver is exempt", path, exc)
        return ()
    out = []
    for line in lines:
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] == "nameserver":
            out.append(words[1].split("%", 1)[0])
    return tuple(out)


class DnsDirectDetector(BuiltinDetector):
    """DNS to remote servers from programs that are not resolvers."""

    name = NAME
    Params = DnsDirectParams
    event_types = _NET_EVENTS

    params: DnsDirectParams

    def __init__(self, params: DnsDirectParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        resolvers = self.params.system_resolvers
        #: the resolver files and their mtimes when last read (None: fixed by config)
        self._files: dict[str, float] | None = None
        if resolvers is None:
            self._files = self._file_stamps()
            resolvers = self._read_files(self._files)
        self._system_resolvers = frozenset(resolvers)
        self._next_check = 0
        self._ports = frozenset(self.params.ports)
        self._seen: ExpiringMap[tuple[int | None, str], bool] = ExpiringMap(
            int(self.params.dedupe_seconds * 1e9))

    def _file_stamps(self) -> dict[str, float]:
        paths = [self.params.resolv_conf, *sorted(glob.glob(
            os.path.join(glob.escape(self.params.netns_dir), "*", "resolv.conf")))]
        out = {}
        for path in paths:
            try:
                out[path] = os.stat(path).st_mtime
            except OSError:
                out[path] = -1.0
        return out

    def _read_files(self, files: dict[str, float]) -> tuple[str, ...]:
        out: list[str] = []
        for path in files:
            out += read_nameservers(path, quiet=path != self.params.resolv_conf)
        return tuple(out)

    def _configured(self, server: str, ts: int) -> bool:
        """`server` is a configured resolver (re-reading the files, at most once a second,
        when one changed, appeared or went away)."""
        if server in self._system_resolvers:
            return True
        if self._files is None or ts < self._next_check:
            return False
        self._next_check = ts + 1_000_000_000
        stamps = self._file_stamps()
        if stamps != self._files:
            self._files = stamps
            self._system_resolvers = frozenset(self._read_files(stamps))
        return server in self._system_resolvers

    def on_event(self, event: Event) -> list[Detection]:
        """Report a direct DNS query by a non-resolver."""
        fd = event.fd
        if event.type not in _NET_EVENTS or fd is None or fd.type not in ("ipv4", "ipv6"):
            return []
        if fd.rport not in self._ports or not fd.rip:
            return []
        if event.res is not None and event.res < 0 and event.res != -115:
            return []
        try:
            if ipaddress.ip_address(fd.rip).is_loopback:
                return []
        except ValueError:
            return []
        if self._configured(fd.rip, event.ts):
            return []
        if self.own.owns(event.proc) or self._seen.seen_recently((event.proc.pid, fd.rip),
                                                                 event.ts):
            return []
        resolver = matched_binary(event.proc, RESOLVERS)
        suppression = None if resolver is None else static_suppression(
            NAME, "resolvers", resolver, "DNS infrastructure resolving names itself")
        output = (f"Direct DNS query to {fd.rip}:{fd.rport} ({fd.l4proto or '?'}) by "
                  f"{describe_process(event)}, bypassing the system resolver: "
                  f"{event.proc.cmdline() or '?'}")
        return [build_detection(NAME, "query", Priority.WARNING, output, TAGS, event, ip=fd.rip,
                                data={"port": fd.rport, "l4proto": fd.l4proto},
                                suppressed=suppression)]
