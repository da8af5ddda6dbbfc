"""The trail's sealed head: its last record's `seq` and `hash`, authenticated with a key.

A hash chain shows an edited, inserted or removed record, but not records cut off the
end, nor a chain rewritten from some record onwards with every hash recomputed: anyone
can compute SHA-256. The head closes both gaps for whoever does not hold the key:

- the **key** (`audit.key`, 32 random bytes as hex, 0600) is kept outside the trail's
  directory (beside it by default, `[audit] key_path` to put it elsewhere);
- the **head** (`audit.head` in the trail's directory) holds `seq`, `hash` and
  `mac = HMAC-SHA256(key, "vigil-audit-head" | seq | hash)` of the last record, rewritten
  after every record. Cutting records off the end leaves the head ahead of the trail;
  rewriting records leaves the head naming a hash the trail no longer has; forging a
  head needs the key.

The head is written in one of two fixed-size slots (by `seq` parity) with one `pwrite`,
so a write torn by a power cut leaves the other slot — the previous head — intact. The
reader takes the valid slot with the higher `seq`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import msgspec

from vigil.audit.layout import current_file
from vigil.statedir import FILE_MODE

KEY_BYTES = 32
_MAC_CONTEXT = b"vigil-audit-head"
#: bytes per slot of the head file; a head line is about 190 bytes
SLOT_SIZE = 256


class SealError(RuntimeError):
    """The key cannot be read or created."""


class Head(msgspec.Struct, kw_only=True):
    """One slot of the head file."""

    v: int = 1
    seq: int
    hash: str
    mac: str


@dataclass(frozen=True)
class HeadState:
    """What the head file says: the newest valid head (None when there is none) and
    whether a slot was present but not valid (damaged, or forged without the key)."""

    head: Head | None
    invalid_slots: int = 0
    exists: bool = True


def default_key_path(trail: str | Path) -> Path:
    """Where the key of the trail at `trail` lives unless configured: beside the trail's
    directory (`/var/lib/vigil/audit` -> `/var/lib/vigil/audit.key`), or beside a trail
    given as a `.jsonl` file (`x/trail.jsonl` -> `x/trail.key`)."""
    p = Path(trail)
    if p.suffix == ".jsonl":
        return p.with_suffix(".key")
    return p.parent / (p.name + ".key")


def head_path(trail: str | Path) -> Path:
    """The head file of the trail at `trail` (in the trail's directory)."""
    return current_file(trail).with_suffix(".head")


def mac_of(key: bytes, seq: int, digest: str) -> str:
    """The head's MAC for record `seq` with hash `digest`."""
    msg = b"%s\0%d\0%s" % (_MAC_CONTEXT, seq, digest.encode("ascii"))
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def read_key(path: Path) -> bytes | None:
    """The key at `path`; None when the file does not exist. Raises `SealError` when
    it exists but is not a key."""
    try:
        text = path.read_text("ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise SealError(f"{path}: cannot read the audit key: {exc}") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise SealError(f"{path}: not an audit key ({KEY_BYTES * 2} hex digits expected)")
    return key


def create_key(path: Path) -> bytes:
    """Create a new random key at `path` (0600); raises `SealError` if it exists."""
    key = secrets.token_bytes(KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    except OSError as exc:
        raise SealError(f"{path}: cannot create the audit key: {exc.strerror or exc}") from None
    try:
        os.write(fd, key.hex().encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


_head_decoder = msgspec.json.Decoder(Head)


def read_head(path: Path, key: bytes | None) -> HeadState:
    """Read both slots; with `key`, only slots whose MAC verifies count as valid."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return HeadState(None, exists=False)
    best: Head | None = None
    invalid = 0
    for off in (0, SLOT_SIZE):
        raw = data[off:off + SLOT_SIZE].rstrip(b" \n\0")
        if not raw:
            continue
        try:
            h = _head_decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            invalid += 1
            continue
        if key is not None and not hmac.compare_digest(h.mac, mac_of(key, h.seq, h.hash)):
            invalid += 1
            continue
        if best is None or h.seq > best.seq:
            best = h
    return HeadState(best, invalid)


class HeadWriter:
    """Rewrites the head file after each record (one `pwrite`, no fsync: `sync()` does
    that, with the trail's own fsync)."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._key = key
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)

    def write(self, seq: int, digest: str) -> None:
        """Seal record `seq` with hash `digest` as the trail's head."""
        os.pwrite(self._fd, self._slot(seq, digest), (seq % 2) * SLOT_SIZE)

    def _slot(self, seq: int, digest: str) -> bytes:
        line = msgspec.json.encode(Head(seq=seq, hash=digest,
                                        mac=mac_of(self._key, seq, digest)))
        return line.ljust(SLOT_SIZE - 1) + b"\n"

    def reset(self, seq: int, digest: str) -> None:
        """Start the head file afresh at record `seq` (both slots), after the trail was
        opened and reconciled: a stale slot from before a truncation must not outrank it.
        Replaced whole (write, fsync, rename), so a crash leaves the old or the new file."""
        slot = self._slot(seq, digest)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
        try:
            os.write(fd, slot + slot)
            os.fsync(fd)
            os.replace(tmp, self.path)
        except BaseException:
            os.close(fd)
            raise
        os.close(self._fd)
        self._fd = fd

    def sync(self) -> None:
        """fsync the head file."""
        os.fsync(self._fd)

    def close(self) -> None:
        """fsync and close; safe to call twice."""
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
