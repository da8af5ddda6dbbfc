"""`JournaldSensor`: sshd, sudo and su entries from the systemd journal.

It runs `journalctl -o json -f` filtered on the programs' `SYSLOG_IDENTIFIER`s (no python
bindings needed, and none are packaged for the venv) and parses each JSON entry with
`parse_journal_entry`. The journal cursor of the last entry read is kept in a state file,
so a restart continues with `--after-cursor` instead of losing or repeating entries.

sshd entries are joined by process (`vigil.sensors.sshd_join`), as in the auth log.

`start()` raises `SensorUnavailable` when `journalctl` is not installed or when no journal
files exist (systemd-journald is not running: containers, minimal hosts);
`journal_unavailable_reason()` makes the same check without starting anything.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterable

import msgspec

from vigil.events.model import Event
from vigil.sensors.authparse import PROGRAMS, parse_message
from vigil.sensors.base import SensorUnavailable
from vigil.sensors.sshd_join import SshdJoiner

log = logging.getLogger(__name__)

JOURNAL_DIRS = ("/run/log/journal", "/var/log/journal")
#: entries queued between the reader thread and `read()`; past it the oldest wait (the
#: pipe fills and journalctl blocks, so nothing is lost, only delayed)
QUEUE_SIZE = 10_000


def parse_journal_entry(entry: dict[str, Any]) -> Event | None:
    """One `journalctl -o json` object -> an `auth.*` event, or None if not one we know.

    `MESSAGE` may be a list of byte values when it is not valid UTF-8 (journal JSON rule).
    """
    program = entry.get("SYSLOG_IDENTIFIER") or entry.get("_COMM")
    message = entry.get("MESSAGE")
    if not isinstance(program, str) or message is None:
        return None
    if isinstance(message, list):
        try:
            message = bytes(message).decode("utf-8", "replace")
        except (TypeError, ValueError):
            return None
    if not isinstance(message, str):
        return None
    pid = _int(entry.get("SYSLOG_PID") or entry.get("_PID"))
    ts_us = _int(entry.get("__REALTIME_TIMESTAMP")) or 0
    host = entry.get("_HOSTNAME")
    return parse_message(program, pid, message, ts=ts_us * 1000,
                         hostname=host if isinstance(host, str) else None)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def journal_unavailable_reason(journalctl: str = "journalctl",
                               journal_dirs: Iterable[str] = JOURNAL_DIRS) -> str | None:
    """None when the journal can be read here; else one line saying why not.

    journalctl exits 0 even where no journal exists, so the journal files are looked for
    first; then `journalctl -n 0` must run.
    """
    exe = shutil.which(journalctl)
    if exe is None:
        return f"{journalctl} not found on PATH"
    dirs = list(journal_dirs)
    if not _has_journal_files(dirs):
        return (f"no journal files under {', '.join(dirs)} (systemd-journald is not "
                "running here)")
    try:
        r = subprocess.run([exe, "--quiet", "--no-pager", "-n", "0"], capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=15)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {journalctl}: {exc}"
    if r.returncode != 0:
        why = r.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"{journalctl} fails (exit {r.returncode}): {why[0] if why else 'no message'}"
    return None


def _has_journal_files(dirs: Iterable[str]) -> bool:
    for d in dirs:
        for _root, _dirs, files in os.walk(d):
            if any(f.endswith((".journal", ".journal~")) for f in files):
                return True
    return False


#: an entry stamped further ahead than this (or not after the epoch) gets the reading time
MAX_FUTURE_NS = 300 * 10**9

#: delay before starting journalctl again after it exited, doubling up to the maximum
RESTART_MIN_SECS = 1.0
RESTART_MAX_SECS = 60.0


class JournaldSensor:
    """Follow the journal through a `journalctl -o json -f` subprocess.

    `journalctl`: the command (found on PATH). `state_file`: where the last cursor is kept
    (None: start at the journal's end each time). `identifiers`: the `SYSLOG_IDENTIFIER`s
    to follow. `journal_dirs`: where journal files must exist for the sensor to run.
    """

    name = "journald"

    def __init__(self, journalctl: str = "journalctl", state_file: str | Path | None = None,
                 identifiers: Iterable[str] = PROGRAMS,
                 journal_dirs: Iterable[str] = JOURNAL_DIRS) -> None:
        self._journalctl = journalctl
        self._state_file = Path(state_file) if state_file is not None else None
        self._identifiers = sorted(identifiers)
        self._journal_dirs = list(journal_dirs)
        self._proc: subprocess.Popen[bytes] | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(QUEUE_SIZE)
        self._reader: threading.Thread | None = None
        self._cursor: str | None = None
        self._saved_cursor: str | None = None
        self._counts = {"events": 0, "entries": 0, "unparsed": 0, "bad_json": 0, "exited": 0,
                        "restarts": 0, "future_stamps": 0}
        self._joiner = SshdJoiner()
        #: when to start journalctl again after it exited (monotonic), and the next delay
        self._restart_at: float | None = None
        self._backoff = RESTART_MIN_SECS
        self._stopping = False

    def command(self) -> list[str]:
        """The journalctl command line this sensor runs."""
        exe = shutil.which(self._journalctl) or self._journalctl
        cmd = [exe, "-o", "json", "-f", "--no-pager", "-q"]
        cursor = self._load_cursor()
        cmd += ["--after-cursor", cursor] if cursor else ["-n", "0"]
        cmd += [f"SYSLOG_IDENTIFIER={ident}" for ident in self._identifiers]
        return cmd

    def start(self) -> None:
        """Start journalctl; raise `SensorUnavailable` when there is no journal to read."""
        if shutil.which(self._journalctl) is None:
            raise SensorUnavailable(f"journald: {self._journalctl} not found on PATH")
        if not _has_journal_files(self._journal_dirs):
            raise SensorUnavailable(
                f"journald: no journal files under {', '.join(self._journal_dirs)} "
                "(systemd-journald is not running here)")
        try:
            self._spawn()
        except OSError as exc:
            raise SensorUnavailable(f"journald: cannot run {self._journalctl}: {exc}") from None

    def _spawn(self) -> None:
        self._proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self._reader = threading.Thread(target=self._pump, args=(self._proc,),
                                        name="journald-reader", daemon=True)
        self._reader.start()

    def _maybe_restart(self) -> None:
        """journalctl exited: start it again after a growing delay, from the saved cursor,
        so the journal lines written meanwhile are read, not lost."""
        if self._restart_at is None or self._stopping or time.monotonic() < self._restart_at:
            return
        self._restart_at = None
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        try:
            self._spawn()
            self._counts["restarts"] += 1
            log.info("journald: journalctl restarted after the cursor")
        except OSError as exc:
            log.warning("journald: cannot restart %s: %s", self._journalctl, exc)
            self._schedule_restart()

    def _schedule_restart(self) -> None:
        self._restart_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, RESTART_MAX_SECS)

    def read(self, timeout: float = 0.0) -> list[Event]:
        """Entries that arrived since the last call (waits up to `timeout` for the first)."""
        self._maybe_restart()
        # lines that waited in vain for their address go on without it
        events: list[Event] = self._joiner.expire(time.time_ns())
        try:
            line = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
        except queue.Empty:
            return events
        while True:
            if line is None:
                self._counts["exited"] += 1
                log.warning("journald: journalctl exited (code %s); restarting in %.0f s",
                            self._proc.poll() if self._proc else None, self._backoff)
                self._save_cursor()
                self._schedule_restart()
            else:
                self._backoff = RESTART_MIN_SECS
                ev = self._handle(line)
                if ev is not None:
                    events.extend(self._joiner.push(ev, time.time_ns()))
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
        self._save_cursor()
        return events

    def stop(self) -> None:
        """Stop journalctl and save the cursor; safe to call twice."""
        self._stopping = True
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        self._save_cursor()

    def stats(self) -> dict[str, int]:
        """Counters: events, entries, unparsed, bad_json, exited, restarts, future_stamps
        (entries whose stamp was not a time: counted at the reading time)."""
        return dict(self._counts)

    # -- internals ---------------------------------------------------------------------

    def _pump(self, proc: "subprocess.Popen[bytes]") -> None:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                self._queue.put(line)
        except (OSError, ValueError):  # stdout closed by stop()
            pass
        self._queue.put(None)

    def _handle(self, line: bytes) -> Event | None:
        self._counts["entries"] += 1
        try:
            entry = json.loads(line)
        except ValueError:
            self._counts["bad_json"] += 1
            return None
        if not isinstance(entry, dict):
            self._counts["bad_json"] += 1
            return None
        cursor = entry.get("__CURSOR")
        if isinstance(cursor, str):
            self._cursor = cursor
        ev = parse_journal_entry(entry)
        if ev is None:
            self._counts["unparsed"] += 1
            return None
        self._counts["events"] += 1
        now_ns = time.time_ns()
        if not 0 < ev.ts <= now_ns + MAX_FUTURE_NS:
            # journald stamps entries when it receives them; anything else is not a time
            self._counts["future_stamps"] += 1
            ev = msgspec.structs.replace(ev, ts=now_ns)
        return ev

    def _load_cursor(self) -> str | None:
        if self._state_file is None or not self._state_file.exists():
            return None
        try:
            text = self._state_file.read_text().strip()
        except OSError:
            return None
        self._saved_cursor = text or None
        return self._saved_cursor

    def _save_cursor(self) -> None:
        if self._state_file is None or self._cursor is None or self._cursor == self._saved_cursor:
            return
        try:
            self._state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._state_file.with_suffix(self._state_file.suffix + ".tmp")
            tmp.write_text(self._cursor)
            os.replace(tmp, self._state_file)
            self._saved_cursor = self._cursor
        except OSError as exc:
            log.warning("journald: cannot save cursor to %s: %s", self._state_file, exc)
