"""Check an audit trail: its hash chain, its sealed head, and the repairs it recorded.

Every file of the trail is read in order (`vigil.audit.layout.trail_files`). A line is
broken when it is not a record, when its `hash` is not the SHA-256 of its content (the
line was edited), when its `prev` is not the previous record's hash — the previous
line's, or for a file's first line the previous file's last record's (a record before it
was removed, inserted or edited along with its hash) — or when its `seq` does not follow.
The check stops at the first break: everything after it cannot be trusted anyway.

Then the sealed head (`vigil.audit.seal`), unless `chain_only`: with the key, the head
says which record was the last one written and its hash. A trail that ends before the
head was cut; a head whose record has another hash means the chain was rewritten with
recomputed hashes; records after the head were not sealed.

Last, `repair` records: damage the agent found when it opened the trail. Tampering
(records removed or rewritten, key or head deleted) fails the check for good, since the
trail can no longer vouch for what was lost; a crash's unfinished line is a note.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from vigil.audit.layout import trail_files
from vigil.audit.record import GENESIS, REPAIR, unseal
from vigil.audit.retention import (Checkpoint, CheckpointError, checkpoint_path,
                                   read_checkpoint)
from vigil.audit.seal import (Head, SealError, default_key_path, head_path, read_head,
                              read_key)

#: how many of the last records' hashes are kept to match a head re-read after the walk
_TAIL = 256


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of `verify_trail`."""

    ok: bool
    records: int
    files: int
    #: where the trail fails (`path:line`, or a file) and why; None when it passes
    location: str | None = None
    problem: str | None = None
    last_hash: str = GENESIS
    #: True when the sealed head was checked and matches
    sealed: bool = False
    #: repairs recorded by the agent that are not tampering (crash damage), as lines
    notes: tuple[str, ...] = field(default_factory=tuple)

    def message(self) -> str:
        """One line for humans (and one more per note)."""
        if self.ok:
            head = ("sealed head matches" if self.sealed
                    else "head not checked (--chain-only)")
            text = (f"OK: {self.records} records in {self.files} file(s), chain intact, "
                    f"{head} (last hash {self.last_hash[:16]}...)")
        else:
            text = f"{self.location}: {self.problem} (after {self.records} valid records)"
        return "\n".join([text, *(f"note: {n}" for n in self.notes)])


@dataclass
class _Walk:
    count: int = 0
    seq: int = 0
    prev: str = GENESIS
    where: str = ""
    #: (seq, hash, where) of the last records
    tail: deque[tuple[int, str, str]] = field(default_factory=lambda: deque(maxlen=_TAIL))
    #: (where, repair member) of every repair record
    repairs: list[tuple[str, dict]] = field(default_factory=list)
    #: the hash and place of the record the head (read before the walk) names
    at_head: tuple[str, str] | None = None


def verify_trail(path: str | Path, key_path: str | Path | None = None, *,
                 chain_only: bool = False) -> VerifyResult:
    """Verify the trail at `path` (a directory or a `.jsonl` file). The key is read from
    `key_path` (default: beside the trail, `vigil.audit.seal.default_key_path`)."""
    files = trail_files(path)
    kpath = Path(key_path) if key_path is not None else default_key_path(path)
    hpath = head_path(path)
    try:
        key = None if chain_only else read_key(kpath)
    except SealError as exc:
        return VerifyResult(False, 0, len(files), str(kpath), str(exc))
    # the head before the records: the agent writes a record, then its head, so a head
    # read first never names a record the walk will not see
    before = read_head(hpath, key) if key is not None else None
    try:
        checkpoint = read_checkpoint(path, key)
    except CheckpointError as exc:
        return VerifyResult(False, 0, len(files), str(checkpoint_path(path)), str(exc))
    walk = _Walk()
    broken = _walk_chain(files, walk, before.head if before is not None else None,
                         checkpoint)
    if broken is not None:
        where, problem = broken
        return VerifyResult(False, walk.count, len(files), where, problem, walk.prev)

    def fail(where: str, problem: str) -> VerifyResult:
        return VerifyResult(False, walk.count, len(files), where, problem, walk.prev)

    if not chain_only:
        if key is None:
            if hpath.exists():
                return fail(str(kpath), "the audit key is missing, so the sealed head cannot "
                                        "be checked (give it with --key)")
            if walk.count:
                return fail(str(kpath), "no audit key: the trail's end cannot be checked "
                                        "(give the key with --key, or --chain-only to check "
                                        "the chain alone)")
        else:
            problem = _check_head(walk, before.head, hpath, key,
                                  before.invalid_slots)  # type: ignore[union-attr]
            if problem is not None:
                return fail(*problem)
    notes = []
    for where, rep in walk.repairs:
        detail = str(rep.get("detail", "")) or "no detail"
        if rep.get("tamper", True):
            return fail(where, f"the agent found the trail damaged when it opened it: "
                               f"{detail}")
        notes.append(f"{where}: {detail}")
    return VerifyResult(True, walk.count, len(files), last_hash=walk.prev,
                        sealed=not chain_only, notes=tuple(notes))


