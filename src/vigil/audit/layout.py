"""Where a trail's files are and in which order they are read.

A trail lives in a directory: the file being written is `audit.jsonl`; rotated files are
`audit-<YYYYmmddTHHMMSSZ>[-N].jsonl`, named after the moment of rotation, so sorting by
name is chronological. A path ending in `.jsonl` names the current file directly and
its directory holds the rotated ones (`<stem>-<stamp>.jsonl`).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

CURRENT_NAME = "audit.jsonl"


def current_file(path: str | Path) -> Path:
    """The file being written for a trail given as a directory or a `.jsonl` file."""
    p = Path(path)
    return p if p.suffix == ".jsonl" else p / CURRENT_NAME


def trail_files(path: str | Path) -> list[Path]:
    """Every file of the trail, oldest first, the current file last (if it exists)."""
    cur = current_file(path)
    pattern = re.compile(re.escape(cur.stem) + r"-(\d{8}T\d{6}Z)(?:-(\d+))?\.jsonl$")
    rotated: list[tuple[str, int, Path]] = []
    if cur.parent.is_dir():
        for f in cur.parent.iterdir():
            m = pattern.match(f.name)
            if m is not None:
                rotated.append((m[1], int(m[2] or 0), f))
    return [f for _s, _n, f in sorted(rotated)] + ([cur] if cur.exists() else [])


def rotated_name(cur: Path, at_ns: int) -> Path:
    """A free name for the current file rotated at `at_ns`."""
    stamp = datetime.fromtimestamp(at_ns / 1e9, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    candidate = cur.with_name(f"{cur.stem}-{stamp}.jsonl")
    n = 1
    while candidate.exists():
        candidate = cur.with_name(f"{cur.stem}-{stamp}-{n}.jsonl")
        n += 1
    return candidate
