"""The `Incident`: one story made of detections, as the rest of Vigil sees it.

An incident is what a person reads: the detections that belong together (one process
tree, one login session, one attacker IP, one target file), opened by the first, escalated
by worse ones, closed when quiet. The correlator (`vigil.incidents.correlator`) owns the
live state; everything downstream (audit trail, alerts, `vigil run` output) receives
immutable snapshots of this module's types, so a snapshot handed to another thread never
changes under it.

Identical detections (same rule or detector, same process, same target) are one
`DetectionGroup` with a count, not repeated.
"""

from __future__ import annotations

from enum import Enum

import msgspec

from vigil.detections import Detection
from vigil.priority import Priority


class IncidentStatus(str, Enum):
    """An incident is open until it has been quiet long enough, or lived long enough."""

    OPEN = "open"
    CLOSED = "closed"


class ProcessRef(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """A process an incident is about: identified by pid *and* start time."""

    pid: int | None = None
    start_ts: int | None = None
    ppid: int | None = None
    name: str | None = None
    cmdline: str | None = None
    user: str | None = None


class Activity(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """A program started inside an incident's process tree (no detection needed): what an
    attacker did in the shell they got."""

    ts: int
    pid: int | None = None
    start_ts: int | None = None
    ppid: int | None = None
    parent_start_ts: int | None = None
    name: str | None = None
    cmdline: str | None = None
    user: str | None = None


class DetectionGroup(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """Identical detections of one incident, counted: same rule or detector (and
    sub-kind), same process, same target."""

    #: "falco", "sigma" or "detector"
    kind: str
    name: str
    rule_id: str | None = None
    #: the human title a detector supplies ("SSH brute force"), else the name
    title: str = ""
    priority: Priority = Priority.DEBUG
    count: int = 1
    first_ts: int = 0
    last_ts: int = 0
    pid: int | None = None
    process: str | None = None
    #: the file or remote address the detections are about
    target: str | None = None
    #: the latest detection's output line
    output: str = ""
    tags: tuple[str, ...] = ()
    source: str = "syscall"
    #: the rule or detector runs in shadow mode: shown, never alerted on
    shadow: bool = False

    @property
    def key(self) -> str:
        """The detection key of the group's detections (`detector:ssh_bruteforce`)."""
        return f"{self.kind}:{self.name}"


class Entities(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """Who and what an incident is about."""

    #: the top process of the incident's process tree (none for log-only incidents)
    root: ProcessRef | None = None
    processes: tuple[ProcessRef, ...] = ()
    users: tuple[str, ...] = ()
    #: login sessions, as "loginuid:sid" or "tty:sid"
    sessions: tuple[str, ...] = ()
    remote_ips: tuple[str, ...] = ()
    files: tuple[str, ...] = ()


class Incident(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """A snapshot of one incident at one moment of its life."""

    id: str
    host: str | None = None
    status: IncidentStatus = IncidentStatus.OPEN
    #: the highest priority of its detections
    priority: Priority = Priority.DEBUG
    title: str = ""
    #: event time of its first and latest detection, ns since the epoch
    first_ts: int = 0
    last_ts: int = 0
    #: every detection counted (identical ones included)
    detection_count: int = 0
    detections: tuple[DetectionGroup, ...] = ()
    #: distinct detections beyond the per-incident cap (counted in `detection_count`)
    detections_not_listed: int = 0
    entities: Entities = msgspec.field(default_factory=Entities)
    #: programs started in its process tree, oldest first (bounded)
    activity: tuple[Activity, ...] = ()
    #: programs started beyond the bound (counted, not listed)
    activity_not_listed: int = 0
    tactics: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    #: the key of the detection that opened it (`detector:ssh_bruteforce`): stable
    opened_by: str = ""
    #: what `detection_count` counts, in the plural: "detections", or a detector's own
    #: unit ("attempts" for a brute force, where every attempt is one detection)
    unit: str = "detections"
    #: True when every detection came from logs (no process tree of this host)
    log_only: bool = False
    #: True when every detection is from a rule or detector in shadow mode: the incident
    #: is recorded and shown, and no alert leaves for it
    shadow: bool = False
    #: "idle", "max_age", "shutdown", "end_of_input" or "evicted" once closed
    closed_reason: str | None = None
    #: when it closed, on the incidents' clock (ns since the epoch)
    closed_ts: int | None = None
    #: grows with every change, so two snapshots of one incident can be ordered
    version: int = 0

    @property
    def is_open(self) -> bool:
        """True until the incident is closed."""
        return self.status is IncidentStatus.OPEN

    def short_id(self) -> str:
        """The first 8 characters of the id: enough to name it in a terminal."""
        return self.id[:8]



class IncidentEventKind(str, Enum):
    """What happened to an incident."""

    #: a detection opened a new incident
    OPENED = "opened"
    #: a detection raised the incident's priority
    ESCALATED = "escalated"
    #: a detection joined without raising the priority
    JOINED = "joined"
    #: the incident closed (idle, too long, evicted, agent stopping)
    CLOSED = "closed"


class IncidentEvent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """One change of one incident, with the incident as it is after it."""

    kind: IncidentEventKind
    incident: Incident
    #: the detection that caused it (none for closing), without its evidence events
    detection: Detection | None = None
    #: the previous priority, for an escalation
    previous_priority: Priority | None = None
