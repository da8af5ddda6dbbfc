"""The question of a DNS query, read from the first bytes of its payload.

The kernel copies at most the first 288 bytes of what a process sends to a DNS port
(`vigil.bpf.c`, DNS_MAX): enough for the header and one full question, not always for a
whole message. A DNS library (dnspython) would reject such a cut message as a whole; only
the question is needed here, so it is read directly: header, then the labels of the first
question's name, then its type. Anything that is not a well-formed query question gives
None, and the caller counts it.
"""

from __future__ import annotations

_HEADER = 12
_MAX_NAME = 255
#: bytes kept as they are in a name; everything else is written \\DDD (decimal), as dig does
_PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_*")

def _label(raw: bytes) -> str:
    if all(b in _PLAIN for b in raw):
        return raw.decode("ascii")
    return "".join(chr(b) if b in _PLAIN else f"\\{b:03d}" for b in raw)


def parse_question(payload: bytes, stream: bool = False) -> tuple[str, int] | None:
    """(name, type) of the first question of a DNS query, or None when the payload is not
    one. `stream`: the payload was sent on a TCP socket (a 2-byte length comes first)."""
    data = payload[2:] if stream else payload
    if len(data) < _HEADER + 5:
        return None
    flags, qdcount = data[2], data[4] << 8 | data[5]
    # a query (QR = 0) of a standard kind (opcode 0 QUERY .. 5 UPDATE), with a question
    if flags & 0x80 or (flags >> 3) & 0xF > 5 or qdcount == 0:
        return None
    labels: list[str] = []
    pos, size = _HEADER, 0
    while True:
        if pos >= len(data):
            return None
        n = data[pos]
        if n == 0:
            pos += 1
            break
        if n > 63:  # a compression pointer or a reserved label type: not in a query's question
            return None
        size += n + 1
        if size > _MAX_NAME or pos + 1 + n > len(data):
            return None
        labels.append(_label(data[pos + 1:pos + 1 + n]))
        pos += 1 + n
    if pos + 4 > len(data):
        return None
    qtype = data[pos] << 8 | data[pos + 1]
    qclass = data[pos + 2] << 8 | data[pos + 3]
    if qtype == 0 or qclass not in (1, 3, 4, 254, 255):
        return None
    return ".".join(labels) or ".", qtype
