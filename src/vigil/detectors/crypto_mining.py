"""`crypto_mining`: cryptocurrency miners and connections to mining pools.

- `crypto_mining.miner_exec`: a known miner binary starts (`xmrig`, `minerd`, ...; judged
  by file name even from `/tmp`, where miners live), or a command line carries a
  `stratum+tcp://` pool URL.
- `crypto_mining.pool_port`: an outbound connection to a well-known pool port
  (`pool_ports`), once per process and destination per `dedupe_seconds`.

Port 4444 is left out on purpose: it is Metasploit's default and belongs to
`reverse_shell`. Static allowlist: `adb` (Android debug bridge) uses 5555.
"""

from __future__ import annotations

import ipaddress
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

NAME = "crypto_mining"
TAGS = ("attack.impact", "T1496")
_EXEC = frozenset({"execve", "execveat"})

DEFAULT_POOL_PORTS: tuple[int, ...] = (3333, 3334, 3335, 3336, 3357, 5555, 5556, 5588, 5730,
                                       6099, 7777, 7778, 9332, 14433, 14444, 45560, 45700)
MINER_BINARIES: frozenset[str] = frozenset({
    "xmrig", "xmrig-notls", "xmr-stak", "xmr-stak-cpu", "minerd", "cpuminer", "cpuminer-multi",
    "ethminer", "nbminer", "t-rex", "lolminer", "ccminer", "cgminer", "bfgminer", "nanominer",
    "phoenixminer", "teamredminer", "gminer", "srbminer", "srbminer-multi", "kdevtmpfsi",
    "kinsing",
})
#: programs that use a pool port for something else
PORT_USERS: dict[int, frozenset[str]] = {5555: frozenset({"adb"})}
_STRATUM = ("stratum+tcp://", "stratum+ssl://", "stratum2+tcp://", "stratum+tls://")


@dataclass(frozen=True)
class CryptoMiningParams(DetectorParams):
    """`[detectors.crypto_mining]`."""

    DETECTOR: ClassVar[str] = NAME
    pool_ports: tuple[int, ...] = field(default=DEFAULT_POOL_PORTS, metadata=minimum(1))
    dedupe_seconds: float = field(default=600.0, metadata=minimum(0))


class CryptoMiningDetector(BuiltinDetector):
    """Miner binaries, stratum URLs and mining-pool ports."""

    name = NAME
    Params = CryptoMiningParams
    event_types = frozenset(_EXEC | {"connect"})

    params: CryptoMiningParams

    def __init__(self, params: CryptoMiningParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        self._ports = frozenset(self.params.pool_ports)
        self._seen: ExpiringMap[tuple[int | None, str, int], bool] = ExpiringMap(
            int(self.params.dedupe_seconds * 1e9))

    def on_event(self, event: Event) -> list[Detection]:
        """Report miners and pool connections."""
        if event.res is not None and event.res < 0 and event.res != -115:
            return []
        if event.type in _EXEC:
            return self._on_exec(event)
        if event.type == "connect":
            return self._on_connect(event)
        return []

    def _on_exec(self, event: Event) -> list[Detection]:
        proc = event.proc
        names = {n for n in (os.path.basename(proc.exepath or ""), proc.name) if n}
        miner = next((n for n in names if n.lower() in MINER_BINARIES), None)
        url = next((a for a in proc.args for s in _STRATUM if s in a.lower()), None)
        if not miner and not url:
            return []
        what = f"miner {miner}" if miner else f"pool URL {url}"
        output = f"Cryptocurrency mining: {what} run by {describe_process(event)}: " \
                 f"{proc.cmdline() or '?'}"
        return [build_detection(NAME, "miner_exec", Priority.CRITICAL, output, TAGS, event,
                                data={"miner": miner, "pool_url": url})]

    def _on_connect(self, event: Event) -> list[Detection]:
        fd = event.fd
        if fd is None or fd.type not in ("ipv4", "ipv6") or fd.rport not in self._ports:
            return []
        try:
            if not fd.rip or ipaddress.ip_address(fd.rip).is_loopback:
                return []
        except ValueError:
            return []
        if self.own.owns(event.proc) or self._seen.seen_recently(
                (event.proc.pid, fd.rip, fd.rport), event.ts):
            return []
        user = matched_binary(event.proc, PORT_USERS.get(fd.rport, frozenset()))
        suppression = None if user is None else static_suppression(
            NAME, "port_users", user, f"{user} uses port {fd.rport} for its own protocol")
        output = (f"Connection to mining-pool port {fd.rip}:{fd.rport} by "
                  f"{describe_process(event)}: {event.proc.cmdline() or '?'}")
        return [build_detection(NAME, "pool_port", Priority.WARNING, output, TAGS, event,
                                ip=fd.rip, data={"port": fd.rport}, suppressed=suppression)]
