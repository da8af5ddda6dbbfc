"""Hot reload of rule files, as Falco does when a watched rules file changes.

A watcher thread looks at the rule files every second (size, mtime, inode of each file
and of each directory's listing). Once a change has settled (the same at two looks in a
row, so a file caught mid-save is not loaded), it loads and compiles everything
again on its own thread; only a rule set without errors replaces the running one — the
agent swaps it in between two event batches, so the engine thread never takes a lock. A
set with errors is reported once (file, line, item) and the previous rules keep running.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int, int], ...]


def fingerprint(paths: Sequence[Path]) -> Fingerprint:
    """What changes when a rule file (or a directory's set of files) changes."""
    out = []
    for p in paths:
        try:
            entries = sorted(p.iterdir()) if p.is_dir() else [p]
        except OSError:
            entries = [p]
        for e in entries:
            try:
                st = os.stat(e)
                out.append((str(e), st.st_size, st.st_mtime_ns, st.st_ino))
            except OSError:
                out.append((str(e), -1, -1, -1))
    return tuple(out)


class RulesReloader:
    """Polls rule paths; builds new engines with `build()` and hands them to `ready()`.

    `build()` returns `(engines, problems)`: the engines to run, or None with the errors.
    """

    def __init__(self, paths: Callable[[], Sequence[Path]],
                 build: Callable[[], tuple[Any | None, list[str]]],
                 ready: Callable[[Any], None], interval: float = 1.0) -> None:
        self._paths = paths
        self._build = build
        self._ready = ready
        self.interval = interval
        self._seen = fingerprint(self._paths())
        self._failed: Fingerprint | None = None
        self._settling: Fingerprint | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._forced = False
        #: `reload_now` requests waiting for the reloader's thread: (done, result slot)
        self._requests: list[tuple[threading.Event, list]] = []
        self._thread: threading.Thread | None = None
        self.reloads = 0
        self.last_error: str | None = None

    def rebuild_now(self) -> None:
        """Rebuild at the next look (soon), changed files or not: the settings the rules
        are built with changed (`[rules]` of a reloaded vigil.toml). All builds happen on
        this reloader's thread, so an older build never overtakes a newer one."""
        self._forced = True
        self._wake.set()

    def check(self) -> bool:
        """Look once; True when new engines were handed over."""
        now = fingerprint(self._paths())
        forced, self._forced = self._forced, False
        if forced:
            self._settling = now
        elif now == self._seen or now == self._failed:
            self._settling = None
            return False
        if now != self._settling:
            # a file caught mid-save (truncated, half written) must not become the rules:
            # reload only once the files look the same at two checks in a row
            self._settling = now
            return False
        self._settling = None
        engines, problems = self._build()
        if engines is None:
            self._failed = now
            self.last_error = "; ".join(problems[:5])
            log.error("rules reload failed, the previous rules keep running: %s%s",
                      self.last_error, f" (+{len(problems) - 5} more)" if len(problems) > 5
                      else "")
            return False
        self._seen, self._failed, self.last_error = now, None, None
        self.reloads += 1
        self._ready(engines)
        log.info("rules reloaded")
        return True

    def reload_now(self, timeout: float = 120.0) -> tuple[bool, str | None]:
        """Build and hand over the rules as they are now, whatever changed (`vigil
        reload`); (True, None) when they were handed over, (False, the errors) when not.
        The build runs on the reloader's thread (with every other build, so none
        overtakes another); the caller waits for it."""
        if self._thread is None or not self._thread.is_alive():
            return self._build_now()
        done = threading.Event()
        slot: list[tuple[bool, str | None]] = []
        self._requests.append((done, slot))
        self._wake.set()
        if not done.wait(timeout):
            return False, f"no answer from the rules reloader within {timeout:.0f} s"
        return slot[0]

    def _serve_requests(self) -> None:
        if not self._requests:
            return
        waiting, self._requests = self._requests, []
        result = self._build_now()
        for done, slot in waiting:
            slot.append(result)
            done.set()

    def _build_now(self) -> tuple[bool, str | None]:
        engines, problems = self._build()
        now = fingerprint(self._paths())
        if engines is None:
            self._failed = now
            self.last_error = "; ".join(problems[:5])
            return False, self.last_error
        self._seen, self._failed, self._settling, self.last_error = now, None, None, None
        self.reloads += 1
        self._ready(engines)
        log.info("rules reloaded (asked)")
        return True, None

    def start(self) -> "RulesReloader":
        """Poll on a daemon thread until `stop()`."""
        def loop() -> None:
            while not self._stop.is_set():
                self._wake.wait(self.interval)
                self._wake.clear()
                if self._stop.is_set():
                    return
                try:
                    self._serve_requests()
                    self.check()
                except Exception:  # a reload bug must not take the agent down
                    log.exception("rules reload crashed; the previous rules keep running")

        self._thread = threading.Thread(target=loop, name="vigil-rules-reload", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
