"""Typed reads of `Event.args`, which hold whatever a sensor or a recording put there.

A replayed or hand-written event may carry a number where a path belongs or a string
where flags belong; detectors read arguments through these helpers so that such an event
is simply not matched instead of raising in the engine.
"""

from __future__ import annotations

from vigil.events.model import Event


def str_arg(event: Event, *names: str) -> str | None:
    """The first of `names` whose value is a non-empty string."""
    for name in names:
        value = event.args.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def int_arg(event: Event, *names: str) -> int | None:
    """The first of `names` whose value is an integer (booleans do not count)."""
    for name in names:
        value = event.args.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def fd_path(event: Event) -> str | None:
    """The path of the event's file descriptor, when it has one."""
    fd = event.fd
    name = fd.name if fd is not None else None
    return name if isinstance(name, str) and name else None
