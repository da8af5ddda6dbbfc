"""The correlation stage: unsuppressed detections in, incidents out.

A detection joins an open incident when it shares the story (checked in this order):

1. its process, or an ancestor of it (pid *and* start time), is already in the incident,
   so everything a reverse shell or a webshell spawns is the same incident; or, within
   `target_window_secs`, its process is the parent of one that is (a wrapper `bash -c`
   reported just after its child: a parent's later, unrelated deeds stay apart);
2. the same login session (login uid + session id, or terminal + session id);
3. the same non-loopback remote IP (a brute force, then a login from that IP, then what
   that session does: a log line's sshd pid anchors the session's processes);
4. the same target file within `target_window_secs`.

Otherwise it opens a new incident, at once: opening never waits for a window. Incidents
close after `idle_close_secs` without a detection or `max_duration_secs` after opening.

Time is the caller's `now` (the agent's clock live, the events' clock in a replay), kept
monotonic here: a clock that goes backwards closes nothing and merges nothing. State is
bounded: at most `max_open` incidents (the least recently active one is closed as
"evicted" and counted), and per incident at most `max_groups` distinct detections,
`max_processes` tracked processes and `max_entities` values per entity list.

The stage runs on the engine thread only and takes no locks; what it hands out are
immutable `Incident` snapshots.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import NamedTuple

import msgspec

from vigil.detections import Detection, Entity
from vigil.events.model import Event, Process
from vigil.incidents.model import (Activity, DetectionGroup, Entities, Incident,
                                   IncidentEventKind, IncidentStatus, ProcessRef)
from vigil.incidents.story import (MAX_LINEAGE, StoryFacts, is_service_root, lineage,
                                   story_facts)
from vigil.priority import Priority


@dataclass(frozen=True)
class IncidentSettings:
    """`[incidents]` in vigil.toml (docs/config.md)."""

    #: an incident with no new detection for this long closes
    idle_close_secs: float = 300.0
    #: an incident closes this long after it opened, however active (a new one follows)
    max_duration_secs: float = 3600.0
    #: open incidents kept at most; past it the least recently active one is closed
    max_open: int = 10_000
    #: detections about the same file join within this many seconds
    target_window_secs: float = 10.0
    #: distinct detections listed per incident (more are counted, not listed)
    max_groups: int = 100
    #: processes tracked per incident for lineage
    max_processes: int = 256
    #: values kept per entity list (users, IPs, files, sessions)
    max_entities: int = 50
    #: programs started in an incident's process tree that are listed in it
    max_activity: int = 100


@dataclass
class CorrelatorStats:
    """Counters of the correlation stage."""

    detections: int = 0
    opened: int = 0
    joined: int = 0
    escalated: int = 0
    closed: int = 0
    #: incidents closed early because `max_open` was reached
    evicted: int = 0
    #: suppressed detections that belong to an open incident's story
    attached_suppressed: int = 0
    #: detections that could not be read (kept as their own incident)
    malformed: int = 0
    #: programs started inside an open incident's process tree
    activity: int = 0
    #: times the clock went backwards (ignored)
    clock_backwards: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


class Correlation(NamedTuple):
    """Where one detection went."""

    incident_id: str
    kind: IncidentEventKind
    previous_priority: Priority | None = None


_TECHNIQUE = re.compile(r"^(?:attack\.)?(t\d{4}(?:\.\d{3})?)$", re.IGNORECASE)
_TACTIC_PREFIXES = ("attack.", "mitre_")
_tag_cache: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}


def attack_of(tags: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """ATT&CK (tactics, techniques) named by tags in Falco's (`mitre_persistence`,
    `T1098`) or Sigma's (`attack.persistence`, `attack.t1098`) style."""
    hit = _tag_cache.get(tags)
    if hit is not None:
        return hit
    tactics: list[str] = []
    techniques: list[str] = []
    for t in tags:
        m = _TECHNIQUE.match(t)
        if m:
            tech = m.group(1).upper()
            if tech not in techniques:
                techniques.append(tech)
            continue
        low = t.lower()
        for prefix in _TACTIC_PREFIXES:
            if low.startswith(prefix):
                tactic = low[len(prefix):].replace("-", "_")
                if tactic and not tactic[0].isdigit() and tactic not in tactics:
                    tactics.append(tactic)
                break
    out = (tuple(tactics), tuple(techniques))
    if len(_tag_cache) < 4096:
        _tag_cache[tags] = out
    return out


