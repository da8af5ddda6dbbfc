"""The current allowlist, shared between the reloader thread and the engine thread."""

from __future__ import annotations

from vigil.suppress.allowlist import Allowlist


class AllowlistHolder:
    """Holds the active `Allowlist`; replaced whole, never modified in place.

    The reloader builds a complete new `Allowlist` and swaps the reference; rebinding one
    attribute is atomic in CPython, and an `Allowlist` is immutable, so the engine thread
    reads `current` without a lock and always sees either the old or the new list, never
    half of each.
    """

    def __init__(self, allowlist: Allowlist | None = None) -> None:
        self._current = allowlist if allowlist is not None else Allowlist()
        self._generation = 0

    @property
    def current(self) -> Allowlist:
        """The allowlist in force now."""
        return self._current

    @property
    def generation(self) -> int:
        """How many times the allowlist was replaced (0 = the initial one)."""
        return self._generation

    def swap(self, allowlist: Allowlist) -> Allowlist:
        """Make `allowlist` the current one; return the one it replaces."""
        old = self._current
        self._current = allowlist
        self._generation += 1
        return old
