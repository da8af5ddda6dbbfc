"""One audit-trail record, its JSON line and its place in the hash chain (docs/audit.md).

A line is the record encoded as compact JSON with `hash` last:
`{"v":1,"seq":7,"type":"incident",...,"prev":"<64 hex>","hash":"<64 hex>"}`.
`hash` is the SHA-256 of the same line without its `,"hash":"..."` member (that is, of
the bytes `...,"prev":"<64 hex>"}`), and `prev` is the previous record's `hash`, so
changing a line breaks its own hash, and removing or inserting one breaks the next
record's `prev`. The first record of a trail has `prev` = `GENESIS`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import msgspec

VERSION = 1
GENESIS = "0" * 64
#: record types: an unsuppressed detection (with its incident id), a suppressed one (with
#: its reason), an incident's lifecycle (opened, escalated, closed), an alert given up on
DETECTION, SUPPRESSED, INCIDENT, DEAD_LETTER = "detection", "suppressed", "incident", \
    "dead_letter"
#: written by the trail itself when it found damage on open (`vigil.audit.seal`)
REPAIR = "repair"

_HASH_SUFFIX = re.compile(rb',"hash":"([0-9a-f]{64})"\}$')


class AuditRecord(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One line of the audit trail. Field order is the line's member order."""

    v: int = VERSION
    seq: int
    #: "detection", "suppressed", "incident", "dead_letter" or "repair"
    type: str
    #: when the record was written: ns since the epoch, and as ISO 8601 UTC
    at_ns: int
    at: str
    #: the detection's key (`detector:ssh_bruteforce`, `falco:<rule>`); for an incident
    #: record, the key of the detection that opened it
    key: str | None = None
    rule_id: str | None = None
    priority: str | None = None
    #: when the detection happened (ns since the epoch)
    ts: int | None = None
    ip: str | None = None
    user: str | None = None
    output: str | None = None
    #: for a suppressed detection: {"layer", "entry", "reason"}
    suppression: dict[str, Any] | None = None
    #: the whole detection (with its evidence events)
    detection: dict[str, Any] | None = None
    #: for a dead letter: the sink, the last error and the alert given up on
    sink: str | None = None
    error: str | None = None
    alert: dict[str, Any] | None = None
    #: the incident a detection belongs to (a suppressed one: the open story it is part of)
    incident_id: str | None = None
    #: for an incident record: "opened", "escalated" or "closed"
    event: str | None = None
    #: for an incident record: the incident document (docs/incidents.md)
    incident: dict[str, Any] | None = None
    #: for a repair: {"kind", "tamper", "detail"}: what was found wrong on open
    repair: dict[str, Any] | None = None
    #: the previous record's hash (GENESIS for the first record of a trail)
    prev: str = ""
    hash: str | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AuditRecord)


def seal(record: AuditRecord, prev: str) -> tuple[bytes, str]:
    """The record's line (with newline) chained after `prev`, and its hash."""
    body = _encoder.encode(msgspec.structs.replace(record, prev=prev, hash=None))
    digest = hashlib.sha256(body).hexdigest()
    return body[:-1] + b',"hash":"' + digest.encode() + b'"}\n', digest


def unseal(line: bytes) -> tuple[AuditRecord, str]:
    """Decode one line (without newline) and compute the hash it should carry.

    Raises `ValueError` when the line is not a record or has no well-formed `hash`.
    """
    m = _HASH_SUFFIX.search(line)
    if m is None:
        raise ValueError("no hash member at the end of the line")
    body = line[:m.start()] + b"}"
    try:
        record = _decoder.decode(line)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"not an audit record: {exc}") from None
    return record, hashlib.sha256(body).hexdigest()


def decode_record(line: bytes) -> AuditRecord:
    """Decode one line without checking its hash (for queries)."""
    try:
        return _decoder.decode(line)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"not an audit record: {exc}") from None
