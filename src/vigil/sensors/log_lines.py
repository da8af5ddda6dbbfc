"""Bounded line splitting for log files, and a rate-limited warning for what it cuts.

A log line is never megabytes long unless something is wrong (a forged line, a binary
written into the log). `LineSplitter` keeps memory bounded: a line longer than `max_line`
bytes is cut there (its head is still a line, so a long sudo command still gives its
event), the rest of it up to the newline is skipped, and the next line is read normally.
Each cut is counted; `RateLimitedWarning` says so in the log without flooding it.
"""

from __future__ import annotations

import logging
import time
from typing import Callable


class LineSplitter:
    """Bytes in, complete lines out (without `\\n`), none longer than `max_line`."""

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        #: the start of an unfinished line
        self.partial = b""
        #: inside an over-long line whose head was already given out
        self.skipping = False
        #: over-long lines cut so far
        self.cut = 0

    def feed(self, data: bytes, final: bool = False) -> list[bytes]:
        """The lines completed by `data`; with `final`, an unfinished last line too."""
        lines: list[bytes] = []
        parts = data.split(b"\n")
        rest = parts.pop()
        for part in parts:
            if self.skipping:
                self.skipping = False  # the end of the over-long line
                continue
            self._emit(self.partial + part, lines)
            self.partial = b""
        if self.skipping:
            rest = b""
        elif len(self.partial) + len(rest) > self.max_line:
            # give out the head now; what follows up to the newline is dropped
            lines.append((self.partial + rest)[:self.max_line])
            self.cut += 1
            self.partial, rest, self.skipping = b"", b"", True
        self.partial += rest
        if final and self.partial:
            lines.append(self.partial)
            self.partial = b""
        if final:
            self.skipping = False
        return lines

    def _emit(self, line: bytes, out: list[bytes]) -> None:
        if len(line) > self.max_line:
            self.cut += 1
            line = line[:self.max_line]
        out.append(line)


class RateLimitedWarning:
    """`logger.warning` at most once per `interval` seconds; the message says how many
    were held back meanwhile."""

    def __init__(self, logger: logging.Logger, interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._log = logger
        self._interval = interval
        self._clock = clock
        self._next = float("-inf")
        self._held = 0

    def warn(self, msg: str, *args: object) -> bool:
        """Log `msg % args` unless one was logged less than `interval` ago; True if logged."""
        now = self._clock()
        if now < self._next:
            self._held += 1
            return False
        if self._held:
            msg += " (%d more like this in the last %.0f s)"
            args = (*args, self._held, self._interval)
        self._log.warning(msg, *args)
        self._held = 0
        self._next = now + self._interval
        return True
