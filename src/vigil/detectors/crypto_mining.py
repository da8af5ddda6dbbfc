"""`crypto_mining`: cryptocurrency miners and connections to mining pools.

- `crypto_mining.miner_exec`: a known miner binary starts (`xmrig`, `minerd`, ...; judged
  by file name even from `/tmp`, where miners live), or a command line carries a
  `stratum+tcp://` pool URL.
- `crypto_mining.pool_port`: an outbound connection to a well-known pool port
  (`pool_ports`), once per process and destination per `dedupe_seconds`.
- `crypto_mining.stratum`: a TCP client whose first message is a mining-pool login in
  the stratum protocol (JSON-RPC `mining.subscribe`/`mining.authorize`, XMRig's `login`
  with a wallet and password, `eth_submitLogin`), whatever the program's name or the port:
  the sensor copies the first bytes each TCP client connection sends (`args.payload` of
  that `write`/`sendto`/`sendmsg`, docs/sensor.md).

Port 4444 is left out on purpose: it is Metasploit's default and belongs to
`reverse_shell`. Static allowlist: `adb` (Android debug bridge) uses 5555.
"""

from __future__ import annotations

import ipaddress
import os
import re
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
_SENDS = frozenset({"write", "sendto", "sendmsg"})
#: a stratum JSON-RPC method call: the pool protocols' own method names
_STRATUM_METHOD = re.compile(
    r'"method"\s*:\s*"(mining\.[a-z_.]+|eth_submitlogin|eth_getwork|eth_submitwork|login|getjob)"',
    re.IGNORECASE)
#: CryptoNote-style `login` (XMRig and Monero pools): its params carry the wallet login,
#: the worker password and usually the miner's agent or algorithms
_LOGIN_PARAMS = re.compile(r'"(pass|agent|algo|rigid)"\s*:', re.IGNORECASE)


def stratum_method(payload: str) -> str | None:
    """The mining method a client's first message calls, or None when it is not stratum."""
    if '"method"' not in payload:
        return None
    m = _STRATUM_METHOD.search(payload)
    if m is None:
        return None
    method = m.group(1).lower()
    if method in ("login", "getjob") and len(_LOGIN_PARAMS.findall(payload)) < 2:
        return None  # a JSON-RPC "login" of some other protocol
    return method


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
    event_types = frozenset(_EXEC | {"connect"} | _SENDS)

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
        if event.type in _SENDS:
            return self._on_send(event)
        return []

    def _on_send(self, event: Event) -> list[Detection]:
        payload = event.args.get("payload")
        if not isinstance(payload, str) or self.own.owns(event.proc):
            return []
        method = stratum_method(payload)
        if method is None:
            return []
        fd = event.fd
        where = f"{fd.rip}:{fd.rport}" if fd is not None and fd.rip else "?"
        output = (f"Cryptocurrency mining protocol (stratum `{method}`) sent to {where} by "
                  f"{describe_process(event)}: {event.proc.cmdline() or '?'}")
        return [build_detection(NAME, "stratum", Priority.CRITICAL, output, TAGS, event,
                                ip=fd.rip if fd is not None else None,
                                data={"method": method, "port": fd.rport if fd else None,
                                      "payload": payload[:200]})]

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
