"""What ties a detection to a story: its processes and their lineage, its login session,
its remote IP and its target file (`StoryFacts`).

Processes are identified by pid *and* start time, so a recycled pid never joins the
wrong story. Service managers and daemons that are the ancestors of everything (init,
cron, container runtimes, the sshd listener, terminal multiplexers) are never part of a
story: if they were, every detection on the host would be one incident. That list is a
universal truth, kept here in code (`SERVICE_ROOTS`).
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple

from vigil.detections import Detection
from vigil.events.model import Event, Process

#: programs whose descendants are unrelated to each other: never the root of a story
SERVICE_ROOTS: frozenset[str] = frozenset({
    "systemd", "init", "kthreadd", "upstart", "openrc-init", "runit", "s6-svscan",
    "s6-supervise", "runsv", "runsvdir", "supervisord", "tini", "dumb-init", "catatonit",
    "cron", "crond", "anacron", "atd", "containerd", "containerd-shim", "dockerd", "runc",
    "crun", "conmon", "podman", "tmux: server", "tmux", "screen", "SCREEN", "(sd-pam)",
    "agetty", "getty", "login", "polkitd", "udevd", "systemd-udevd",
})
#: programs that are a service root only as the listener (their per-connection children
#: start a login session and belong to its story)
_LISTENERS: frozenset[str] = frozenset({"sshd", "sshd-session", "dropbear", "telnetd"})
#: how far up the process tree a detection looks for a process already in a story
MAX_LINEAGE = 16
#: the kernel's "no login uid"
_NO_LOGINUID = (4294967295, -1)

ProcKey = tuple  # (host, pid, start_ts)


def is_service_root(p: Process) -> bool:
    """True for init, service managers and listeners: processes whose children are each
    their own story."""
    pid = p.pid
    if pid is not None and pid <= 2:
        return True
    name = p.name
    if name in SERVICE_ROOTS:
        return True
    if name in _LISTENERS:
        parent = p.parent
        ppid = p.ppid if p.ppid is not None else (parent.pid if parent is not None else None)
        return ppid is None or ppid <= 1 or (parent is not None and parent.name in SERVICE_ROOTS)
    return False


_ip_cache: dict[str, str | None] = {}


def routable_ip(text: str | None) -> str | None:
    """`text` normalised when it is an IP address a story can be keyed on (not loopback,
    unspecified or link-local), else None."""
    if not text:
        return None
    hit = _ip_cache.get(text, False)
    if hit is not False:
        return hit  # type: ignore[return-value]
    try:
        ip = ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        out = None
    else:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        out = None if (ip.is_loopback or ip.is_unspecified or ip.is_link_local) else str(ip)
    if len(_ip_cache) > 4096:  # a flood of distinct addresses must not grow this forever
        _ip_cache.clear()
    _ip_cache[text] = out
    return out


def session_of(p: Process) -> str | None:
    """The login session of a process: its login uid and session id, or for a process
    without a login uid its terminal and session id; None for a daemon's process."""
    sid = p.sid
    if sid is None or sid <= 0:
        return None
    luid = p.loginuid
    if luid is not None and luid not in _NO_LOGINUID:
        return f"{luid}:{sid}"
    if p.tty:
        return f"tty{p.tty}:{sid}"
    return None


class StoryFacts(NamedTuple):
    """What a detection can share with an open incident."""

    host: str | None
    #: the processes the detection is about (its syscall evidence), as (host, pid, start)
    subjects: tuple[ProcKey, ...]
    #: their `Process` records, in the same order
    subject_procs: tuple[Process, ...]
    #: pids (host, pid) whose start time is unknown: a log line's sshd, a /proc seed
    pid_anchors: tuple[tuple, ...]
    session: str | None
    ip: str | None
    target: str | None


def story_facts(det: Detection) -> StoryFacts:
    """Extract the story keys of a detection from its evidence and entity (its ancestry is
    walked only when needed: `lineage`)."""
    host = det.hostname
    subjects: list[ProcKey] = []
    procs: list[Process] = []
    anchors: tuple[tuple, ...] = ()
    session = None
    evidence: list[Event] = det.evidence
    for ev in evidence:
        p = ev.proc
        if p.pid is None or ev.source != "syscall":
            continue
        k = (host, p.pid, p.start_ts)
        if k in subjects:
            continue
        subjects.append(k)
        procs.append(p)
        if session is None and p.sid:
            session = session_of(p)
    if not subjects and evidence:
        # a log line: its process (sshd for that connection) may be the ancestor of what
        # the login session then does, but its start time is unknown
        last = evidence[-1]
        if last.proc.pid is not None:
            anchors = ((host, last.proc.pid),)
    ent = det.entity
    return StoryFacts(host, tuple(subjects), tuple(procs), anchors, session,
                      routable_ip(ent.ip) if ent.ip else None, ent.path)


def lineage(host: str | None, procs: tuple[Process, ...]) -> list[ProcKey]:
    """The ancestors of the processes, nearest first, service roots left out."""
    out: list[ProcKey] = []
    for p in procs:
        anc = p.parent
        depth = 0
        while anc is not None and depth < MAX_LINEAGE:
            if anc.pid is not None and not is_service_root(anc):
                out.append((host, anc.pid, anc.start_ts))
            anc = anc.parent
            depth += 1
    return out