def title_of(det: Detection) -> str:
    """The name a person reads: a detector's `data["title"]` ("SSH brute force"), else the
    rule or detector name."""
    t = det.data.get("title") if det.data else None
    return t if isinstance(t, str) and t else det.name


class _Group:
    __slots__ = ("kind", "name", "rule_id", "title", "priority", "count", "first_ts",
                 "last_ts", "pid", "process", "target", "output", "tags", "source", "snap",
                 "shadow")

    def frozen(self) -> DetectionGroup:
        # cached until the group changes: a snapshot re-freezes only what changed
        snap = self.snap
        if snap is None:
            snap = self.snap = DetectionGroup(
                kind=self.kind, name=self.name, rule_id=self.rule_id, title=self.title,
                priority=self.priority, count=self.count, first_ts=self.first_ts,
                last_ts=self.last_ts, pid=self.pid, process=self.process, target=self.target,
                output=self.output, tags=self.tags, source=self.source, shadow=self.shadow)
        return snap


class _Open:
    """The live, mutable state of one open incident (engine thread only)."""

    __slots__ = ("id", "host", "first_ts", "last_ts", "opened_at", "last_seen", "priority",
                 "title", "count", "groups", "not_listed", "members", "member_order",
                 "users", "sessions", "ips", "files", "tactics", "techniques", "version",
                 "snap", "opened_by", "unit", "log_only", "keys", "closed_reason", "closed_at",
                 "activity", "activity_not_listed", "ents_snap", "groups_snap", "live")

    def __init__(self, inc_id: str, host: str | None, det: Detection, now: float) -> None:
        self.id = inc_id
        self.host = host
        self.first_ts = det.ts
        self.last_ts = det.ts
        self.opened_at = now
        self.last_seen = now
        self.priority = det.priority
        self.title = title_of(det)
        self.count = 0
        self.groups: dict[tuple, _Group] = {}
        self.not_listed = 0
        #: (host, pid, start) -> (ProcessRef, its parent's key)
        self.members: dict[tuple, tuple[ProcessRef, tuple | None]] = {}
        self.member_order: list[tuple] = []
        self.users: dict[str, None] = {}
        self.sessions: dict[str, None] = {}
        self.ips: dict[str, None] = {}
        self.files: dict[str, None] = {}
        self.tactics: dict[str, None] = {}
        self.techniques: dict[str, None] = {}
        self.version = 0
        self.snap: Incident | None = None
        self.opened_by = det.key
        unit = det.data.get("unit") if det.data else None
        self.unit = unit if isinstance(unit, str) and unit else "detections"
        self.log_only = True
        #: (index, key) pairs this incident registered, removed when it closes
        self.keys: list[tuple[dict, tuple]] = []
        self.closed_reason: str | None = None
        self.closed_at: float | None = None
        self.activity: list[Activity] = []
        self.activity_not_listed = 0
        #: cached parts of the snapshot, rebuilt only when they change
        self.ents_snap: Entities | None = None
        self.groups_snap: tuple[DetectionGroup, ...] | None = None
        #: detections not in shadow mode (an incident of shadow ones only is shadow)
        self.live = 0


def _incident_id(host: str | None, det: Detection, salt: int) -> str:
    # deterministic, so a replay of a recording gives the ids the live agent gave
    seed = f"{host}|{det.ts}|{det.key}|{det.rule_id}|{det.entity.pid}|{det.entity.ip}|{salt}"
    return hashlib.blake2b(seed.encode("utf-8", "replace"), digest_size=8).hexdigest()


def _process_ref(p: Process) -> ProcessRef:
    return ProcessRef(pid=p.pid, start_ts=p.start_ts, ppid=p.ppid, name=p.name,
                      cmdline=p.cmdline(), user=p.user)


def _add_limited(d: dict[str, None], value: str | None, cap: int) -> bool:
    if value is None or value in d or len(d) >= cap:
        return False
    d[value] = None
    return True


