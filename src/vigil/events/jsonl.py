"""The JSONL event format: one `Event` per line (see docs/events.md).

Used by recordings (`vigil record`), replay (`vigil replay`) and test fixtures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

import msgspec

from vigil.events.model import Event

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


def read_events(path: str | Path) -> Iterator[Event | BadLine]:
    """Yield the events of a JSONL file in order; a malformed line yields a `BadLine`.

    Blank lines and lines starting with `#` are skipped, so fixtures can carry comments.
    """
    with open(path, "rb") as fh:
        yield from iter_events(fh)


def iter_events(fh: IO[bytes]) -> Iterator[Event | BadLine]:
    """Like `read_events`, over an open binary file."""
    for lineno, line in enumerate(fh, 1):
        s = line.strip()
        if not s or s.startswith(b"#"):
            continue
        try:
            yield _decoder.decode(s)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            yield BadLine(lineno, str(exc))


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
