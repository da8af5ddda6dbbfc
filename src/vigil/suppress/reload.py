"""Hot reload of `vigil.toml`: a saved change takes effect within about a second.

`ConfigReloader` watches the file two ways: watchdog (inotify) on the file's directory,
since editors often save by writing a new file and renaming it over the old one, and a
poll of the file's identity (inode, size, mtime) every `poll_interval` seconds, for the
cases inotify misses (network file systems, symlink swaps, exhausted inotify watches).

A change is parsed and validated by `vigil.config` (`decode_config`), the one place
that knows the file's schema. When it is valid, the new allowlist is swapped into the
`AllowlistHolder` and the `on_config` listeners get the whole new `VigilConfig`. When
it is not, the previous
allowlist stays active and ONE error is logged with file, line and column; the same
broken content is not reported again, and the next valid save recovers.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from vigil.config import VigilConfig, decode_config
from vigil.config_errors import ConfigError
from vigil.suppress.holder import AllowlistHolder

log = logging.getLogger(__name__)

Fingerprint = tuple[int, int, int, int]
ConfigListener = Callable[[VigilConfig], None]
#: a file modified this recently is re-read even when its identity looks unchanged
_RECENT_NS = 2_000_000_000


def _fingerprint(path: Path) -> Fingerprint | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _read(path: Path) -> tuple[bytes, str] | None:
    """The file's bytes and their digest, or None when it cannot be read."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    return raw, hashlib.sha256(raw).hexdigest()


class ConfigReloader:
    """Keep `holder` in step with the allowlist of the configuration file at `path`.

    The holder is assumed to hold the allowlist of the file as it is now (the caller loaded
    it at start-up); only later changes are applied. `settle` is how long a burst of
    file-system events must be quiet before the file is read, so a save written in several
    steps is not read half-way.
    """

    def __init__(self, path: str | Path, holder: AllowlistHolder, *,
                 poll_interval: float = 1.0, settle: float = 0.05, use_inotify: bool = True,
                 on_config: Iterable[ConfigListener] = ()) -> None:
        self.path = Path(path).absolute()
        self.holder = holder
        self.poll_interval = poll_interval
        self.settle = settle
        self.use_inotify = use_inotify
        self._listeners = list(on_config)
        self._fingerprint = _fingerprint(self.path)
        initial = _read(self.path)
        self._applied_digest = initial[1] if initial is not None else None
        self._reported_digest: str | None = None
        #: the error of the current (rejected) file content; None when the file is valid
        self.last_error: ConfigError | None = None
        self._check_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._observer = None

    # ------------------------------------------------------------ running

    def start(self) -> "ConfigReloader":
        """Start watching (a daemon thread, plus the inotify observer when available)."""
        if self._thread is not None:
            return self
        if self.use_inotify:
            self._observer = self._start_observer()
        self._thread = threading.Thread(target=self._run, name="vigil-config-reload",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching; returns when the threads have ended."""
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "ConfigReloader":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start_observer(self):  # -> watchdog Observer | None
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        wake = self._wake
        names = {self.path.name}

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                paths = (event.src_path, getattr(event, "dest_path", "") or "")
                if any(os.path.basename(os.fsdecode(p)) in names for p in paths if p):
                    wake.set()

        observer = Observer()
        try:
            observer.schedule(_Handler(), str(self.path.parent), recursive=False)
            observer.start()
        except OSError as exc:
            log.warning("%s: cannot watch with inotify (%s); polling every %.1fs instead",
                        self.path, exc, self.poll_interval)
            return None
        return observer

    def _run(self) -> None:
        while not self._stop.is_set():
            woken = self._wake.wait(self.poll_interval)
            if self._stop.is_set():
                return
            if woken:
                # let the burst of events of one save end before reading the file
                while True:
                    self._wake.clear()
                    if self._stop.wait(self.settle):
                        return
                    if not self._wake.is_set():
                        break
            try:
                self.check(force=woken)
            except Exception:  # the watcher must outlive any surprise
                log.exception("%s: unexpected error while reloading", self.path)

    # ------------------------------------------------------------ one check

    def check(self, force: bool = False) -> bool:
        """Look at the file once; apply it if it changed and is valid. True if applied.

        The file's identity (inode, size, mtime) decides whether to read it, except with
        `force` (an inotify event) or while its mtime is recent: two saves of the same size
        within one mtime tick would otherwise look alike."""
        with self._check_lock:  # the watcher thread and a direct caller may overlap
            return self._check(force)

    def _check(self, force: bool) -> bool:
        fingerprint = _fingerprint(self.path)
        recent = fingerprint is not None and time.time_ns() - fingerprint[3] < _RECENT_NS
        if fingerprint == self._fingerprint and not (force or recent):
            return False
        self._fingerprint = fingerprint
        if fingerprint is None:
            self._report(None, f"{self.path}: configuration file is gone; keeping the "
                               "previous allowlist")
            return False
        content = _read(self.path)
        if content is None:
            return False
        raw, digest = content
        if digest == self._applied_digest:
            if self.last_error is not None:
                self.last_error = None
                self._reported_digest = None
                log.info("%s: configuration back to the active version", self.path)
            return False
        if digest == self._reported_digest:
            return False  # the same rejected content: already reported
        try:
            # parse the very bytes that were fingerprinted, not a later version
            config = decode_config(raw, self.path)
        except ConfigError as exc:
            self.last_error = exc
            self._report(digest, f"{exc} (keeping the previous allowlist)")
            return False
        self._applied_digest = digest
        self._reported_digest = None
        recovered = self.last_error is not None
        self.last_error = None
        self.holder.swap(config.allowlist)
        log.info("%s: configuration %s; allowlist has %d entries", self.path,
                 "fixed and reloaded" if recovered else "reloaded", len(config.allowlist))
        for listener in self._listeners:
            try:
                listener(config)
            except Exception:
                log.exception("%s: a configuration listener failed", self.path)
        return True

    def _report(self, digest: str | None, message: str) -> None:
        """Log a rejected file once per distinct content."""
        key = digest or "<missing>"
        if key == self._reported_digest:
            return
        self._reported_digest = key
        log.error("%s", message)
