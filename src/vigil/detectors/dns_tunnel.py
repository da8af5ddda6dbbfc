"""`dns_tunnel`: data carried in DNS query names, and algorithmically generated domains.

Reads the question of every DNS query the sensor saw leave (`Event.dns`: `dns.qname`,
`dns.qtype`, whatever the syscall and whichever resolver it went to, loopback included).

- `dns_tunnel.encoded_labels`: one process asks, within `window_seconds`, at least
  `min_encoded` distinct names under one domain whose longest label looks like encoded
  data: at least `min_label_length` characters that are all hex digits, or whose Shannon
  entropy is at least `min_entropy` bits per character, or any label of 52 characters and
  more (DNS allows 63). That is how dnscat2, iodine, DNSExfiltrator and friends carry
  data (`4a6f...e2.0.c2.example.com`, TXT polls included).
- `dns_tunnel.query_rate`: one process asks at least `max_names_per_domain` distinct names
  under one domain within the window, with labels longer than a host name's
  (`min_rate_label_length`): a tunnel with short chunks.
- `dns_tunnel.dga`: one process asks at least `min_dga_domains` distinct registered
  domains whose name looks generated (long, high entropy, few vowels, mixed digits)
  within the window: malware looking for its rendezvous domain.

One detection per process, domain and kind per window. The domain is the last two
labels of the name (no public-suffix list: `a.b.co.uk` counts under `co.uk`, which only
makes a tunnel under a country-code domain easier to reach the threshold).

Static allowlist (`dns_tunnel_allowlist.py`): `lookup_services` — names under domains
whose job is to answer encoded questions (DNS block lists queried by mail filters,
`_domainkey` DKIM keys, reverse lookups `in-addr.arpa`/`ip6.arpa`, anti-virus hash
lookups).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

from vigil.detections import Detection
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.dns_tunnel_allowlist import LOOKUP_SERVICE_SUFFIXES
from vigil.detectors.expiring_map import ExpiringMap
from vigil.detectors.params import minimum
from vigil.detectors.process_identity import AgentIdentity
from vigil.events.model import Event
from vigil.pipeline import DNS_EVENTS
from vigil.priority import Priority

NAME = "dns_tunnel"
TAGS = ("attack.command_and_control", "T1071.004", "T1572", "attack.exfiltration",
        "T1048.003", "T1568.002")
_HEX = re.compile(r"^[0-9a-f]+$")
_VOWELS = frozenset("aeiou")
_QTYPES = {1: "A", 28: "AAAA", 16: "TXT", 5: "CNAME", 15: "MX", 10: "NULL", 255: "ANY"}


@dataclass(frozen=True)
class DnsTunnelParams(DetectorParams):
    """`[detectors.dns_tunnel]`."""

    DETECTOR: ClassVar[str] = NAME
    window_seconds: float = field(default=60.0, metadata=minimum(1))
    #: a label this long (or longer) that is hex or high-entropy is encoded data
    min_label_length: int = field(default=24, metadata=minimum(8))
    #: bits per character that make a long label look encoded (English names: ~3-3.5)
    min_entropy: float = field(default=3.9, metadata=minimum(0))
    #: encoded names under one domain, from one process, that make a tunnel
    min_encoded: int = field(default=5, metadata=minimum(1))
    #: distinct names under one domain from one process that make a tunnel ...
    max_names_per_domain: int = field(default=60, metadata=minimum(2))
    #: ... when their longest labels average at least this many characters
    min_rate_label_length: int = field(default=12, metadata=minimum(1))
    #: distinct generated-looking domains from one process that make a DGA
    min_dga_domains: int = field(default=8, metadata=minimum(2))


def entropy(text: str) -> float:
    """Shannon entropy of `text`, bits per character."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def split_name(qname: str) -> tuple[list[str], str]:
    """Labels of a query name (lower case, no trailing dot) and its domain (last two)."""
    labels = [x for x in qname.lower().rstrip(".").split(".") if x]
    return labels, ".".join(labels[-2:])


def looks_encoded(label: str, min_length: int, min_entropy: float) -> bool:
    """A label that carries data: long, and hex or random-looking; or near DNS's limit."""
    if len(label) >= 52:
        return True
    if len(label) < min_length:
        return False
    # hyphenated words (`my-load-balancer-1234567890`) are names people chose
    return bool(_HEX.match(label)) or (label.count("-") < 2
                                       and entropy(label) >= min_entropy)


def looks_generated(word: str) -> bool:
    """A registered-domain label that looks machine-made (`xjw3kq9vbn2lp`), not a word
    or a brand (`wikipedia`, `my-shop-online`)."""
    if len(word) < 10 or "-" in word:
        return False
    letters = [c for c in word if c.isalpha()]
    digits = sum(c.isdigit() for c in word)
    vowel_ratio = sum(c in _VOWELS for c in letters) / max(len(letters), 1)
    return entropy(word) >= 3.3 and (vowel_ratio < 0.25 or (digits >= 2 and
                                                             vowel_ratio < 0.35))


