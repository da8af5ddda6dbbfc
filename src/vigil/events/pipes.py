"""Who holds which end of which pipe, so that a process reading a pipe can name its writer.

The sensor reports, at every exec, what fds 0, 1 and 2 of the new image are; a pipe there
comes with its inode and end. `PipeHolders` keeps, per pipe inode, the processes seen
holding each end, with the time they started holding it and the time they exited. For
`curl ... | sh` the shell's stdin is the read end of a pipe whose write end is curl's
stdout: `peer()` finds curl.

A holder is remembered for `grace_ns` after it exits, so a writer that exits right after
the reader started is still found; a writer that was gone before the reader started is
not (the field stays empty).
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
        self._by_ino: dict[int, list[Holder]] = {}
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
        self._by_ino.setdefault(ino, []).append(holder)
        self._by_pid.setdefault(pid, []).append((ino, holder))
        if len(self._by_ino) > self._limit:
            self.purge(ts, force=True)

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
            kept = [h for h in self._by_ino[ino] if h.until is None or h.until > horizon]
            if kept:
                self._by_ino[ino] = kept
            else:
                del self._by_ino[ino]

    def peer(self, ino: int, end: str, me: Process, ts: int) -> Process | None:
        """The process holding end `end` of pipe `ino` when `me` looked at it at `ts`: one
        that had not ended before `ts`, preferring a sibling of `me`, then the latest."""
        best: Holder | None = None
        best_key: tuple[bool, int] = (False, -1)
        for h in self._by_ino.get(ino, ()):
            if h.end != end or h.proc.pid == me.pid:
                continue
            if h.until is not None and h.until < ts:
                continue
            key = (h.proc.ppid == me.ppid, h.since)
            if key > best_key:
                best, best_key = h, key
        return None if best is None else best.proc
