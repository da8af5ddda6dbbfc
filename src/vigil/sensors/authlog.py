"""`AuthLogSensor`: follow `/var/log/auth.log` (Debian) or `/var/log/secure` (RHEL).

The sensor tails the first of its candidate paths that exists, survives rotation (the path now names a
new inode: the rest of the old file is read first, then the new one from its start) and
truncation (the file got shorter than our offset: read again from 0), and remembers
`{path: inode, offset}` in a small JSON state file so a restart neither loses nor repeats
lines. If the file was rotated while the agent was down, the remainder of the old inode is
read from `<path>.1` when that is where it went.

Lines are parsed by `vigil.sensors.authparse`; lines that are not about authentication are
counted (`unparsed`) and dropped. A partial last line (the writer has not finished it) is
kept until its newline arrives.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable

from vigil.events.model import Event
from vigil.sensors.authparse import parse_message, parse_syslog_line
from vigil.sensors.base import SensorUnavailable

log = logging.getLogger(__name__)

DEFAULT_PATHS = ("/var/log/auth.log", "/var/log/secure")
#: a line longer than this is cut (a log line is never this long unless something is wrong)
MAX_LINE = 64 * 1024


@dataclass
class _Retired:
    """The old inode after a rotation: the syslog daemon may still write to it until it
    reopens its files, so it is drained until it has been idle for `RETIRE_AFTER` seconds."""

    fh: IO[bytes]
    partial: bytes
    idle_since: float


@dataclass
class _Tail:
    """One followed file: its open handle, inode and the bytes of an unfinished line."""

    path: str
    fh: IO[bytes] | None = None
    dev: int = 0
    ino: int = 0
    offset: int = 0
    partial: bytes = b""
    #: events read from `<path>.1` at start (rotated while the agent was down)
    backlog: list[Event] = field(default_factory=list)
    retired: list[_Retired] = field(default_factory=list)


#: how often files are checked for new lines while `read()` waits
POLL_INTERVAL = 0.25
#: seconds an old inode is still drained after a rotation
RETIRE_AFTER = 5.0


class AuthLogSensor:
    """Tail the authentication log and yield `auth.*` events.

    `paths`: candidate files; the first that exists at start is followed.
    `state_file`: JSON file keeping each path's inode and offset across restarts (None: no
    persistence). `now`: the clock used to give syslog stamps their year (tests inject it).
    `bare_program`: the files hold bare messages of that program with no syslog header
    (`sshd -E <file>` writes them so); events are then stamped with the time of reading.
    """

    name = "authlog"

    def __init__(self, paths: list[str] | tuple[str, ...] = DEFAULT_PATHS,
                 state_file: str | Path | None = None, *, start_at_end: bool = True,
                 now: Callable[[], float] = time.time, bare_program: str | None = None) -> None:
        self._paths = list(paths)
        self._state_file = Path(state_file) if state_file is not None else None
        self._start_at_end = start_at_end
        self._now = now
        self._bare_program = bare_program
        self._tails: list[_Tail] = []
        self._saved: dict[str, dict[str, int]] = {}
        self._stopping = threading.Event()
        self._counts = {"events": 0, "lines": 0, "unparsed": 0, "rotations": 0,
                        "truncations": 0, "errors": 0}

    # -- Sensor protocol ---------------------------------------------------------------

    def start(self) -> None:
        """Open the first existing candidate at its saved offset (or at its end / start)."""
        self._stopping.clear()
        saved = self._load_state()
        # the candidates name one log in different distributions (auth.log on Debian,
        # secure on RHEL); following two would double every line where one links the other
        for path in self._paths:
            if os.path.exists(path):
                tail = _Tail(path)
                self._open_at_saved(tail, saved.get(path))
                self._tails.append(tail)
                break
        if not self._tails:
            raise SensorUnavailable(
                f"authlog: none of {', '.join(self._paths)} exists (no syslog daemon writing "
                "auth logs; use the journald sensor instead)")

    def read(self, timeout: float = 0.0) -> list[Event]:
        """New events from every file; with none, waits up to `timeout` (polling every
        `POLL_INTERVAL` s) so that the caller's loop does not spin."""
        events = self._poll()
        deadline = time.monotonic() + timeout
        while not events and not self._stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or self._stopping.wait(min(left, POLL_INTERVAL)):
                break
            events = self._poll()
        return events

    def _poll(self) -> list[Event]:
        events: list[Event] = []
        for tail in self._tails:
            try:
                events.extend(self._read_tail(tail))
            except OSError as exc:
                self._counts["errors"] += 1
                log.warning("authlog: reading %s failed: %s", tail.path, exc)
        self._save_state()
        return events

    def stop(self) -> None:
        """Save offsets and close the files; safe to call twice."""
        self._stopping.set()
        if self._tails:
            self._save_state()
        for tail in self._tails:
            for old in tail.retired:
                old.fh.close()
            if tail.fh is not None:
                tail.fh.close()
                tail.fh = None
        self._tails = []

    def stats(self) -> dict[str, int]:
        """Counters: events, lines, unparsed, rotations, truncations, errors."""
        return dict(self._counts)

    # -- following ---------------------------------------------------------------------

    def _open_at_saved(self, tail: _Tail, saved: dict[str, int] | None) -> None:
        st = os.stat(tail.path)
        if saved is not None and saved.get("ino") == st.st_ino and saved.get("dev") == st.st_dev:
            start = saved.get("offset", 0)
            if start > st.st_size:  # truncated while we were down
                self._counts["truncations"] += 1
                start = 0
        elif saved is not None:
            # rotated while we were down: finish the old inode, then read the new file whole
            start = 0
            self._counts["rotations"] += 1
            rest = self._rest_of_rotated(tail.path, saved)
            tail.backlog, _ = self._parse_lines(b"", rest, final=True)
        else:
            start = st.st_size if self._start_at_end else 0
        self._open(tail, start)

    def _rest_of_rotated(self, path: str, saved: dict[str, int]) -> bytes:
        """The bytes of the old inode past our offset, if it is still at `<path>.1`."""
        old = path + ".1"
        try:
            st = os.stat(old)
            if st.st_ino != saved.get("ino") or st.st_dev != saved.get("dev"):
                return b""
            with open(old, "rb") as fh:
                fh.seek(min(saved.get("offset", 0), st.st_size))
                return fh.read()
        except OSError:
            return b""

    def _open(self, tail: _Tail, offset: int) -> None:
        fh = open(tail.path, "rb")
        st = os.fstat(fh.fileno())
        fh.seek(offset)
        tail.fh, tail.dev, tail.ino, tail.offset, tail.partial = fh, st.st_dev, st.st_ino, offset, b""

    def _read_tail(self, tail: _Tail) -> list[Event]:
        events, tail.backlog = tail.backlog, []
        events.extend(self._drain_retired(tail))
        if tail.fh is None:
            if not os.path.exists(tail.path):
                return events
            self._open(tail, 0)
        assert tail.fh is not None
        data = self._read_more(tail)
        try:
            st = os.stat(tail.path)
        except FileNotFoundError:
            st = None
        if st is None or (st.st_ino, st.st_dev) != (tail.ino, tail.dev):
            self._counts["rotations"] += 1
            more, partial = self._parse_lines(tail.partial, data)
            events.extend(more)
            tail.retired.append(_Retired(tail.fh, partial, self._now()))
            tail.fh = None
            if st is not None:
                self._open(tail, 0)
                more, tail.partial = self._parse_lines(b"", self._read_more(tail))
                events.extend(more)
            return events
        if st.st_size < tail.offset:
            # truncated (copytruncate): the unfinished line of the old content is dropped
            self._counts["truncations"] += 1
            tail.fh.seek(0)
            tail.offset, tail.partial = 0, b""
            data = self._read_more(tail)
        more, tail.partial = self._parse_lines(tail.partial, data)
        events.extend(more)
        return events

    def _drain_retired(self, tail: _Tail) -> list[Event]:
        events: list[Event] = []
        now = self._now()
        keep = []
        for old in tail.retired:
            data = old.fh.read()
            if data:
                old.idle_since = now
            expired = now - old.idle_since >= RETIRE_AFTER
            more, old.partial = self._parse_lines(old.partial, data, final=expired)
            events.extend(more)
            if expired:
                old.fh.close()
            else:
                keep.append(old)
        tail.retired = keep
        return events

    def _read_more(self, tail: _Tail) -> bytes:
        assert tail.fh is not None
        chunk = tail.fh.read()
        tail.offset += len(chunk)
        return chunk

    def _parse_lines(self, partial: bytes, data: bytes,
                     final: bool = False) -> tuple[list[Event], bytes]:
        """Events of the complete lines in `partial + data`, and the unfinished rest."""
        data = partial + data
        if not data:
            return [], b""
        lines = data.split(b"\n")
        rest = lines.pop()
        if final and rest:
            lines.append(rest)
            rest = b""
        now = self._now()
        events = []
        for raw in lines:
            if not raw:
                continue
            self._counts["lines"] += 1
            text = raw[:MAX_LINE].decode("utf-8", "replace")
            if self._bare_program is None:
                ev = parse_syslog_line(text, now=now)
            else:
                ev = parse_message(self._bare_program, None, text, ts=int(now * 1e9),
                                   raw=text.rstrip("\r"))
            if ev is None:
                self._counts["unparsed"] += 1
                continue
            events.append(ev)
        self._counts["events"] += len(events)
        if len(rest) > MAX_LINE:  # a runaway line: keep its start, the rest is cut
            rest = rest[:MAX_LINE]
        return events, rest

    # -- state -------------------------------------------------------------------------

    def _load_state(self) -> dict[str, dict[str, int]]:
        if self._state_file is None or not self._state_file.exists():
            return {}
        try:
            data = json.loads(self._state_file.read_text())
            return {k: v for k, v in data.items() if isinstance(v, dict)}
        except (OSError, ValueError, AttributeError) as exc:
            log.warning("authlog: ignoring unreadable state file %s: %s", self._state_file, exc)
            return {}

    def _save_state(self) -> None:
        if self._state_file is None:
            return
        # the offset points at the start of an unfinished line, so it is read again whole
        state = {t.path: {"dev": t.dev, "ino": t.ino,
                          "offset": max(0, t.offset - len(t.partial))}
                 for t in self._tails if t.ino}
        if state == self._saved:
            return
        tmp = self._state_file.with_suffix(self._state_file.suffix + ".tmp")
        try:
            self._state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(state))
            os.replace(tmp, self._state_file)
            self._saved = state
        except OSError as exc:
            self._counts["errors"] += 1
            log.warning("authlog: cannot save offsets to %s: %s", self._state_file, exc)
