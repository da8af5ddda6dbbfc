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


class _End:
    """The holders of one end of one pipe: those holding it now, and the last to let go."""

    __slots__ = ("live", "last")

    def __init__(self) -> None:
        self.live: dict[int, Holder] = {}
        self.last: Holder | None = None


class PipeHolders:
    """Pipe inode -> the processes holding its ends (from the stdio reported at exec).

    Per end of a pipe it keeps the processes holding it and only the last one that let go
    (a build's log pipe, written by thousands of short-lived compilers, stays small).
    """

    def __init__(self, grace_ns: int = 5_000_000_000, limit: int = 65536) -> None:
        """`grace_ns`: how long the last holder that let go is still named (and kept)."""
        #: inode -> end ("r"/"w") -> holders
        self._by_ino: dict[int, dict[str, _End]] = {}
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
        side = ends.get(end)
        if side is None:
            side = ends[end] = _End()
        side.live[pid] = holder
        self._by_pid.setdefault(pid, []).append((ino, holder))

    def release(self, pid: int, ts: int) -> None:
        """The process exec'd or exited: what it held ends at `ts`."""
        for ino, holder in self._by_pid.pop(pid, ()):
            holder.until = ts
            side = self._by_ino.get(ino, {}).get(holder.end)
            if side is None:
                continue
            if side.live.get(pid) is holder:
                del side.live[pid]
            if side.last is None or (side.last.until or 0) <= ts:
                side.last = holder
        if ts - self._last_purge > self._grace:
            self.purge(ts)

    def purge(self, now: int, force: bool = False) -> None:
        """Forget pipes nobody holds any more and whose last holder let go more than the
        grace period ago (every such pipe when `force`: the table is full)."""
        self._last_purge = now
        horizon = now if force else now - self._grace
        for ino in list(self._by_ino):
            ends = self._by_ino[ino]
            for end in list(ends):
                side = ends[end]
                if side.last is not None and (side.last.until or 0) <= horizon:
                    side.last = None
                if not side.live and side.last is None:
                    del ends[end]
            if not ends:
                del self._by_ino[ino]

    def peer(self, ino: int, end: str, me: Process, ts: int) -> Process | None:
        """The process holding end `end` of pipe `ino` when `me` looked at it at `ts`:
        one still holding it (a sibling of `me` first, then the latest), else the last one
        that let go of it, if that was less than the grace period before `ts`."""
        side = self._by_ino.get(ino, {}).get(end)
        if side is None:
            return None
        last = side.last
        if last is not None and last.proc.pid != me.pid and (last.until or 0) >= ts:
            # it let go after `me` looked: it was holding the pipe then
            return last.proc
        best: Holder | None = None
        best_key: tuple[bool, int] = (False, -1)
        for h in side.live.values():
            if h.proc.pid == me.pid:
                continue
            key = (h.proc.ppid == me.ppid, h.since)
            if key > best_key:
                best, best_key = h, key
        if best is not None:
            return best.proc
        if last is not None and last.proc.pid != me.pid and \
                (last.until or 0) >= ts - self._grace:
            return last.proc
        return None
