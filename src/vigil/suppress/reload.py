"""Hot reload of `vigil.toml`: a saved change takes effect within about a second.

`ConfigReloader` watches the file itself two ways: an inotify watch on the file — not on
its directory, so a busy directory beside it reaches neither the agent's inotify queue
nor its reloader — placed again on the new file whenever an editor saves by renaming a
new file over the old one (the watch follows the inode); and a poll of the file's
identity (inode, size, mtime) every `poll_interval` seconds, for the cases inotify misses
(network file systems, symlink swaps, exhausted inotify watches).

A change is parsed and validated by `vigil.config` (`decode_config`), the one place
that knows the file's schema. When it is valid, the settings that changed are applied:
the new allowlist is swapped into the `AllowlistHolder`, and each `SettingsApplier`
applies the sections it owns (the live agent's rules and detectors: `vigil.live_reload`).
Changed settings no one applies are named in a warning: they need a restart. The
`on_config` listeners get the whole new `VigilConfig`. When the file is not valid, the
previous settings stay active and ONE error is logged with file, line and column; the
same broken content is not reported again, and the next valid save recovers.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import tomllib
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from vigil.config import VigilConfig, decode_config
from vigil.config_errors import ConfigError
from vigil.suppress.holder import AllowlistHolder

log = logging.getLogger(__name__)

Fingerprint = tuple[int, int, int, int]
ConfigListener = Callable[[VigilConfig], None]
#: the section this reloader applies itself
ALLOWLIST = "allowlist"


class SettingsApplier(Protocol):
    """Applies some sections of a reloaded configuration to what runs."""

    #: the top-level keys (`rules`, `detectors`) it applies live
    sections: frozenset[str]

    def apply(self, config: VigilConfig, changed: frozenset[str]) -> list[str]:
        """Apply `config`; `changed` holds the dotted keys that changed (`rules.disabled`).
        Returns what was applied, for the log (raises when it could not apply)."""


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> frozenset[str]:
    """The settings that differ between two parsed files: top-level keys, and for a table
    its keys (`state_dir`, `rules.disabled`, `alerts.routes`)."""
    out: set[str] = set()
    for key in old.keys() | new.keys():
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) or isinstance(b, dict):
            a = a if isinstance(a, dict) else {}
            b = b if isinstance(b, dict) else {}
            out |= {f"{key}.{sub}" for sub in a.keys() | b.keys() if a.get(sub) != b.get(sub)}
            if not a.keys() | b.keys():
                out.add(key)
        else:
            out.add(key)
    return frozenset(out)


def _table(raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
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
                 on_config: Iterable[ConfigListener] = (),
                 appliers: Iterable[SettingsApplier] = ()) -> None:
        self.path = Path(path).absolute()
        self.holder = holder
        self.poll_interval = poll_interval
        self.settle = settle
        self.use_inotify = use_inotify
        self._listeners = list(on_config)
        self._appliers = list(appliers)
        self._fingerprint = _fingerprint(self.path)
        initial = _read(self.path)
        self._applied_digest = initial[1] if initial is not None else None
        #: the file as last applied, parsed: what a change is compared with
        self._applied_table = _table(initial[0] if initial is not None else None)
        #: how many inotify events the watch delivered (for tests and diagnosis)
        self.fs_events = 0
        self._inotify: Any = None
        self._wd: int | None = None
        self._watched: tuple[int, int] | None = None
        self._watcher: threading.Thread | None = None
        self._reported_digest: str | None = None
        #: the error of the current (rejected) file content; None when the file is valid
        self.last_error: ConfigError | None = None
        self._check_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ running

    def start(self) -> "ConfigReloader":
        """Start watching (a daemon thread, plus the inotify watch when available)."""
        if self._thread is not None:
            return self
        if self.use_inotify:
            self._start_inotify()
        self._thread = threading.Thread(target=self._run, name="vigil-config-reload",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching; returns when the threads have ended."""
        self._stop.set()
        self._wake.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None

    def __enter__(self) -> "ConfigReloader":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start_inotify(self) -> None:
        from inotify_simple import INotify

        try:
            self._inotify = INotify()
        except OSError as exc:
            log.warning("%s: cannot watch with inotify (%s); polling every %.1fs instead",
                        self.path, exc, self.poll_interval)
            return
        self._arm()
        self._watcher = threading.Thread(target=self._watch_loop, name="vigil-config-watch",
                                         daemon=True)
        self._watcher.start()

    def _arm(self) -> None:
        """Watch the file at `path` as it is now. The watch follows an inode: after an
        editor renamed a new file over the old one it must be placed again, which each
        check does when the file's inode changed."""
        from inotify_simple import flags

        ino = self._inotify
        if ino is None:
            return
        if self._wd is not None:
            try:
                ino.rm_watch(self._wd)
            except OSError:
                pass  # the kernel dropped it with the old file
            self._wd = None
        try:
            st = os.stat(self.path)
            # writes, attribute and link-count changes, the file deleted or moved away;
            # not opens and reads (the reloader's own reads would wake it)
            self._wd = ino.add_watch(self.path, flags.MODIFY | flags.CLOSE_WRITE
                                     | flags.ATTRIB | flags.DELETE_SELF | flags.MOVE_SELF)
        except OSError as exc:
            self._watched = None
            log.debug("%s: not watched with inotify for now (%s); polling", self.path, exc)
            return
        self._watched = (st.st_dev, st.st_ino)

    def _watch_loop(self) -> None:
        ino = self._inotify
        while not self._stop.is_set() and ino is not None:
            try:
                events = ino.read(timeout=200)
            except (OSError, ValueError):  # closed by stop()
                return
            if events:
                self.fs_events += len(events)
                self._wake.set()

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
        if (self._inotify is not None and fingerprint is not None
                and fingerprint[:2] != self._watched):
            self._arm()
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
        table = _table(raw)
        changed = changed_keys(self._applied_table, table)
        self._applied_table = table
        self.holder.swap(config.allowlist)
        applied = [f"allowlist ({len(config.allowlist)} entries)"]
        handled = {ALLOWLIST}
        for applier in self._appliers:
            handled |= applier.sections
            if not any(k.split(".")[0] in applier.sections for k in changed):
                continue
            try:
                applied.extend(applier.apply(config, changed))
            except Exception as exc:  # noqa: BLE001 (the previous settings keep running)
                log.error("%s: could not apply %s, the previous settings keep running: %s",
                          self.path, ", ".join(sorted(applier.sections)), exc)
        log.info("%s: configuration %s: %s", self.path,
                 "fixed and reloaded" if recovered else "reloaded", "; ".join(applied))
        later = sorted(k for k in changed if k.split(".")[0] not in handled)
        if later:
            log.warning("%s: changed settings that apply only after a restart of vigil: %s",
                        self.path, ", ".join(later))
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
