"""The peer address a log line names, as `auth.*` event arguments.

sshd and PAM write the client's address as an IPv4 or IPv6 literal (sometimes IPv4-mapped,
`::ffff:192.0.2.1`, or bracketed), or as a host name when `UseDNS` is on. Detectors count
per address, so one address must always read the same: an IP literal becomes `src_ip` in
its canonical form, anything else `src_host`.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

_MAX_PORT = 65535


def address_args(text: str | None, port: str | None = None) -> dict[str, Any]:
    """`{"src_ip": ...}` when `text` is an IP literal, else `{"src_host": ...}`; plus
    `src_port` when `port` is a valid port number. Empty input gives `{}`."""
    out: dict[str, Any] = {}
    if text:
        ip = canonical_ip(text)
        if ip is None:
            out["src_host"] = text
        else:
            out["src_ip"] = ip
    if port and port.isdigit() and len(port) <= 5 and int(port) <= _MAX_PORT:
        out["src_port"] = int(port)
    return out


@lru_cache(maxsize=65536)
def canonical_ip(text: str) -> str | None:
    """The canonical form of an IP literal (IPv4-mapped IPv6 as IPv4, brackets dropped),
    None when `text` is not one. Cached: attackers repeat their addresses."""
    candidate = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        ip = ipaddress.ip_address(candidate)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)
