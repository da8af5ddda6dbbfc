"""Running compiled Sigma rules on events: `SigmaEngine.on_event(event) -> [Detection]`.

Rules are indexed by event source and type (a process_creation rule is only looked at for
exec events), then by necessary-condition keys (`prefilter.py`: the program, path or
directory a rule requires). Per event the work is one dict lookup for the bucket, a few
key lookups, and the compiled predicates of the rules that can still match, in load order.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from vigil.detections import Detection, Entity
from vigil.events.fields import DEFAULT_FIELDS, FieldRegistry
from vigil.events.model import Event
from vigil.rules.sigma.logsource import SYSCALL
from vigil.rules.sigma.prefilter import (FILE_KINDS, KINDS_BY_NAME, PROCESS_KINDS, Probe,
                                         combined_probe, file_identity, necessary_keys,
                                         process_identity, specialize_event_type)
from vigil.rules.sigma.ruleset import CompiledSigmaRule

#: output fields per mapping table: (label, registry field)
OUTPUT_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "process_creation": (("exe", "proc.exepath"), ("cmdline", "proc.exeline"),
                         ("user", "user.name"), ("parent", "proc.pexeline")),
    "file_event": (("file", "fd.name"), ("exe", "proc.exepath"), ("user", "user.name")),
    "network_connection": (("dest", "fd.sip"), ("port", "fd.sport"), ("exe", "proc.exepath"),
                           ("user", "user.name")),
    "auditd": (("evt", "evt.type"), ("exe", "proc.exepath"), ("cmdline", "proc.exeline"),
               ("path", "audit.path"), ("user", "user.name")),
    "log": (("text", "evt.text"),),
}


_MERGED_MAX = 4096


class _Bucket:
    """The rules of one (source, event type): unkeyed ones and one table per key kind."""

    __slots__ = ("always", "always_rules", "all_rules", "probes", "merged")

    def __init__(self) -> None:
        self.always: tuple[int, ...] = ()
        self.always_rules: tuple[CompiledSigmaRule, ...] = ()
        #: every rule of the bucket, keyed or not (used when an event breaks the index)
        self.all_rules: tuple[CompiledSigmaRule, ...] = ()
        self.probes: list[Probe] = []
        #: the candidate tuple for each combination of hits seen (bounded)
        self.merged: dict[tuple[int, ...], tuple[CompiledSigmaRule, ...]] = {}


class SigmaEngine:
    """Evaluates compiled Sigma rules on events and returns their detections."""

    def __init__(self, rules: Sequence[CompiledSigmaRule],
                 registry: FieldRegistry = DEFAULT_FIELDS) -> None:
        self.rules: tuple[CompiledSigmaRule, ...] = tuple(rules)
        self._outputs = {table: tuple((label, registry.extractor(f)) for label, f in fields)
                         for table, fields in OUTPUT_FIELDS.items()}
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        #: errors raised by a predicate or an index probe on a malformed event; the event
        #: still goes through every rule that can take it
        self.errors = 0
        self.last_error: str | None = None

    @property
    def event_types(self) -> set[str] | None:
        """Syscall event types the rules can match (None: some rule takes any type): what
        the kernel sensor must deliver for them."""
        out: set[str] = set()
        for r in self.rules:
            if SYSCALL not in r.route.sources:
                continue
            if r.event_types is None:
                return None
            out |= r.event_types
        return out

    def on_event(self, event: Event) -> list[Detection]:
        """The detections of every rule that matches `event` (in rule load order)."""
        out: list[Detection] = []
        try:
            candidates = self.candidates(event)
        except Exception as exc:  # a malformed event: skip the index, try the whole bucket
            self._record_error("index", exc)
            b = self._buckets.get((event.source, event.type))
            candidates = b.all_rules if b is not None else ()
        for rule in candidates:
            try:
                hit = rule.predicate(event)
            except Exception as exc:  # one broken rule/event pair must not stop the others
                self._record_error(rule.rule_id, exc)
                continue
            if hit:
                out.append(self.detection(rule, event))
        return out

    def _record_error(self, where: str, exc: Exception) -> None:
        self.errors += 1
        self.last_error = f"{where}: {type(exc).__name__}: {exc}"

    def prepare(self, event_types: Iterable[str], source: str = SYSCALL) -> int:
        """Build the buckets of these event types now (see `FalcoEngine.prepare`)."""
        n = 0
        for t in sorted(event_types):
            if (source, t) not in self._buckets:
                self._bucket(source, t)
                n += 1
        return n

    def candidates(self, event: Event) -> tuple[CompiledSigmaRule, ...]:
        """The rules that can match this event: its source and type, then its keys."""
        b = self._buckets.get((event.source, event.type))
        if b is None:
            b = self._bucket(event.source, event.type)
        if not b.probes:
            return b.always_rules
        hits: list[int] = []
        for probe in b.probes:
            for h in probe(event):
                hits.extend(h)
        if not hits:
            return b.always_rules
        key = tuple(hits)
        found = b.merged.get(key)
        if found is None:
            if len(b.merged) >= _MERGED_MAX:
                b.merged.clear()
            rules = self.rules
            found = b.merged[key] = tuple(rules[i] for i in sorted(set(hits).union(b.always)))
        return found

    def _bucket(self, source: str, etype: str) -> _Bucket:
        b = _Bucket()
        always: list[int] = []
        tables: dict[str, dict[str, list[int]]] = {}
        for i, rule in enumerate(self.rules):
            if not rule.route.applies(source, etype):
                continue
            if source == SYSCALL and rule.event_types is not None \
                    and etype not in rule.event_types:
                continue
            k = necessary_keys(specialize_event_type(rule.condition, etype))
            if k is None:
                always.append(i)
                continue
            for kind_name, v in k.keys:
                tables.setdefault(kind_name, {}).setdefault(v, []).append(i)
        b.always = tuple(always)
        b.all_rules = tuple(self.rules[i] for i in sorted(
            set(always).union(i for t in tables.values() for v in t.values() for i in v)))
        b.always_rules = tuple(self.rules[i] for i in always)
        probes = {name: KINDS_BY_NAME[name].prober({k: tuple(v) for k, v in t.items()})
                  for name, t in tables.items()}
        b.probes = [pr for name, pr in probes.items()
                    if name not in PROCESS_KINDS and name not in FILE_KINDS]
        for group, identity in ((PROCESS_KINDS, process_identity), (FILE_KINDS, file_identity)):
            members = [pr for name, pr in probes.items() if name in group]
            if members:
                b.probes.insert(0, combined_probe(members, identity))
        self._buckets[(source, etype)] = b
        return b

    def detection(self, rule: CompiledSigmaRule, event: Event) -> Detection:
        """The `Detection` for a match of `rule` on `event`."""
        fields: dict[str, Any] = {}
        for label, ex in self._outputs.get(rule.route.table, ()):
            v = ex(event)
            if v is not None:
                fields[label] = v
        text = " ".join(f"{k}={v}" for k, v in fields.items())
        p = event.proc
        fd = event.fd
        return Detection(
            kind="sigma", name=rule.title, rule_id=rule.rule_id, priority=rule.priority,
            tags=list(rule.tags), output=f"{rule.title} | {text}" if text else rule.title,
            ts=event.ts, source=event.source, hostname=event.hostname,
            entity=Entity(user=p.user, process=p.name, pid=p.pid,
                          path=fd.name if fd is not None and fd.type == "file" else None,
                          ip=(fd.rip if fd is not None else None)
                          or (event.args.get("src_ip") if event.source != SYSCALL else None)),
            output_fields=fields,
            data={"author": rule.author, "level": rule.level, "path": rule.path},
            evidence=[event])
