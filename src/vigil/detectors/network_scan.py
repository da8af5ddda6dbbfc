"""`network_scan`: one process (or process tree) probing many ports or many hosts.

A port scan (many ports of one host, "vertical") or a sweep (one port on many hosts,
"horizontal") shows as connection attempts to many distinct targets within a short
time, most of them refused, unreachable or left unanswered. Ordinary clients talk to a
few targets, and those answer.

Attempts are counted per process and, because a scan written as a shell loop starts one
process per probe (`for p in ...; do echo >/dev/tcp/host/$p; done`), also per parent and
per grandparent (service roots such as init or cron excepted). A bucket is reported once
per `window_seconds` when, inside that window:

- `vertical`: at least `min_targets` distinct ports of one host were tried and at least
  `min_failed` of the attempts failed (refused, unreachable, timed out) — or
  `min_targets_any` distinct ports whatever the outcome (non-blocking scanners);
- `horizontal`: the same for one port on distinct hosts.

Loopback counts: a sweep over a thousand local ports is reconnaissance of this host.

Static allowlist (returned suppressed): network scanners run by a monitoring agent are
not a universal truth, so there is none in code; use `[allowlist]` for your monitoring
host or tool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from vigil.detections import Detection
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.detection_builder import build_detection, describe_process
from vigil.detectors.expiring_map import ExpiringMap
from vigil.detectors.params import minimum
from vigil.events.model import Event, Process
from vigil.incidents.story import is_service_root
from vigil.priority import Priority

NAME = "network_scan"
TAGS = ("attack.discovery", "T1046")
_CONNECTS = frozenset({"connect"})
#: connect() results that say nobody answered there (negative errno)
_FAILED = frozenset({-111, -113, -101, -110, -104})  # REFUSED, HOSTUNREACH, NETUNREACH,
#                                                    # TIMEDOUT, CONNRESET
_IN_PROGRESS = -115  # EINPROGRESS: a non-blocking connect, outcome unknown
_NET = frozenset({"ipv4", "ipv6"})


@dataclass(frozen=True)
class NetworkScanParams(DetectorParams):
    """`[detectors.network_scan]`."""

    DETECTOR: ClassVar[str] = NAME
    window_seconds: float = field(default=60.0, metadata=minimum(1))
    #: distinct ports of one host (or hosts for one port) that make a scan ...
    min_targets: int = field(default=25, metadata=minimum(2))
    #: ... with at least this many failed attempts
    min_failed: int = field(default=20, metadata=minimum(1))
    #: distinct targets that make a scan whatever the outcome
    min_targets_any: int = field(default=200, metadata=minimum(2))


class _Bucket:
    __slots__ = ("start", "ports", "hosts", "failed", "attempts", "reported", "proc")

    def __init__(self, start: int, proc: Process) -> None:
        self.start = start
        #: host -> ports tried, port -> hosts tried
        self.ports: dict[str, set[int]] = {}
        self.hosts: dict[int, set[str]] = {}
        self.failed = 0
        self.attempts = 0
        self.reported = False
        self.proc = proc


class NetworkScanDetector(BuiltinDetector):
    """Many ports or hosts probed from one process tree in a short time."""

    name = NAME
    Params = NetworkScanParams
    event_types = _CONNECTS

    params: NetworkScanParams

    def __init__(self, params: NetworkScanParams | None = None, own=None) -> None:
        super().__init__(params, own)
        self._window = int(self.params.window_seconds * 1e9)
        self._buckets: ExpiringMap[tuple, _Bucket] = ExpiringMap(self._window,
                                                                  max_entries=20_000)

    def on_event(self, event: Event) -> list[Detection]:
        """Count one connection attempt; report a bucket that crossed a threshold."""
        fd = event.fd
        if fd is None or fd.type not in _NET or fd.rip is None or fd.rport is None:
            return []
        if fd.role == "server" or self.own.owns(event.proc):
            return []
        res = event.res
        failed = res is not None and res in _FAILED
        if res is not None and res < 0 and not failed and res != _IN_PROGRESS:
            return []  # EPERM, EACCES ...: not a probe that reached the network
        out: list[Detection] = []
        buckets = []
        for key, proc in self._keys(event.proc):
            b = self._buckets.get(key, event.ts)
            if b is None:
                b = _Bucket(event.ts, proc)
            b.attempts += 1
            b.failed += failed
            b.ports.setdefault(fd.rip, set()).add(fd.rport)
            b.hosts.setdefault(fd.rport, set()).add(fd.rip)
            self._buckets.put(key, b.start, b)
            buckets.append(b)
        for b in buckets:
            if b.reported:
                break  # this scan (or its loop's) is already reported
            det = self._judge(event, b)
            if det is not None:
                # the nearest bucket speaks; its ancestors count the same attempts
                for other in buckets:
                    other.reported = True
                out.append(det)
                break
        return out

    @staticmethod
    def _keys(p: Process) -> list[tuple]:
        out = [("p", p.pid, p.start_ts, p)]
        anc, depth = p.parent, 0
        while anc is not None and depth < 2 and not is_service_root(anc):
            out.append(("a", anc.pid, anc.start_ts, anc))
            anc, depth = anc.parent, depth + 1
        return [(k[:3], k[3]) for k in out]

    def _judge(self, event: Event, b: _Bucket) -> Detection | None:
        prm = self.params
        host, ports = max(b.ports.items(), key=lambda kv: len(kv[1]))
        port, hosts = max(b.hosts.items(), key=lambda kv: len(kv[1]))
        vertical, horizontal = len(ports), len(hosts)
        wide = max(vertical, horizontal)
        if not ((wide >= prm.min_targets and b.failed >= prm.min_failed)
                or wide >= prm.min_targets_any):
            return None
        secs = max(0.0, (event.ts - b.start) / 1e9)
        who = describe_process(_as_event(event, b.proc))
        if vertical >= horizontal:
            what = f"{vertical} ports of {host} probed"
            subkind, target = "vertical", host
        else:
            what = f"port {port} probed on {horizontal} hosts"
            subkind, target = "horizontal", f"*:{port}"
        output = (f"Network port scan: {what} in {secs:.0f} s ({b.failed} of {b.attempts} "
                  f"attempts refused or unanswered) by {who}: "
                  f"{b.proc.cmdline() or '?'}")
        return build_detection(
            NAME, subkind, Priority.WARNING, output, TAGS, _as_event(event, b.proc),
            evidence=[event], ip=host if subkind == "vertical" else None,
            data={"targets": wide, "failed": b.failed, "attempts": b.attempts,
                  "target": target, "seconds": round(secs, 1)})


def _as_event(event: Event, proc: Process) -> Event:
    """The triggering event, told about the process the scan is counted for."""
    if proc is event.proc:
        return event
    import msgspec
    return msgspec.structs.replace(event, proc=proc)
