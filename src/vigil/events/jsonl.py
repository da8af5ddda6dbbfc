"""The JSONL event format: one `Event` per line (see docs/events.md).

Used by recordings (`vigil record`), replay (`vigil replay`) and test fixtures.

A recording is untrusted input, read so that no line can crash the reader or hide the
lines after it: a line is read with a size bound (`MAX_LINE_BYTES`; a longer one is
skipped without being held in memory), its nesting is bounded before it is decoded
(`vigil.events.nesting`: the process ancestry is cut at `MAX_ANCESTRY` parents, other
nesting past `MAX_NESTING` refuses the line), and the decoder checks every type and range
of the event model (64-bit integers, timestamps in range). A line that fails any of these
is a `BadLine` with its line number and what is wrong; reading goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

import msgspec

from vigil.events.model import Event
from vigil.events.nesting import bound_nesting

#: a line longer than this is not an event (the sensor's largest are tens of KiB)
MAX_LINE_BYTES = 16 * 1024 * 1024
#: parents kept of a recorded process ancestry (as many as the live process table links)
MAX_ANCESTRY = 256
#: nesting allowed outside the ancestry (an event nests a few levels)
MAX_NESTING = 32
#: below this many brackets a line cannot nest too deep: decoded without a scan
_SCAN_ABOVE = MAX_NESTING

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Event)


def encode_event(event: Event) -> bytes:
    """One event as a JSON line (with the trailing newline)."""
    return _encoder.encode(event) + b"\n"


def decode_event(line: bytes | str) -> Event:
    """Decode one JSON line into an `Event`; raises `msgspec.DecodeError` on bad input."""
    return _decoder.decode(line)


@dataclass
class BadLine:
    """A line of a recording that could not be decoded."""

    lineno: int
    error: str


@dataclass
class Numbered:
    """An event of a recording with its line number, and what reading it changed."""

    lineno: int
    event: Event
    #: parents of the process ancestry dropped past `MAX_ANCESTRY` (0: none)
    cut_ancestors: int = 0


def read_events(path: str | Path) -> Iterator[Event | BadLine]:
    """Yield the events of a JSONL file in order; a malformed line yields a `BadLine`.

    Blank lines and lines starting with `#` are skipped, so fixtures can carry comments.
    """
    with open(path, "rb") as fh:
        yield from iter_events(fh)


def iter_events(fh: IO[bytes]) -> Iterator[Event | BadLine]:
    """Like `read_events`, over an open binary file."""
    for _lineno, item, _cut in _lines(fh):
        yield item


def read_numbered(path: str | Path) -> Iterator[Numbered | BadLine]:
    """Like `read_events`, each event with its line number (`Numbered`)."""
    with open(path, "rb") as fh:
        yield from iter_numbered(fh)


def iter_numbered(fh: IO[bytes]) -> Iterator[Numbered | BadLine]:
    """Like `read_numbered`, over an open binary file."""
    for lineno, item, cut in _lines(fh):
        yield Numbered(lineno, item, cut) if isinstance(item, Event) else item


def decode_line(line: bytes, lineno: int) -> Numbered | BadLine:
    """One stripped line of a recording (see the module docstring for the bounds)."""
    item, cut = _decode(line, lineno)
    return Numbered(lineno, item, cut) if isinstance(item, Event) else item


def _lines(fh: IO[bytes]) -> Iterator[tuple[int, Event | BadLine, int]]:
    """(line number, event or bad line, ancestors cut) for each line that is not blank or
    a comment."""
    lineno = 0
    readline = fh.readline
    while True:
        line = readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        lineno += 1
        if len(line) > MAX_LINE_BYTES:
            size = len(line) + _skip_line(fh) if not line.endswith(b"\n") else len(line)
            yield lineno, BadLine(lineno, f"line of {size} bytes, longer than "
                                          f"{MAX_LINE_BYTES}: not an event"), 0
            continue
        s = line.strip()
        if not s or s[0] == 35:  # "#": a comment
            continue
        item, cut = _decode(s, lineno)
        yield lineno, item, cut


def _decode(line: bytes, lineno: int) -> tuple[Event | BadLine, int]:
    cut = 0
    if line.count(b"{") + line.count(b"[") > _SCAN_ABOVE:
        bounded = bound_nesting(line, max_ancestry=MAX_ANCESTRY, max_nesting=MAX_NESTING)
        if bounded.problem is not None:
            return BadLine(lineno, bounded.problem), 0
        line, cut = bounded.line, bounded.cut_ancestors
    try:
        return _decoder.decode(line), cut
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return BadLine(lineno, str(exc)), 0
    except RecursionError:  # malformed JSON the scan could not follow, nested too deep
        return BadLine(lineno, "nested too deeply: not an event"), 0


def _skip_line(fh: IO[bytes]) -> int:
    """Read to the end of the current line in bounded chunks; returns the bytes skipped."""
    skipped = 0
    while True:
        chunk = fh.readline(1 << 20)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped


class EventWriter:
    """Append events to a JSONL file (a recording)."""

    def __init__(self, path: str | Path) -> None:
        self._fh = open(path, "ab")

    def write(self, event: Event) -> None:
        """Write one event."""
        self._fh.write(_encoder.encode(event) + b"\n")

    def close(self) -> None:
        """Flush and close the file."""
        self._fh.close()

    def __enter__(self) -> "EventWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