@dataclass
class _Tally:
    names: set[str] = field(default_factory=set)
    encoded: set[str] = field(default_factory=set)
    label_chars: int = 0
    qtypes: Counter = field(default_factory=Counter)
    reported: set[str] = field(default_factory=set)


class DnsTunnelDetector(BuiltinDetector):
    """Encoded data in DNS names, floods of names under one domain, generated domains."""

    name = NAME
    Params = DnsTunnelParams
    event_types = frozenset({DNS_EVENTS})

    params: DnsTunnelParams

    def __init__(self, params: DnsTunnelParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        window_ns = int(self.params.window_seconds * 1e9)
        #: (pid, domain) -> tally of the window (the window starts at the first query)
        self._tallies: ExpiringMap[tuple[int | None, str], _Tally] = ExpiringMap(window_ns)
        #: pid -> generated-looking domains asked in the window
        self._dga: ExpiringMap[int | None, set[str]] = ExpiringMap(window_ns)

    def on_event(self, event: Event) -> list[Detection]:
        """Count the query's name; report a tunnel or a DGA when a threshold is crossed."""
        q = event.dns
        if q is None or not q.qname or self.own.owns(event.proc):
            return []
        labels, domain = split_name(q.qname)
        if len(labels) < 2:
            return []
        p = self.params
        pid = event.proc.pid
        out: list[Detection] = []
        key = (pid, domain)
        tally = self._tallies.get(key, event.ts)
        if tally is None:
            tally = _Tally()
            self._tallies.put(key, event.ts, tally)
        name = ".".join(labels)
        sub = labels[:-2]
        longest = max(sub, key=len) if sub else ""
        if name not in tally.names:
            tally.names.add(name)
            tally.label_chars += len(longest)
            tally.qtypes[_QTYPES.get(q.qtype or 0, f"TYPE{q.qtype}")] += 1
            if sub and looks_encoded(longest, p.min_label_length, p.min_entropy):
                tally.encoded.add(name)
        if len(tally.encoded) >= p.min_encoded and "encoded_labels" not in tally.reported:
            tally.reported.add("encoded_labels")
            out.append(self._tunnel(event, "encoded_labels", domain, tally,
                                    f"{len(tally.encoded)} names with encoded labels"))
        elif (len(tally.names) >= p.max_names_per_domain
              and tally.label_chars / len(tally.names) >= p.min_rate_label_length
              and "query_rate" not in tally.reported):
            tally.reported.add("query_rate")
            out.append(self._tunnel(event, "query_rate", domain, tally,
                                    f"{len(tally.names)} distinct names"))
        if len(labels) >= 2 and looks_generated(labels[-2]):
            seen = self._dga.get(pid, event.ts)
            if seen is None:
                seen = set()
                self._dga.put(pid, event.ts, seen)
            if domain not in seen:
                seen.add(domain)
                if len(seen) == p.min_dga_domains:
                    out.append(self._report_dga(event, sorted(seen)))
        return out

    def _suppression(self, domain: str, qname: str):
        for suffix in LOOKUP_SERVICE_SUFFIXES:
            if qname.endswith(suffix) or domain == suffix.lstrip("."):
                return static_suppression(NAME, "lookup_services", suffix,
                                          "services that answer encoded questions by design")
        return None

    def _tunnel(self, event: Event, kind: str, domain: str, tally: _Tally,
                what: str) -> Detection:
        q = event.dns
        assert q is not None
        sample = sorted(tally.encoded or tally.names)[:3]
        types = ", ".join(f"{t} {n}" for t, n in tally.qtypes.most_common(3))
        output = (f"DNS tunnelling: {describe_process(event)} asked {what} under {domain} "
                  f"within {self.params.window_seconds:g} s (types: {types}) via "
                  f"{q.server or '?'}:{q.port or '?'}; e.g. {', '.join(sample)}: "
                  f"{event.proc.cmdline() or '?'}")
        return build_detection(
            NAME, kind, Priority.ERROR, output, TAGS, event, ip=q.server,
            data={"domain": domain, "names": len(tally.names), "encoded": len(tally.encoded),
                  "qtypes": dict(tally.qtypes), "sample": sample, "resolver": q.server},
            suppressed=self._suppression(domain, (q.qname or "").lower().rstrip(".")))

    def _report_dga(self, event: Event, domains: list[str]) -> Detection:
        q = event.dns
        assert q is not None
        output = (f"DGA-like domain names: {describe_process(event)} looked up {len(domains)} "
                  f"generated-looking domains within {self.params.window_seconds:g} s "
                  f"({', '.join(domains[:5])}): {event.proc.cmdline() or '?'}")
        return build_detection(NAME, "dga", Priority.WARNING, output, TAGS, event,
                               ip=q.server, data={"domains": domains[:20]})
