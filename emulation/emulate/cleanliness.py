"""Did a scenario leave the machine as it found it?

Before and after each scenario the runner takes a snapshot of the places scenarios touch
(/etc, root's dotfiles and ~/.ssh, cron spools, systemd unit and PAM module directories,
/usr/local, /var/backups, new names in /var/log, anything named `vigil-emul*` in the
temporary directories, network namespaces) and reports every difference: a file left,
removed or changed (content, mode, owner, mtime), a directory left or removed. It cannot
tell a scenario's leftovers from other work on a shared machine changing the same
places at the same time; the report says "changed while it ran".

Files are compared by metadata (type, mode, owner, size, mtime), never read: reading
/etc/shadow between scenarios would itself be a detection for the agent under test.
"""

from __future__ import annotations

import os
import stat
import subprocess
from dataclasses import dataclass

MARK = "vigil-emul"


@dataclass(frozen=True)
class Watch:
    """One place to snapshot."""

    path: str
    #: 0 = the entries of `path` only; None = the whole tree
    depth: int | None = None
    #: compare file contents and metadata (else only which names exist)
    content: bool = True
    #: only entries whose name contains this
    name_filter: str | None = None


WATCHES = (
    Watch("/etc"), Watch("/root", depth=0), Watch("/root/.ssh"), Watch("/root/.aws"),
    Watch("/root/.config/systemd"), Watch("/var/spool/cron"),
    Watch("/usr/lib/systemd/system", depth=0), Watch("/usr/lib/x86_64-linux-gnu/security"),
    Watch("/usr/local/bin"), Watch("/usr/local/sbin"), Watch("/var/backups"),
    Watch("/var/log", depth=0, content=False),
    Watch("/tmp", depth=0, content=False, name_filter=MARK),
    Watch("/var/tmp", depth=0, content=False, name_filter=MARK),
    Watch("/dev/shm", depth=0, content=False, name_filter=MARK),
    Watch("/home", depth=0, content=False),
)


def _describe(path: str, st: os.stat_result, content: bool) -> tuple[object, ...]:
    if not content:
        return ("dir",) if stat.S_ISDIR(st.st_mode) else ("file",)
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(path), st.st_uid, st.st_gid)
    if stat.S_ISDIR(st.st_mode):
        # a directory's mtime changes when an entry comes and goes: not a leftover
        return ("dir", st.st_mode, st.st_uid, st.st_gid)
    if stat.S_ISREG(st.st_mode):
        return ("file", st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns)
    return ("other", st.st_mode, st.st_uid, st.st_gid)


def _walk(w: Watch) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    if not os.path.isdir(w.path):
        return out
    stack = [(w.path, 0)]
    while stack:
        d, level = stack.pop()
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for n in names:
            if w.name_filter is not None and w.name_filter not in n:
                continue
            p = os.path.join(d, n)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            out[p] = _describe(p, st, w.content)
            if stat.S_ISDIR(st.st_mode) and (w.depth is None or level < w.depth):
                stack.append((p, level + 1))
    return out


def _netns() -> dict[str, tuple[object, ...]]:
    try:
        text = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                              timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {f"netns:{line.split()[0]}": ("netns",) for line in text.splitlines()
            if line.strip()}


def snapshot(watches: tuple[Watch, ...] = WATCHES) -> dict[str, tuple[object, ...]]:
    """The state of every watched place now."""
    out: dict[str, tuple[object, ...]] = {}
    for w in watches:
        out.update(_walk(w))
    out.update(_netns())
    return out


def differences(before: dict[str, tuple[object, ...]],
                after: dict[str, tuple[object, ...]], limit: int = 12) -> list[str]:
    """Human-readable differences (at most `limit`, then a count of the rest)."""
    out = []
    for p in sorted(set(before) | set(after)):
        a, b = before.get(p), after.get(p)
        if a == b:
            continue
        if a is None:
            out.append(f"left {p}")
        elif b is None:
            out.append(f"removed {p}")
        else:
            out.append(f"changed {p}")
    if len(out) > limit:
        out = out[:limit] + [f"... and {len(out) - limit} more"]
    return out