def _walk_chain(files: list[Path], walk: _Walk, head: Head | None,
                checkpoint: Checkpoint | None = None) -> tuple[str, str] | None:
    """Check every line in order; (where, problem) at the first break, else None. With a
    retention checkpoint the chain starts from it: the first record after it must follow
    it exactly; records it covers (a pruning cut short) must chain up to it."""
    seq: int | None = None
    first = True
    for f in files:
        with open(f, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                line = raw.rstrip(b"\n")
                where = f"{f}:{lineno}"
                problem = None
                if not raw.endswith(b"\n"):
                    problem = "unfinished last line"
                elif not line:
                    problem = "empty line"
                else:
                    try:
                        rec, digest = unseal(line)
                    except ValueError as exc:
                        problem = f"not a valid record: {exc}"
                    else:
                        if first and checkpoint is not None:
                            if rec.seq <= checkpoint.seq:
                                walk.prev = rec.prev  # pruned before it: covered below
                            elif rec.seq != checkpoint.seq + 1:
                                problem = (f"the trail starts at seq {rec.seq} but the "
                                           f"retention checkpoint ends at seq "
                                           f"{checkpoint.seq}: records in between were "
                                           "removed")
                            else:
                                walk.prev = checkpoint.hash
                        first = False
                        if problem is not None:
                            pass
                        elif rec.hash != digest:
                            problem = "content does not match its hash (the line was edited)"
                        elif rec.prev != walk.prev:
                            problem = ("prev does not match the previous record's hash "
                                       "(a record before this line was removed, inserted "
                                       "or rewritten)")
                        elif seq is not None and rec.seq != seq + 1:
                            problem = f"seq {rec.seq} does not follow {seq}"
                        elif checkpoint is not None and rec.seq == checkpoint.seq \
                                and digest != checkpoint.hash:
                            problem = ("this is not the record the retention checkpoint "
                                       "names (rewritten)")
                if problem is not None:
                    return where, problem
                seq = rec.seq
                walk.prev, walk.seq, walk.count, walk.where = digest, rec.seq, walk.count + 1, where
                walk.tail.append((rec.seq, digest, where))
                if head is not None and rec.seq == head.seq:
                    walk.at_head = (digest, where)
                if rec.type == REPAIR:
                    walk.repairs.append((where, rec.repair or {}))
    return None


def _check_head(walk: _Walk, head: Head | None, hpath: Path, key: bytes,
                invalid_slots: int) -> tuple[str, str] | None:
    """(where, problem) when the trail does not end at its sealed head, else None."""
    if head is None:
        if not walk.count and invalid_slots == 0:
            return None  # a new, empty trail
        what = "damaged or forged (its MAC does not verify)" if invalid_slots else "missing"
        return str(hpath), (f"the sealed head is {what}: the trail's end cannot be checked")
    last = walk.where or str(hpath)
    if head.seq > walk.seq:
        return last, (f"records were removed from the end: the trail ends at seq {walk.seq} "
                      f"but its sealed head is seq {head.seq} ({head.seq - walk.seq} "
                      "record(s) missing)")
    if head.seq == 0:
        at = (GENESIS, str(hpath))
    else:
        at = walk.at_head  # type: ignore[assignment]
    if at is None or at[0] != head.hash:
        where = at[1] if at is not None else last
        return where, (f"record seq {head.seq} is not the one that was sealed: the trail was "
                       "rewritten up to this record with recomputed hashes (forged)")
    if walk.seq > head.seq:
        # a running agent may have written records since the head was read: read it again
        time.sleep(0.05)
        again = read_head(hpath, key).head
        known = {s: h for s, h, _w in walk.tail}
        if again is not None and again.seq <= walk.seq and known.get(again.seq) == again.hash:
            head = again
    if walk.seq > head.seq:
        return last, (f"{walk.seq - head.seq} record(s) after the sealed head (seq "
                      f"{head.seq}) are not sealed: the agent stopped between writing the "
                      "last record and sealing it (its next start seals it), or they were "
                      "appended by someone without the key")
    return None
