"""Audit retention: the oldest rotated files go, and a signed checkpoint keeps the rest
provable.

`[audit] keep_days` and `max_total_bytes` bound the trail. Pruning deletes whole rotated
files, oldest first (never the file being written), while the oldest is older than
`keep_days` (its last record) or the trail is larger than `max_total_bytes`. Before a
file is deleted, the **checkpoint** (`audit.checkpoint`, beside the head) is rewritten:
the `seq` and `hash` of the last record being dropped, authenticated with the trail's key
(`mac = HMAC-SHA256(key, "vigil-audit-checkpoint" | seq | hash)`). `vigil audit verify`
starts the chain from it: the first remaining record must follow it exactly, so deleting
the oldest files by hand (without the key) still fails, and a forged checkpoint fails
its MAC. A crash between writing the checkpoint and deleting the file leaves records the
checkpoint already covers: the check accepts them when they chain up to it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import msgspec

from vigil.audit.layout import current_file, trail_files
from vigil.audit.record import unseal
from vigil.statedir import FILE_MODE

log = logging.getLogger(__name__)

_CONTEXT = b"vigil-audit-checkpoint"
_TAIL_CHUNK = 1 << 16


class Checkpoint(msgspec.Struct, kw_only=True):
    """Where the kept chain starts: the last record pruned."""

    v: int = 1
    seq: int
    hash: str
    #: rotated files pruned so far, and when the last pruning happened
    files: int = 0
    at_ns: int = 0
    mac: str = ""


_decoder = msgspec.json.Decoder(Checkpoint)


def checkpoint_path(trail: str | Path) -> Path:
    """The checkpoint file of the trail at `trail` (beside its head)."""
    return current_file(trail).with_suffix(".checkpoint")


def _mac(key: bytes, seq: int, digest: str) -> str:
    msg = b"%s\0%d\0%s" % (_CONTEXT, seq, digest.encode("ascii"))
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


class CheckpointError(ValueError):
    """The checkpoint exists but cannot be trusted (unreadable, or its MAC fails)."""


def read_checkpoint(trail: str | Path, key: bytes | None) -> Checkpoint | None:
    """The trail's checkpoint (None when it has none). With `key`, a checkpoint whose MAC
    does not verify raises `CheckpointError`."""
    path = checkpoint_path(trail)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CheckpointError(f"{path}: unreadable: {exc.strerror or exc}") from None
    try:
        cp = _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CheckpointError(f"{path}: not a checkpoint: {exc}") from None
    if key is not None and not hmac.compare_digest(cp.mac, _mac(key, cp.seq, cp.hash)):
        raise CheckpointError(f"{path}: its MAC does not verify (forged, or another key)")
    return cp


def _write_checkpoint(trail: str | Path, cp: Checkpoint) -> None:
    path = checkpoint_path(trail)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    try:
        os.write(fd, msgspec.json.encode(cp) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _last_record(f: Path) -> tuple[int, str, int] | None:
    """(seq, hash, written at ns) of a file's last record."""
    with open(f, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        start = max(0, size - _TAIL_CHUNK)
        while True:
            fh.seek(start)
            data = fh.read(size - start).rstrip(b"\n")
            cut = data.rfind(b"\n")
            if cut >= 0 or start == 0:
                line = data[cut + 1:]
                break
            start = max(0, start - _TAIL_CHUNK)
    if not line:
        return None
    rec, digest = unseal(line)
    return rec.seq, digest, rec.at_ns


@dataclass
class PruneResult:
    """What one pruning did."""

    files: int = 0
    bytes: int = 0
    checkpoint_seq: int | None = None


def prune(trail: str | Path, key: bytes, *, keep_days: float | None,
          max_total_bytes: int | None, now: float | None = None) -> PruneResult:
    """Delete the oldest rotated files the limits no longer allow, after checkpointing
    their last record. Never touches the file being written."""
    out = PruneResult()
    if not keep_days and not max_total_bytes:
        return out
    now = time.time() if now is None else now
    files = trail_files(trail)
    rotated = [f for f in files if f != current_file(trail)]
    sizes = {f: f.stat().st_size for f in files if f.exists()}
    total = sum(sizes.values())
    cp = read_checkpoint(trail, key)
    for f in rotated:
        try:
            last = _last_record(f)
        except (OSError, ValueError) as exc:
            log.error("audit: %s cannot be pruned (its last record: %s); kept", f, exc)
            break
        too_old = bool(keep_days) and last is not None and \
            now - last[2] / 1e9 > keep_days * 86400
        too_big = bool(max_total_bytes) and total > max_total_bytes
        if not (too_old or too_big):
            break
        if last is not None:
            seq, digest, _ = last
            cp = Checkpoint(seq=seq, hash=digest, files=(cp.files if cp else 0) + 1,
                            at_ns=int(now * 1e9), mac=_mac(key, seq, digest))
            _write_checkpoint(trail, cp)
            out.checkpoint_seq = seq
        f.unlink()
        out.files += 1
        out.bytes += sizes.get(f, 0)
        total -= sizes.get(f, 0)
    if out.files:
        log.info("audit: pruned %d file(s), %d bytes; the kept chain starts after seq %s",
                 out.files, out.bytes, out.checkpoint_seq)
    return out
