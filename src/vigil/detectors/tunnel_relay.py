"""`tunnel_relay`: a process bridging an outbound connection to a local service — a
reverse tunnel that lets the outside reach what only listens on this host.

Reported (`tunnel_relay.bridge`, Error) when one process that accepts nothing (it is not
a proxy or server: no `accept` seen from it) makes a TCP connection to a remote
(non-loopback) address and one to a loopback address within `pair_seconds`, and the
process is a relay tool (`socat`, `ncat`, `nc`, `chisel`, `frpc`, `gost` ...), runs from
a world-writable place, or the local end is a remote-login port (SSH, telnet, RDP, VNC,
WinRM). Applications that talk to a local database and a remote API do the first part
too; what they connect to locally is not a login service, and they are not relay tools.

Static allowlist: none — an SSH jump or a sanctioned tunnel is an environment fact for
`[allowlist]` in vigil.toml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from vigil.detections import Detection
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.detection_builder import build_detection, describe_process
from vigil.detectors.expiring_map import ExpiringMap
from vigil.detectors.params import minimum
from vigil.detectors.process_identity import (AgentIdentity, UNTRUSTED_DIRS, binary_name)
from vigil.events.model import Event
from vigil.priority import Priority

NAME = "tunnel_relay"
TAGS = ("attack.command_and_control", "T1572", "T1090")
_EINPROGRESS = -115
#: programs made to relay one connection into another
RELAY_TOOLS: frozenset[str] = frozenset({
    "socat", "ncat", "nc", "netcat", "nc.openbsd", "nc.traditional", "chisel", "frpc",
    "gost", "rathole", "ngrok", "bore", "plink", "iodine", "ligolo", "ligolo-ng",
    "revsocks", "rpivot", "stunnel", "stunnel4", "redir", "rinetd", "3proxy", "sshuttle",
})
#: remote-login ports a tunnel exposes (ssh, telnet, rdp, vnc, winrm)
LOGIN_PORTS: frozenset[int] = frozenset({22, 2222, 23, 3389, 5900, 5901, 5985, 5986})


@dataclass(frozen=True)
class TunnelRelayParams(DetectorParams):
    """`[detectors.tunnel_relay]`."""

    DETECTOR: ClassVar[str] = NAME
    #: how close together the remote and the local connection must be
    pair_seconds: float = field(default=5.0, metadata=minimum(0))


def _loopback(ip: str) -> bool:
    return ip.startswith("127.") or ip in ("::1", "::ffff:127.0.0.1")


class TunnelRelayDetector(BuiltinDetector):
    """Outbound connections bridged to a local service by one process."""

    name = NAME
    Params = TunnelRelayParams
    event_types = frozenset({"connect", "accept", "accept4"})

    params: TunnelRelayParams

    def __init__(self, params: TunnelRelayParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        window = int(self.params.pair_seconds * 1e9)
        #: pid -> (remote end, local end) seen within the window
        self._remote: ExpiringMap[int, str] = ExpiringMap(window)
        self._local: ExpiringMap[int, tuple[str, int]] = ExpiringMap(window)
        self._serving: ExpiringMap[int, bool] = ExpiringMap(3600 * 10**9)
        self._reported: ExpiringMap[int, bool] = ExpiringMap(600 * 10**9)

    def on_event(self, event: Event) -> list[Detection]:
        """Pair a process's remote and loopback connections."""
        fd, proc = event.fd, event.proc
        if proc.pid is None or fd is None or fd.type not in ("ipv4", "ipv6"):
            return []
        if event.type in ("accept", "accept4"):
            if event.res is None or event.res >= 0:
                self._serving.put(proc.pid, event.ts, True)
            return []
        if fd.l4proto not in (None, "tcp") or not fd.rip or fd.rport is None:
            return []
        if event.res is not None and event.res < 0 and event.res != _EINPROGRESS:
            return []
        if _loopback(fd.rip):
            self._local.put(proc.pid, event.ts, (fd.rip, fd.rport))
        else:
            self._remote.put(proc.pid, event.ts, f"{fd.rip}:{fd.rport}")
        remote = self._remote.get(proc.pid, event.ts)
        local = self._local.get(proc.pid, event.ts)
        if remote is None or local is None or self.own.owns(proc) \
                or self._serving.get(proc.pid, event.ts) or proc.listening:
            return []
        binary = binary_name(proc)
        why = ("a relay tool" if binary in RELAY_TOOLS else
               "run from a world-writable place" if (proc.exepath or "").startswith(
                   UNTRUSTED_DIRS) else
               f"the local end is a remote-login port ({local[1]})" if local[1] in LOGIN_PORTS
               else None)
        if why is None or self._reported.seen_recently(proc.pid, event.ts):
            return []
        output = (f"Tunnel: {describe_process(event)} connected out to {remote} and to the "
                  f"local service {local[0]}:{local[1]} within {self.params.pair_seconds:g} s "
                  f"({why}), relaying one into the other: {proc.cmdline() or '?'}")
        return [build_detection(NAME, "bridge", Priority.ERROR, output, TAGS, event,
                                ip=remote.rsplit(":", 1)[0],
                                data={"remote": remote, "local": f"{local[0]}:{local[1]}",
                                      "why": why})]
