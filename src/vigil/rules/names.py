"""Domain names in conditions: `fd.sip.name = kubernetes.default.svc.cluster.local`.

Falco compares such fields by resolving the names written in the condition and matching
the event's address against the result. Vigil does the same with a `NameTable`: names
come from `[rules.hosts]` in `vigil.toml` (static, like /etc/hosts) and, when enabled,
from the system resolver — on a background thread, refreshed every few minutes, so a slow
or absent DNS never delays loading or evaluation (until a name resolves it matches
nothing).
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Iterable, Mapping

log = logging.getLogger(__name__)

#: the fields compared through the table, and the address field each stands for
NAME_FIELDS: dict[str, str] = {
    "fd.sip.name": "fd.sip", "fd.cip.name": "fd.cip",
    "fd.rip.name": "fd.rip", "fd.lip.name": "fd.lip",
}


class NameTable:
    """Name → addresses, read lock-free by compiled conditions."""

    def __init__(self, static: Mapping[str, Iterable[str]] | None = None, *,
                 resolve: bool = False, refresh_secs: float = 300.0) -> None:
        self._static = {k.lower(): frozenset(v) for k, v in (static or {}).items()}
        self._resolved: dict[str, frozenset[str]] = {}
        self.resolve = resolve
        self.refresh_secs = refresh_secs
        self._wanted: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def want(self, name: str) -> None:
        """Register a name used by a condition (resolved by `start`)."""
        self._wanted.add(name.lower())

    def addresses(self, name: str) -> frozenset[str]:
        """The addresses known for `name` (static entries first)."""
        key = name.lower()
        return self._static.get(key) or self._resolved.get(key, frozenset())

    def matches(self, address: str, names: tuple[str, ...]) -> bool:
        """True when `address` belongs to any of `names`."""
        for n in names:
            if address in self.addresses(n):
                return True
        return False

    def resolve_now(self) -> None:
        """Resolve every wanted name that has no static entry (blocking; the thread's job)."""
        for name in sorted(self._wanted - set(self._static)):
            try:
                infos = socket.getaddrinfo(name, None)
            except OSError as exc:
                log.debug("cannot resolve %s: %s", name, exc)
                continue
            # a new frozenset replaces the old one: readers never see a half-built set
            self._resolved[name] = frozenset(str(i[4][0]) for i in infos)

    def start(self) -> None:
        """Resolve in the background, now and every `refresh_secs` (when enabled)."""
        if not self.resolve or self._thread is not None or not self._wanted:
            return

        def loop() -> None:
            while not self._stop.is_set():
                self.resolve_now()
                self._stop.wait(self.refresh_secs)

        self._thread = threading.Thread(target=loop, name="vigil-names", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop refreshing."""
        self._stop.set()
