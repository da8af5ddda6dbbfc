"""Check an audit trail's hash chain and report the first broken line as `file:line`.

Every file of the trail is read in order (`vigil.audit.layout.trail_files`). A line is
broken when it is not a record, when its `hash` is not the SHA-256 of its content (the
line was edited), when its `prev` is not the previous record's hash (a record before it
was removed, inserted or edited along with its hash), or when its `seq` does not follow.
The check stops at the first break: everything after it cannot be trusted anyway.

What a chain cannot show: records cut from the very end of the trail leave no trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vigil.audit.layout import trail_files
from vigil.audit.record import GENESIS, unseal


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of `verify_trail`."""

    ok: bool
    records: int
    files: int
    #: where the chain breaks (`path:line`) and why; None when intact
    location: str | None = None
    problem: str | None = None
    last_hash: str = GENESIS

    def message(self) -> str:
        """One line for humans."""
        if self.ok:
            return (f"OK: {self.records} records in {self.files} file(s), chain intact "
                    f"(last hash {self.last_hash[:16]}...)")
        return f"{self.location}: {self.problem} (after {self.records} valid records)"


def verify_trail(path: str | Path) -> VerifyResult:
    """Verify the trail at `path` (a directory or a `.jsonl` file)."""
    files = trail_files(path)
    prev, seq, count = GENESIS, None, 0
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
                        if rec.hash != digest:
                            problem = "content does not match its hash (the line was edited)"
                        elif rec.prev != prev:
                            problem = ("prev does not match the previous record's hash "
                                       "(a record before this line was removed, inserted "
                                       "or rewritten)")
                        elif seq is not None and rec.seq != seq + 1:
                            problem = f"seq {rec.seq} does not follow {seq}"
                if problem is not None:
                    return VerifyResult(False, count, len(files), where, problem, prev)
                prev, seq, count = digest, rec.seq, count + 1
    return VerifyResult(True, count, len(files), last_hash=prev)
