"""`AuthLogSensor`: follow `/var/log/auth.log` (Debian) or `/var/log/secure` (RHEL).

The sensor tails the first of its candidate paths that exists, survives rotation (the path
now names a new inode: the rest of the old file is read first, then the new one from its
start) and truncation (the file got shorter than our offset: read again from 0), and
remembers `{path: inode, offset}` in a small JSON state file so a restart neither loses
nor repeats lines. If the file was rotated while the agent was down, the remainder of the
old inode is read from `<path>.1` when that is where it went.

When none of the candidates exists yet (no syslog daemon has written one), the sensor
keeps looking every `LOOK_INTERVAL` seconds and follows the first that appears, from its
start (all of it is new).

Lines are parsed by `vigil.sensors.authparse` and joined by sshd process
(`vigil.sensors.sshd_join`); lines that are not about authentication are counted
(`unparsed`) and dropped. A partial last line (the writer has not finished it) is kept
until its newline arrives. Reading is bounded: at most `READ_CHUNK` bytes per file per
poll, lines cut at `MAX_LINE` bytes (counted as `long_lines`, logged rate-limited), and a
line stamped more than `MAX_FUTURE_SECONDS` after the time it is read is counted at the
time it is read (`future_stamps`; the written stamp stays in `raw`): a log cannot hold
lines from the future.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterator

import msgspec

from vigil.events.model import Event
from vigil.sensors.authparse import parse_message, parse_syslog_line
from vigil.sensors.log_lines import LineSplitter, RateLimitedWarning
from vigil.sensors.sshd_join import SshdJoiner

log = logging.getLogger(__name__)

DEFAULT_PATHS = ("/var/log/auth.log", "/var/log/secure")
#: a line longer than this is cut (a log line is never this long unless something is wrong)
MAX_LINE = 64 * 1024
#: bytes read from one file per poll: a huge backlog is read in steps, memory stays bounded
READ_CHUNK = 4 * 1024 * 1024
#: a line stamped further ahead than this of the time it is read is re-stamped
MAX_FUTURE_SECONDS = 300.0
#: how often files are checked for new lines while `read()` waits
POLL_INTERVAL = 0.25
#: seconds an old inode is still drained after a rotation
RETIRE_AFTER = 5.0
#: how often missing candidates are looked for
LOOK_INTERVAL = 2.0


@dataclass
class _Retired:
    """The old inode after a rotation: the syslog daemon may still write to it until it
    reopens its files, so it is drained until it has been idle for `RETIRE_AFTER` seconds."""

    fh: IO[bytes]
    lines: LineSplitter
    idle_since: float


@dataclass
class _Tail:
    """One followed file: its open handle, inode, offset and line splitter."""

    path: str
    lines: LineSplitter
    fh: IO[bytes] | None = None
    dev: int = 0
    ino: int = 0
    offset: int = 0
    #: events read from `<path>.1` at start (rotated while the agent was down)
    backlog: list[Event] = field(default_factory=list)
    retired: list[_Retired] = field(default_factory=list)


class AuthLogSensor:
    """Tail the authentication log and yield `auth.*` events.

    `paths`: candidate files; the first that exists is followed (looked for again and
    again while none does). `state_file`: JSON file keeping each path's inode and offset
    across restarts (None: no persistence). `now`: the clock (tests inject it): it gives
    syslog stamps their year and is the time of reading. `bare_program`: the files hold
    bare messages of that program with no syslog header (`sshd -E <file>` writes them so);
    events are then stamped with the time of reading.
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
        self._joiner = SshdJoiner()
        self._next_look = 0.0
        self._long_line_warning = RateLimitedWarning(log)
        self._counts = {"events": 0, "lines": 0, "unparsed": 0, "rotations": 0,
                        "truncations": 0, "errors": 0, "long_lines": 0, "future_stamps": 0,
                        "waiting": 0}

    # -- Sensor protocol ---------------------------------------------------------------

    @property
    def path(self) -> str | None:
        """The file followed, None while waiting for one to appear."""
        return self._tails[0].path if self._tails else None

    def start(self) -> None:
        """Open the first existing candidate at its saved offset (or at its end / start);
        with none there yet, start looking for one."""
        self._stopping.clear()
        if not self._follow_first_existing(at_start=True):
            self._counts["waiting"] = 1
            log.warning("authlog: none of %s exists yet; looking for it every %.0f s",
                        ", ".join(self._paths), LOOK_INTERVAL)

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
        """Counters: events, lines, unparsed, rotations, truncations, errors, long_lines,
        future_stamps, waiting (1 while no candidate file exists)."""
        return dict(self._counts)

    def at_end(self) -> bool:
        """Whether everything the followed file holds now has been read."""
        if not self._tails or self._tails[0].fh is None:
            return not self._tails
        tail = self._tails[0]
        try:
            return tail.offset >= os.fstat(tail.fh.fileno()).st_size and not tail.retired
        except OSError:
            return True

    def flush(self) -> list[Event]:
        """The end of the input (a replay): sshd lines still waiting for their address go
        on without it, and an unfinished last line is read as a line."""
        events: list[Event] = []
        for tail in self._tails:
            events.extend(self._parse_lines(tail.lines, b"", final=True))
        return events + self._joiner.drain()

    # -- following ---------------------------------------------------------------------

    def _follow_first_existing(self, at_start: bool) -> bool:
        # the candidates name one log in different distributions (auth.log on Debian,
        # secure on RHEL); following two would double every line where one links the other
        for path in self._paths:
            if os.path.exists(path):
                saved = self._load_state()
                tail = _Tail(path, LineSplitter(MAX_LINE))
                try:
                    self._open_at_saved(tail, saved.get(path), at_start)
                except OSError as exc:
                    self._counts["errors"] += 1
                    log.warning("authlog: cannot open %s: %s", path, exc)
                    return False
                self._tails.append(tail)
                self._counts["waiting"] = 0
                if not at_start:
                    log.info("authlog: %s appeared; following it from its start", path)
                return True
        return False

    def _poll(self) -> list[Event]:
        events: list[Event] = []
        if not self._tails:
            mono = time.monotonic()
            if mono < self._next_look:
                return events
            self._next_look = mono + LOOK_INTERVAL
            if not self._follow_first_existing(at_start=False):
                return events
        for tail in self._tails:
            try:
                events.extend(self._read_tail(tail))
            except OSError as exc:
                self._counts["errors"] += 1
                log.warning("authlog: reading %s failed: %s", tail.path, exc)
        events.extend(self._joiner.expire(int(self._now() * 1e9)))
        self._save_state()
        return events

    def _open_at_saved(self, tail: _Tail, saved: dict[str, int] | None, at_start: bool) -> None:
        st = os.stat(tail.path)
        if saved is not None and saved.get("ino") == st.st_ino and saved.get("dev") == st.st_dev:
            start = saved.get("offset", 0)
            if not isinstance(start, int) or not 0 <= start <= st.st_size:
                # truncated while we were down (or a broken state file)
                self._counts["truncations"] += 1
                start = 0
        elif saved is not None:
            # rotated while we were down: finish the old inode, then read the new file whole
            start = 0
            self._counts["rotations"] += 1
            rest = self._rest_of_rotated(tail.path, saved)
            tail.backlog = self._parse_lines(LineSplitter(MAX_LINE), rest, final=True)
        else:
            start = st.st_size if (self._start_at_end and at_start) else 0
        self._open(tail, start)

    def _rest_of_rotated(self, path: str, saved: dict[str, int]) -> bytes:
        """The bytes of the old inode past our offset, if it is still at `<path>.1`."""
        old = path + ".1"
        try:
            st = os.stat(old)
            if st.st_ino != saved.get("ino") or st.st_dev != saved.get("dev"):
                return b""
            with open(old, "rb") as fh:
                offset = saved.get("offset", 0)
                fh.seek(min(offset if isinstance(offset, int) and offset > 0 else 0, st.st_size))
                return fh.read(READ_CHUNK * 4)
        except OSError:
            return b""

    def _open(self, tail: _Tail, offset: int) -> None:
        fh = open(tail.path, "rb")
        st = os.fstat(fh.fileno())
        fh.seek(offset)
        tail.fh, tail.dev, tail.ino, tail.offset = fh, st.st_dev, st.st_ino, offset
        tail.lines = LineSplitter(MAX_LINE)

    def _read_tail(self, tail: _Tail) -> list[Event]:
        events, tail.backlog = tail.backlog, []
        events.extend(self._drain_retired(tail))
        if tail.fh is None:
            if not os.path.exists(tail.path):
                return events
            self._open(tail, 0)
        assert tail.fh is not None
        data = self._read_more(tail)
        if len(data) == READ_CHUNK:
            return events + self._parse_lines(tail.lines, data)  # more to come: no stat yet
        try:
            st = os.stat(tail.path)
        except FileNotFoundError:
            st = None
        if st is None or (st.st_ino, st.st_dev) != (tail.ino, tail.dev):
            self._counts["rotations"] += 1
            events.extend(self._parse_lines(tail.lines, data))
            tail.retired.append(_Retired(tail.fh, tail.lines, self._now()))
            tail.fh = None
            if st is not None:
                self._open(tail, 0)
                events.extend(self._parse_lines(tail.lines, self._read_more(tail)))
            return events
        if st.st_size < tail.offset:
            # truncated (copytruncate): the unfinished line of the old content is dropped
            self._counts["truncations"] += 1
            tail.fh.seek(0)
            tail.offset, tail.lines = 0, LineSplitter(MAX_LINE)
            data = self._read_more(tail)
        events.extend(self._parse_lines(tail.lines, data))
        return events

    def _drain_retired(self, tail: _Tail) -> list[Event]:
        events: list[Event] = []
        now = self._now()
        keep = []
        for old in tail.retired:
            data = old.fh.read(READ_CHUNK)
            if data:
                old.idle_since = now
            expired = now - old.idle_since >= RETIRE_AFTER
            events.extend(self._parse_lines(old.lines, data, final=expired))
            if expired:
                old.fh.close()
            else:
                keep.append(old)
        tail.retired = keep
        return events

    def _read_more(self, tail: _Tail) -> bytes:
        assert tail.fh is not None
        chunk = tail.fh.read(READ_CHUNK)
        tail.offset += len(chunk)
        return chunk

    def _parse_lines(self, splitter: LineSplitter, data: bytes,
                     final: bool = False) -> list[Event]:
        """Events of the lines `data` completes (joined by sshd process)."""
        cut_before = splitter.cut
        lines = splitter.feed(data, final)
        if splitter.cut != cut_before:
            n = splitter.cut - cut_before
            self._counts["long_lines"] += n
            self._long_line_warning.warn("authlog: %d line(s) longer than %d bytes cut to "
                                         "that length (the rest of each line skipped)",
                                         n, MAX_LINE)
        if not lines:
            return []
        now = self._now()
        now_ns = int(now * 1e9)
        future_ns = now_ns + int(MAX_FUTURE_SECONDS * 1e9)
        events: list[Event] = []
        for raw in lines:
            if not raw:
                continue
            self._counts["lines"] += 1
            text = raw.decode("utf-8", "replace")
            if self._bare_program is None:
                ev = parse_syslog_line(text, now=now)
            else:
                ev = parse_message(self._bare_program, None, text, ts=now_ns,
                                   raw=text.rstrip("\r"))
            if ev is None:
                self._counts["unparsed"] += 1
                continue
            if ev.ts > future_ns:
                self._counts["future_stamps"] += 1
                ev = msgspec.structs.replace(ev, ts=now_ns)
            self._counts["events"] += 1
            events.extend(self._joiner.push(ev, now_ns))
        return events

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
                          "offset": max(0, t.offset - len(t.lines.partial))}
                 for t in self._tails if t.ino}
        if state == self._saved or not state:
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



class AuthLogFile:
    """Every event of one auth log file, made exactly as the live sensor makes them (the
    same reading, parsing and joining): `vigil replay --format authlog`.

    `now` is the time the file is read "at": it gives RFC 3164 stamps their year and
    bounds stamps from the future; default the file's modification time, so a file from
    last year replays with last year's dates. `stats` (the sensor's counters: lines,
    events, unparsed, long_lines, ...) is complete once iteration ended.
    """

    def __init__(self, path: str | Path, *, now: float | None = None,
                 bare_program: str | None = None) -> None:
        self.path = Path(path)
        self._now = now
        self._bare_program = bare_program
        self.stats: dict[str, int] = {}

    def __iter__(self) -> Iterator[Event]:
        when = self.path.stat().st_mtime if self._now is None else self._now
        sensor = AuthLogSensor([str(self.path)], None, start_at_end=False, now=lambda: when,
                               bare_program=self._bare_program)
        sensor.start()
        try:
            while True:
                yield from sensor.read(0)
                if sensor.at_end():
                    break
            yield from sensor.flush()
        finally:
            sensor.stop()
            self.stats = sensor.stats()
