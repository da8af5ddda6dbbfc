"""Who holds which end of which pipe, so that a process reading a pipe can name its writer.

The sensor reports, at every exec, what fds 0, 1 and 2 of the new image are; a pipe there
comes with its inode and end. `PipeHolders` keeps, per pipe inode, the processes seen
holding each end, with the time they started holding it and the time they exited. For
`curl ... | sh` the shell's stdin is the read end of a pipe whose write end is curl's
stdout: `peer()` finds curl.

A holder is remembered for `grace_ns` after it exits: a writer that exited before the
reader started (a fast `curl` whose output waits in the pipe) is still named, the live
holders first; one gone longer than that is forgotten (the field stays empty).
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.events.model import Process


@dataclass(slots=True)
class Holder:
    """One process holding one end of a pipe."""

    proc: Process
    #: "r" or "w"
    end: str
    #: when it was seen holding it (its exec), ns
    since: int
    #: when it exited or exec'd something that no longer holds it, ns (None: still holds)
    until: int | None = None


class PipeHolders:
    """Pipe inode -> the processes holding its ends (from the stdio reported at exec)."""

    def __init__(self, grace_ns: int = 5_000_000_000, limit: int = 65536) -> None:
        """`grace_ns`: how long an ended holder is still named (and kept)."""
        #: inode -> end ("r"/"w") -> pid -> holder
        self._by_ino: dict[int, dict[str, dict[int, Holder]]] = {}
        self._by_pid: dict[int, list[tuple[int, Holder]]] = {}
        self._grace = grace_ns
        self._limit = limit
        self._last_purge = 0

    def __len__(self) -> int:
        return len(self._by_ino)

    def hold(self, proc: Process, ino: int, end: str, ts: int) -> None:
        """`proc` holds end `end` of pipe `ino` from `ts` on."""
        pid = proc.pid or 0
        holder = Holder(proc, end, ts)
        ends = self._by_ino.get(ino)
        if ends is None:
            if len(self._by_ino) >= self._limit:
                self.purge(ts, force=True)
            ends = self._by_ino[ino] = {}
        holders = ends.get(end)
        if holders is None:
            holders = ends[end] = {}
        elif len(holders) > 64:
            # a pipe many processes write to (a build's log): drop the long-ended ones
            horizon = ts - self._grace
            for old in [p for p, h in holders.items() if h.until is not None and
                        h.until < horizon]:
                del holders[old]
        holders[pid] = holder
        self._by_pid.setdefault(pid, []).append((ino, holder))

    def release(self, pid: int, ts: int) -> None:
        """The process exec'd or exited: what it held ends at `ts`."""
        for _ino, holder in self._by_pid.pop(pid, ()):
            if holder.until is None:
                holder.until = ts
        if ts - self._last_purge > self._grace:
            self.purge(ts)

    def purge(self, now: int, force: bool = False) -> None:
        """Forget holders that ended more than the grace period ago (all ended ones when
        `force`: the table is full)."""
        self._last_purge = now
        horizon = now if force else now - self._grace
        for ino in list(self._by_ino):
            ends = self._by_ino[ino]
            for end in list(ends):
                holders = ends[end]
                for pid in [p for p, h in holders.items() if h.until is not None and
                            h.until <= horizon]:
                    del holders[pid]
                if not holders:
                    del ends[end]
            if not ends:
                del self._by_ino[ino]

    def peer(self, ino: int, end: str, me: Process, ts: int) -> Process | None:
        """The process holding end `end` of pipe `ino` when `me` looked at it at `ts`:
        one still holding it then (a sibling of `me` first, then the latest), else the
        one that let go of it last, if that was less than the grace period before."""
        ends = self._by_ino.get(ino)
        holders = ends.get(end) if ends is not None else None
        if not holders:
            return None
        best: Holder | None = None
        best_key: tuple[bool, bool, int] = (False, False, -1)
        horizon = ts - self._grace
        for h in holders.values():
            if h.proc.pid == me.pid:
                continue
            until = h.until
            if until is not None and until < horizon:
                continue
            holding = until is None or until >= ts
            key = (holding, h.proc.ppid == me.ppid, h.since if holding else until)
            if key > best_key:
                best, best_key = h, key
        return None if best is None else best.proc