class Correlator:
    """Groups detections into incidents; see the module docstring for the rules."""

    def __init__(self, settings: IncidentSettings | None = None) -> None:
        self.settings = settings or IncidentSettings()
        self.stats = CorrelatorStats()
        #: open incidents, least recently active first
        self._open: OrderedDict[str, _Open] = OrderedDict()
        #: when open incidents are next checked against `max_duration_secs`
        self._next_age_check = 0.0
        #: when `add` next closes idle incidents (at most once a second of its clock)
        self._next_expire = 0.0
        self._by_proc: dict[tuple, _Open] = {}
        self._by_pid: dict[tuple, _Open] = {}
        self._by_near: dict[tuple, _Open] = {}
        self._by_session: dict[tuple, _Open] = {}
        self._by_ip: dict[tuple, _Open] = {}
        self._by_target: dict[tuple, tuple[_Open, int]] = {}
        self._now = 0.0

    # --- queries ----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._open)

    def open_ids(self) -> list[str]:
        """Ids of the open incidents, least recently active first."""
        return list(self._open)

    def snapshot(self, incident_id: str) -> Incident | None:
        """The current state of an open incident (None once closed)."""
        inc = self._open.get(incident_id)
        return self._snapshot(inc) if inc is not None else None

    # --- the stage --------------------------------------------------------------------

    def add(self, det: Detection, now: float) -> tuple[Correlation, list[Incident]]:
        """Correlate one unsuppressed detection at `now` (seconds). Returns where it went
        and the incidents that closed first (expired, or evicted to make room)."""
        self.stats.detections += 1
        now = self._clock(now)
        closed = self.expire(now) if now >= self._next_expire else []
        if det.entity is None or det.tags is None or det.data is None or det.evidence is None:
            # a detector bug; the detection still gets its own incident
            self.stats.malformed += 1
            det = msgspec.structs.replace(det, entity=det.entity or Entity(),
                                          tags=det.tags or [], data=det.data or {},
                                          evidence=[])
        try:
            facts = story_facts(det)
        except Exception:  # odd evidence: the detection still gets its own incident
            self.stats.malformed += 1
            facts = StoryFacts(det.hostname, (), (), (), None, None, None)
        inc = self._find(facts, det.ts)
        if inc is None:
            closed.extend(self._make_room())
            inc = self._open_new(det, facts, now)
            kind, previous = IncidentEventKind.OPENED, None
        else:
            previous = inc.priority
            if det.priority < inc.priority:  # lower value is more severe
                inc.priority = det.priority
                inc.title = title_of(det)
                kind = IncidentEventKind.ESCALATED
                self.stats.escalated += 1
            else:
                kind, previous = IncidentEventKind.JOINED, None
                self.stats.joined += 1
            inc.last_seen = now
            self._open.move_to_end(inc.id)
        self._absorb(inc, det, facts)
        return Correlation(inc.id, kind, previous), closed

    def attach(self, det: Detection) -> str | None:
        """The open incident a suppressed detection's story belongs to (it changes
        nothing: a suppressed detection is shown beside the story, not counted in it)."""
        if not self._open:
            return None
        try:
            facts = story_facts(det)
        except Exception:
            return None
        inc = self._find(facts, det.ts)
        if inc is None:
            return None
        self.stats.attached_suppressed += 1
        return inc.id

    @property
    def tracks_processes(self) -> bool:
        """True when an open incident has processes whose descendants are followed."""
        return bool(self._by_proc or self._by_pid)

    def observe(self, event: Event) -> str | None:
        """A program started (a successful exec): when it runs inside an open incident's
        process tree, it becomes part of the story (listed as activity, and its own
        later detections join). Returns the incident id, or None."""
        p = event.proc
        host = event.hostname
        by_proc, by_pid = self._by_proc, self._by_pid
        inc = by_proc.get((host, p.pid, p.start_ts))
        if inc is None:
            anc, depth = p.parent, 0
            while anc is not None and depth < MAX_LINEAGE:
                inc = by_proc.get((host, anc.pid, anc.start_ts)) or by_pid.get((host, anc.pid))
                if inc is not None:
                    break
                anc = anc.parent
                depth += 1
            if inc is None:
                return None
        s = self.settings
        key = (host, p.pid, p.start_ts)
        if key not in inc.members and len(inc.members) < s.max_processes:
            self._add_member(inc, key, p, event.ts)
        if len(inc.activity) < s.max_activity:
            parent = p.parent
            inc.activity.append(Activity(
                ts=event.ts, pid=p.pid, start_ts=p.start_ts, ppid=p.ppid,
                parent_start_ts=parent.start_ts if parent is not None else None,
                name=p.name, cmdline=p.cmdline(), user=p.user))
        else:
            inc.activity_not_listed += 1
        inc.version += 1
        inc.snap = None
        self.stats.activity += 1
        return inc.id

    def expire(self, now: float) -> list[Incident]:
        """Close the incidents idle for `idle_close_secs` or open for `max_duration_secs`
        at `now`; returns their final snapshots."""
        now = self._clock(now)
        # checked again in a second at the earliest (a detection never waits for it)
        self._next_expire = now + 1.0
        out: list[Incident] = []
        idle = self.settings.idle_close_secs
        while self._open:
            inc = next(iter(self._open.values()))
            if now - inc.last_seen < idle:
                break
            out.append(self._close(inc, "idle"))
        if now >= self._next_age_check:
            # a full pass, but rarely: an incident outliving the maximum is the exception
            longest = self.settings.max_duration_secs
            self._next_age_check = now + min(10.0, longest / 10)
            for inc in [i for i in self._open.values() if now - i.opened_at >= longest]:
                out.append(self._close(inc, "max_age"))
        return out

    def close_all(self, reason: str = "shutdown") -> list[Incident]:
        """Close every open incident (the agent stops, a replay ends)."""
        return [self._close(inc, reason) for inc in list(self._open.values())]

    # --- internals --------------------------------------------------------------------

    def _clock(self, now: float) -> float:
        if now < self._now:
            self.stats.clock_backwards += 1
            return self._now
        self._now = now
        return now

    def _find(self, f: StoryFacts, ts: int) -> _Open | None:
        by_proc, by_pid = self._by_proc, self._by_pid
        host = f.host
        for k in f.subjects:
            inc = by_proc.get(k) or by_pid.get((host, k[1]))
            if inc is not None:
                return inc
        if f.subject_procs and (by_proc or by_pid):
            for k in lineage(host, f.subject_procs):
                inc = by_proc.get(k) or by_pid.get((host, k[1]))
                if inc is not None:
                    return inc
        window = self.settings.target_window_secs * 1e9
        for k in f.subjects:
            hit = self._by_near.get(k)
            if hit is not None and abs(ts - hit[1]) <= window:
                return hit[0]
        if f.session is not None:
            inc = self._by_session.get((host, f.session))
            if inc is not None:
                return inc
        if f.ip is not None:
            inc = self._by_ip.get((host, f.ip))
            if inc is not None:
                return inc
        if f.target is not None:
            hit = self._by_target.get((host, f.target))
            if hit is not None and abs(ts - hit[1]) <= self.settings.target_window_secs * 1e9:
                return hit[0]
        return None

    def _make_room(self) -> list[Incident]:
        out = []
        while len(self._open) >= self.settings.max_open:
            inc = next(iter(self._open.values()))
            self.stats.evicted += 1
            out.append(self._close(inc, "evicted"))
        return out

    def _open_new(self, det: Detection, f: StoryFacts, now: float) -> _Open:
        salt = 0
        inc_id = _incident_id(f.host, det, salt)
        while inc_id in self._open:
            salt += 1
            inc_id = _incident_id(f.host, det, salt)
        inc = _Open(inc_id, f.host, det, now)
        self._open[inc_id] = inc
        self.stats.opened += 1
        return inc

    @staticmethod
    def _register(inc: _Open, index: dict, key: tuple, value: object) -> None:
        # the first story to claim a key keeps it while it is open
        if key not in index:
            index[key] = value
            inc.keys.append((index, key))

    def _absorb(self, inc: _Open, det: Detection, f: StoryFacts) -> None:
        s = self.settings
        inc.count += 1
        inc.version += 1
        inc.snap = None
        if not det.shadow:
            inc.live += 1
        ts = det.ts
        if ts:
            if not inc.first_ts or ts < inc.first_ts:
                inc.first_ts = ts
            if ts > inc.last_ts:
                inc.last_ts = ts
        host = f.host
        subjects = f.subjects
        ent = det.entity
        subject_pid = subjects[0][1] if subjects else None
        target = ent.path or ent.ip
        gkey = (det.kind, det.name, det.rule_id, subject_pid, target, det.shadow)
        g = inc.groups.get(gkey)
        if g is not None:
            g.snap = None
            inc.groups_snap = None
            g.count += 1
            if ts > g.last_ts:
                g.last_ts = ts
            g.output = det.output
            if det.priority < g.priority:
                g.priority = det.priority
        elif len(inc.groups) < s.max_groups:
            g = _Group()
            g.snap = None
            inc.groups_snap = None
            g.kind, g.name, g.rule_id = det.kind, det.name, det.rule_id
            g.title = title_of(det)
            g.priority, g.count, g.first_ts, g.last_ts = det.priority, 1, ts, ts
            g.pid = subject_pid if subject_pid is not None else ent.pid
            g.process = f.subject_procs[0].name if f.subject_procs else ent.process
            g.target, g.output = target, det.output
            g.tags, g.source, g.shadow = tuple(det.tags), det.source, det.shadow
            inc.groups[gkey] = g
            tactics, techniques = attack_of(g.tags)
            for t in tactics:
                inc.tactics[t] = None
            for t in techniques:
                inc.techniques[t] = None
        else:
            inc.not_listed += 1
        # entities, and the keys later detections can join by
        cap = s.max_entities
        user = ent.user
        if user is not None and user not in inc.users and len(inc.users) < cap:
            inc.users[user] = None
            inc.ents_snap = None
        if subjects:
            inc.log_only = False
            members = inc.members
            for k, p in zip(subjects, f.subject_procs):
                if k not in members and len(members) < s.max_processes:
                    self._add_member(inc, k, p, ts)
        for a in f.pid_anchors:
            self._register(inc, self._by_pid, a, inc)
        if f.session is not None:
            if _add_limited(inc.sessions, f.session, cap):
                inc.ents_snap = None
            self._register(inc, self._by_session, (host, f.session), inc)
        if f.ip is not None:
            if _add_limited(inc.ips, f.ip, cap):
                inc.ents_snap = None
            self._register(inc, self._by_ip, (host, f.ip), inc)
        if f.target is not None:
            if _add_limited(inc.files, f.target, cap):
                inc.ents_snap = None
            tk = (host, f.target)
            hit = self._by_target.get(tk)
            if hit is None:
                self._by_target[tk] = (inc, ts)
                inc.keys.append((self._by_target, tk))
            elif hit[0] is inc:
                self._by_target[tk] = (inc, max(hit[1], ts))

    def _add_member(self, inc: _Open, k: tuple, p: Process, ts: int) -> None:
        """A process joins the story: later detections of it and its descendants join."""
        host = k[0]
        parent = p.parent
        inc.members[k] = (_process_ref(p),
                          (host, parent.pid, parent.start_ts) if parent else None)
        inc.member_order.append(k)
        inc.ents_snap = None
        if is_service_root(p):
            return  # never let init or a listener pull its other children in
        if k[2] is None:
            self._register(inc, self._by_pid, (host, k[1]), inc)
        else:
            self._register(inc, self._by_proc, k, inc)
        if parent is not None and parent.pid is not None and not is_service_root(parent):
            self._register(inc, self._by_near, (host, parent.pid, parent.start_ts), (inc, ts))

    def _close(self, inc: _Open, reason: str) -> Incident:
        del self._open[inc.id]
        inc.closed_reason = reason
        inc.closed_at = self._now
        inc.version += 1
        inc.snap = None
        targets, near = self._by_target, self._by_near
        for index, key in inc.keys:
            hit = index.get(key)
            if hit is inc or ((index is targets or index is near) and hit is not None
                              and hit[0] is inc):
                del index[key]
        inc.keys = []
        self.stats.closed += 1
        self.stats.by_reason[reason] = self.stats.by_reason.get(reason, 0) + 1
        return self._snapshot(inc)

    def _snapshot(self, inc: _Open) -> Incident:
        if inc.snap is not None:
            return inc.snap
        ents = inc.ents_snap
        if ents is None:
            members = inc.members
            root = None
            for k in inc.member_order:
                ref, parent_key = members[k]
                # the first member whose parent is not itself in the story
                if parent_key is None or parent_key not in members:
                    root = ref
                    break
            ents = inc.ents_snap = Entities(
                root=root, processes=tuple(members[k][0] for k in inc.member_order),
                users=tuple(inc.users), sessions=tuple(inc.sessions),
                remote_ips=tuple(inc.ips), files=tuple(inc.files))
        groups = inc.groups_snap
        if groups is None:
            groups = inc.groups_snap = tuple([g.frozen() for g in inc.groups.values()])
        snap = Incident(
            id=inc.id, host=inc.host,
            status=IncidentStatus.OPEN if inc.closed_reason is None else IncidentStatus.CLOSED,
            priority=inc.priority, title=inc.title, first_ts=inc.first_ts,
            last_ts=inc.last_ts, detection_count=inc.count, detections=groups,
            detections_not_listed=inc.not_listed, entities=ents,
            activity=tuple(inc.activity), activity_not_listed=inc.activity_not_listed,
            tactics=tuple(inc.tactics), techniques=tuple(inc.techniques),
            opened_by=inc.opened_by, unit=inc.unit, log_only=inc.log_only,
            shadow=inc.live == 0,
            closed_reason=inc.closed_reason, version=inc.version,
            closed_ts=int(inc.closed_at * 1e9) if inc.closed_at else None)
        inc.snap = snap
        return snap
