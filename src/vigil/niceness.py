"""The agent's CPU share: below the host's own work, as `nice` in `vigil.toml` says.

Vigil shares the CPUs with what it watches. At the default niceness (10) the scheduler
gives the workload the CPU first and the agent the rest; events wait in the kernel ring
buffer (16 MiB) meanwhile, and drops, if any, are counted and reported as always. Under a
CPU saturated for long at normal priority, a niced agent falls behind sooner, which is
why the value is configurable (`nice = 0` keeps the priority Vigil was started with).
"""

from __future__ import annotations

import os

#: the niceness `vigil run` takes unless `vigil.toml` says otherwise
DEFAULT_NICE = 10


def set_niceness(nice: int) -> str | None:
    """Run this process's threads at `nice`; returns why it could not, or None.

    On Linux niceness belongs to each thread, and a thread inherits its creator's: called
    before the agent starts its threads, this covers all of them. Threads already running
    are set too.
    """
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]  # the calling thread
    try:
        for tid in tids:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError as exc:  # lowering needs nothing; raising needs CAP_SYS_NICE
        return f"cannot set niceness {nice}: {exc.strerror}"
    return None


def current_niceness() -> int:
    """The calling thread's niceness."""
    return os.getpriority(os.PRIO_PROCESS, 0)
