"""`ransomware`: one process tree rewriting many files into copies with a new extension.

Ransomware reads each file, writes it encrypted under a new name (`doc.txt` ->
`doc.txt.locked`) and deletes the original, or encrypts it in place and renames it with
the new extension. The detector sees each file's *transformation*: a file `P.EXT` created
and `P` deleted (in either order) within `pair_seconds`, or `P` renamed to `P.EXT`, by
processes of one session (`proc.sid`; the parent when there is none), as long as the new
copy stays (a `P.lock` deleted or renamed away again was a lock file). When
`min_files` transformations of one session fall within `window_seconds`, it reports once
per session and window, with the extensions and directories involved.

Static allowlist (`ransomware_allowlist.py`): compressors writing their own format
(`gzip` -> `.gz`); numeric, date and backup suffixes are not counted at all.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

from vigil.detections import Detection
from vigil.detectors.builtin import BuiltinDetector, DetectorParams
from vigil.detectors.detection_builder import (build_detection, describe_process,
                                               static_suppression)
from vigil.detectors.event_args import fd_path, int_arg, str_arg
from vigil.detectors.expiring_map import ExpiringMap
from vigil.detectors.params import minimum
from vigil.detectors.process_identity import AgentIdentity, binary_names
from vigil.detectors.ransomware_allowlist import COMPRESSOR_FORMATS, NOT_A_FORMAT
from vigil.events.flags import is_open_write
from vigil.events.model import Event
from vigil.events.toolchain import is_toolchain_binary
from vigil.priority import Priority

NAME = "ransomware"
TAGS = ("attack.impact", "T1486", "T1485")
_OPEN = frozenset({"open", "openat", "openat2", "creat"})
_UNLINK = frozenset({"unlink", "unlinkat"})
_RENAME = frozenset({"rename", "renameat", "renameat2"})
AT_REMOVEDIR = 0x200


@dataclass(frozen=True)
class RansomwareParams(DetectorParams):
    """`[detectors.ransomware]`."""

    DETECTOR: ClassVar[str] = NAME
    #: transformed files of one session that make a detection
    min_files: int = field(default=20, metadata=minimum(2))
    #: ... within this many seconds
    window_seconds: float = field(default=60.0, metadata=minimum(0))
    #: the new copy and the deletion of the original must be this close
    pair_seconds: float = field(default=30.0, metadata=minimum(0))
    #: files remembered at once (oldest forgotten first)
    max_tracked: int = field(default=65536, metadata=minimum(1))


def _split_ext(path: str) -> tuple[str, str] | None:
    """`(stem, ext)` of `/d/doc.txt.locked` = (`/d/doc.txt`, `locked`); None when the
    last component has no extension or only a numbering/backup one."""
    slash = path.rfind("/")
    dot = path.rfind(".")
    if dot <= slash + 1 or dot == len(path) - 1:
        return None
    ext = path[dot + 1:]
    if len(ext) > 32 or NOT_A_FORMAT.fullmatch(ext):
        return None
    return path[:dot], ext


def _compressor_format(event: Event, ext: str) -> str | None:
    """The compressor that wrote `ext` as its own format, if the writer is one."""
    for name in binary_names(event.proc):
        if ext in COMPRESSOR_FORMATS.get(name, ()):
            return name
    return None


@dataclass
class _Session:
    """Transformations of one session, by the new file's path (oldest first):
    (ts, ext, compressor or None, directory)."""

    done: dict[str, tuple[int, str, str | None, str]] = field(default_factory=dict)
    reported_at: int | None = None


class RansomwareDetector(BuiltinDetector):
    """Mass rewriting of files into new-extension copies, originals removed."""

    name = NAME
    Params = RansomwareParams
    #: read-only opens it needs for the kernel filter (vigil.rules.kernel_filters): none,
    #: it counts opens that write
    kernel_read_paths: tuple[str, ...] = ()
    #: the compiler toolchain's writes it needs: none, a compiler writing objects and
    #: removing its temporary files transforms nothing (ignored below as well)
    kernel_write_paths: tuple[str, ...] = ()
    event_types = frozenset(_OPEN | _UNLINK | _RENAME)

    params: RansomwareParams

    def __init__(self, params: RansomwareParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        super().__init__(params, own)
        pair = int(self.params.pair_seconds * 1e9)
        cap = self.params.max_tracked
        self._window = int(self.params.window_seconds * 1e9)
        #: (session, stem) -> (ext, compressor) of a new file `stem.ext`
        self._created: ExpiringMap[tuple[int, str], tuple[str, str | None]] = ExpiringMap(pair, cap)
        #: (session, path) -> True: a file deleted
        self._deleted: ExpiringMap[tuple[int, str], bool] = ExpiringMap(pair, cap)
        self._sessions: ExpiringMap[int, _Session] = ExpiringMap(self._window, cap)

    def on_event(self, event: Event) -> list[Detection]:
        """Pair new copies with deleted originals; report a mass transformation."""
        if event.res is not None and event.res < 0:
            return []
        t = event.type
        proc = event.proc
        session = proc.sid or proc.ppid or proc.pid
        if session is None or self.own.owns(proc) or is_toolchain_binary(proc.exepath):
            return []
        if t in _OPEN:
            if event.args.get("created") is not True:
                return []
            flags = int_arg(event, "flags")
            if t != "creat" and (flags is None or not is_open_write(flags)):
                return []
            path = fd_path(event) or str_arg(event, "name")
            split = _split_ext(path) if path else None
            if split is None:
                return []
            stem, ext = split
            fmt = _compressor_format(event, ext)
            if self._deleted.pop((session, stem)):
                return self._transformed(event, session, stem, ext, fmt)
            self._created.put((session, stem), event.ts, (ext, fmt))
            return []
        if t in _UNLINK:
            path = str_arg(event, "name", "path")
            if path is None or (int_arg(event, "flags") or 0) & AT_REMOVEDIR:
                return []  # a directory removed is no original file deleted
            self._retract(session, path, event.ts)
            made = self._created.pop((session, path))
            if made is not None:
                return self._transformed(event, session, path, made[0], made[1])
            self._deleted.put((session, path), event.ts, True)
            return []
        old, new = str_arg(event, "oldpath"), str_arg(event, "newpath")
        if old:
            self._retract(session, old, event.ts)
        if old and new and new.startswith(old + "."):
            split = _split_ext(new)
            if split is not None and split[0] == old:
                return self._transformed(event, session, old, split[1],
                                         _compressor_format(event, split[1]))
        return []

    def _retract(self, session: int, path: str, now: int) -> None:
        """A new copy deleted or renamed away again was a lock or temporary file (git
        deletes a ref under `REF.lock`), not an encrypted copy left in place."""
        state = self._sessions.get(session, now)
        if state is not None:
            state.done.pop(path, None)

    def _transformed(self, event: Event, session: int, stem: str, ext: str,
                     fmt: str | None) -> list[Detection]:
        state = self._sessions.get(session, event.ts)
        if state is None:
            state = _Session()
        self._sessions.put(session, event.ts, state)
        done = state.done
        done[f"{stem}.{ext}"] = (event.ts, ext, fmt, stem.rpartition("/")[0] or "/")
        for key in [k for k, v in done.items() if event.ts - v[0] > self._window]:
            del done[key]
        if len(done) < self.params.min_files:
            return []
        if state.reported_at is not None and event.ts - state.reported_at <= self._window:
            return []
        state.reported_at = event.ts
        return [self._detect(event, list(done.values()))]

    def _detect(self, event: Event, done: list[tuple[int, str, str | None, str]]) -> Detection:
        exts = Counter(ext for _ts, ext, _f, _d in done)
        dirs = Counter(d for _ts, _e, _f, d in done)
        span = (done[-1][0] - done[0][0]) / 1e9
        top = ", ".join(f".{e} ×{n}" for e, n in exts.most_common(3))
        output = (f"{len(done)} files rewritten as new copies with another extension ({top}) "
                  f"and their originals removed within {span:.1f} s, in {len(dirs)} "
                  f"directories (e.g. {dirs.most_common(1)[0][0]}), by the session of "
                  f"{describe_process(event)}: {event.proc.cmdline() or '?'}")
        compressors = {f for _ts, _e, f, _d in done}
        suppression = None
        if None not in compressors:
            tool = min(compressors)  # type: ignore[type-var]
            suppression = static_suppression(NAME, "compressors", tool,
                                             "a compressor replacing files by its own format")
        return build_detection(
            NAME, "mass_rewrite", Priority.CRITICAL, output, TAGS, event,
            path=dirs.most_common(1)[0][0],
            data={"files": len(done), "extensions": dict(exts.most_common(5)),
                  "directories": len(dirs), "seconds": round(span, 3)},
            suppressed=suppression)
