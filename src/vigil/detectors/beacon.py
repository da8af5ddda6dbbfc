"""`beacon`: command-and-control beaconing — one program (or one script's loop of short
clients) calling the same remote host at a steady interval, carrying encoded data or a
forged browser identity.

Connections (`connect`, TCP, to a non-loopback address) are counted per destination and
per *caller*: the connecting process, or — for a short client started by a shell
(`while :; do curl ...; sleep 5; done`) — that shell, so a loop of curls is one caller.
Reported (`beacon.periodic`, Warning) when a caller reaches `min_connections` within
`window_seconds`, their intervals are regular (median absolute deviation at most
`max_jitter` of the median interval), and at least one call carried a sign of C2 in its
command line: a base64/hex token in the URL (host data sent out encoded), or a browser
or Windows user agent forged by a command-line client. Periodic calls without such a
sign (a metrics push, a health check loop) are not reported: that is the line between a
monitoring script and an implant this detector can see from the kernel.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import ClassVar

from vigil.detections import Detection
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.detection_builder import build_detection, describe_process
from vigil.detectors.expiring_map import ExpiringMap
from vigil.detectors.params import minimum
from vigil.detectors.process_identity import AgentIdentity, is_shell
from vigil.events.model import Event
from vigil.priority import Priority

NAME = "beacon"
TAGS = ("attack.command_and_control", "T1071.001", "T1132.001", "T1573")
_EINPROGRESS = -115
_URL_PART = re.compile(r"[?&/=]")
_TOKEN = re.compile(r"^[A-Za-z0-9+_]{16,}={0,2}$")
_UA_OPTIONS = ("-A", "--user-agent", "-U")
_FORGED_UA = re.compile(r"Mozilla|MSIE|Trident|Windows NT|Chrome/|Safari/", re.I)
_CLIENTS = frozenset({"curl", "wget", "wget2", "http", "xh", "busybox", "lwp-request"})


@dataclass(frozen=True)
class BeaconParams(DetectorParams):
    """`[detectors.beacon]`."""

    DETECTOR: ClassVar[str] = NAME
    window_seconds: float = field(default=600.0, metadata=minimum(1))
    #: connections of one caller to one destination that make a beacon
    min_connections: int = field(default=8, metadata=minimum(3))
    #: allowed spread of the intervals, as a fraction of their median
    max_jitter: float = field(default=0.35, metadata=minimum(0))


def _entropy(text: str) -> float:
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def encoded_token(args: list[str]) -> str | None:
    """A base64/hex-looking token in a URL of the arguments (host data sent encoded)."""
    for a in args:
        if "://" not in a:
            continue
        for part in _URL_PART.split(a.split("://", 1)[1]):
            if _TOKEN.match(part) and _entropy(part) >= 3.5 and sum(
                    (any(c.islower() for c in part), any(c.isupper() for c in part),
                     any(c.isdigit() for c in part))) >= 2:
                return part
    return None


def forged_user_agent(binary: str, args: list[str]) -> str | None:
    """A browser or Windows user agent given to a command-line HTTP client."""
    if binary not in _CLIENTS:
        return None
    for i, a in enumerate(args):
        value = None
        if a in _UA_OPTIONS and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith("--user-agent="):
            value = a.split("=", 1)[1]
        elif a in ("-H", "--header") and i + 1 < len(args) and \
                args[i + 1].lower().startswith("user-agent:"):
            value = args[i + 1]
        if value and _FORGED_UA.search(value):
            return value
    return None


@dataclass
class _Calls:
    times: deque = field(default_factory=lambda: deque(maxlen=64))
    signs: list[str] = field(default_factory=list)
    reported: bool = False


class BeaconDetector(BuiltinDetector):
    """Regular calls to one remote host carrying encoded data or a forged identity."""

    name = NAME
    Params = BeaconParams
    event_types = frozenset({"connect"})

    params: BeaconParams

    def __init__(self, params: BeaconParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        self._calls: ExpiringMap[tuple[int, str, int], _Calls] = ExpiringMap(
            int(self.params.window_seconds * 1e9))

    def on_event(self, event: Event) -> list[Detection]:
        """Count a connection; report a regular caller that shows a sign of C2."""
        fd, proc = event.fd, event.proc
        if fd is None or fd.type not in ("ipv4", "ipv6") or fd.l4proto not in (None, "tcp") \
                or not fd.rip or fd.rport is None or proc.pid is None:
            return []
        if event.res is not None and event.res < 0 and event.res != _EINPROGRESS:
            return []
        if fd.rip.startswith("127.") or fd.rip == "::1" or self.own.owns(proc):
            return []
        parent = proc.parent
        caller = parent if parent is not None and parent.pid not in (None, 1) \
            and is_shell(parent) and not is_shell(proc) else proc
        key = (caller.pid or 0, fd.rip, fd.rport)
        calls = self._calls.get(key, event.ts)
        if calls is None:
            calls = _Calls()
        calls.times.append(event.ts)
        self._calls.put(key, event.ts, calls)
        binary = (proc.exepath or proc.name or "").rpartition("/")[2]
        sign = encoded_token(proc.args)
        if sign:
            calls.signs.append(f"encoded data in the URL ({sign[:40]})")
        ua = forged_user_agent(binary, proc.args)
        if ua:
            calls.signs.append(f"forged user agent ({ua[:60]})")
        if calls.reported or not calls.signs or len(calls.times) < self.params.min_connections:
            return []
        times = list(calls.times)
        gaps = [b - a for a, b in zip(times, times[1:])]
        median = statistics.median(gaps)
        if median <= 0:
            return []
        spread = statistics.median(abs(g - median) for g in gaps) / median
        if spread > self.params.max_jitter:
            return []
        calls.reported = True
        signs = sorted(set(s.split(" (")[0] for s in calls.signs))
        output = (f"Beacon: {describe_process(event)} and the same caller (pid {caller.pid}) "
                  f"connected to {fd.rip}:{fd.rport} {len(times)} times every "
                  f"{median / 1e9:.1f} s (jitter {spread:.0%}), with "
                  f"{'; '.join(dict.fromkeys(calls.signs))}: {proc.cmdline() or '?'}")
        return [build_detection(NAME, "periodic", Priority.WARNING, output, TAGS, event,
                                ip=fd.rip, data={"connections": len(times),
                                                 "interval_s": round(median / 1e9, 3),
                                                 "jitter": round(spread, 3), "signs": signs,
                                                 "caller_pid": caller.pid})]
