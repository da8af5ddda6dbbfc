"""Static knowledge for `dns_tunnel`: DNS services that are asked encoded questions.

Always true, everywhere: mail filters query block lists with hashed or reversed
addresses (Spamhaus DBL/ZEN hash lists, SURBL, URIBL), DKIM keys live under
`_domainkey`, reverse lookups spell addresses out under `in-addr.arpa`/`ip6.arpa`
(an IPv6 one is 32 nibbles), and some anti-virus engines look file hashes up over DNS.
Their long labels are lookups, not tunnels; they are audited, never alerted.
"""

from __future__ import annotations

#: name suffixes (with the leading dot) of lookup services; a name ending so is exempt
LOOKUP_SERVICE_SUFFIXES: tuple[str, ...] = (
    ".in-addr.arpa", ".ip6.arpa", "._domainkey", ".spamhaus.org", ".spamhaus.net",
    ".dq.spamhaus.net", ".surbl.org", ".uribl.com", ".sorbs.net", ".barracudacentral.org",
    ".mailspike.net", ".abuseat.org", ".spamcop.net", ".dnswl.org", ".hashbl.org",
    ".avqs.mcafee.com", ".sophosxl.net", ".e5.sk", ".cymru.com",
)
