"""Running compiled Sigma rules on events: `SigmaEngine.on_event(event) -> [Detection]`.

Rules are indexed by event source and type (a process_creation rule is only looked at for
exec events), then by a necessary-condition key (`prefilter.py`: the program a rule
requires). The candidates for one kind of event are computed once and cached, so the
per-event work is a few attribute reads, one dict lookup and the compiled predicates of
the rules that can still match, in load order.
"""

from __future__ import annotations

from typing import Any, Sequence

from vigil.detections import Detection, Entity
from vigil.events.fields import DEFAULT_FIELDS, FieldRegistry
from vigil.events.model import Event
from vigil.rules.sigma.logsource import SYSCALL
from vigil.rules.sigma.prefilter import KeyKind, best_key
from vigil.rules.sigma.ruleset import CompiledSigmaRule

#: output fields per mapping table: (label, registry field)
OUTPUT_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "process_creation": (("exe", "proc.exepath"), ("cmdline", "proc.cmdline"),
                         ("user", "user.name"), ("parent", "proc.pcmdline")),
    "file_event": (("file", "fd.name"), ("exe", "proc.exepath"), ("user", "user.name")),
    "network_connection": (("dest", "fd.sip"), ("port", "fd.sport"), ("exe", "proc.exepath"),
                           ("user", "user.name")),
    "auditd": (("evt", "evt.type"), ("exe", "proc.exepath"), ("cmdline", "proc.cmdline"),
               ("path", "audit.path"), ("user", "user.name")),
    "log": (("text", "evt.text"),),
}
_MAX_CACHE = 4096


class _Bucket:
    """The rules of one (source, event type): unkeyed ones and one dict per key kind."""

    __slots__ = ("always", "keyed")

    def __init__(self) -> None:
        self.always: list[int] = []
        self.keyed: dict[str, tuple[KeyKind, dict[str, list[int]]]] = {}


class SigmaEngine:
    """Evaluates compiled Sigma rules on events and returns their detections."""

    def __init__(self, rules: Sequence[CompiledSigmaRule],
                 registry: FieldRegistry = DEFAULT_FIELDS) -> None:
        self.rules: tuple[CompiledSigmaRule, ...] = tuple(rules)
        self._keys = [best_key(r.condition) for r in self.rules]
        self._outputs = {table: tuple((label, registry.extractor(f)) for label, f in fields)
                         for table, fields in OUTPUT_FIELDS.items()}
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._cache: dict[tuple[Any, ...], tuple[CompiledSigmaRule, ...]] = {}
        #: predicate errors (a rule raised on an event); the event still goes on
        self.errors = 0
        self.last_error: str | None = None

    def on_event(self, event: Event) -> list[Detection]:
        """The detections of every rule that matches `event` (in rule load order)."""
        out: list[Detection] = []
        for rule in self.candidates(event):
            try:
                hit = rule.predicate(event)
            except Exception as exc:  # one broken rule/event pair must not stop the others
                self.errors += 1
                self.last_error = f"{rule.rule_id}: {type(exc).__name__}: {exc}"
                continue
            if hit:
                out.append(self.detection(rule, event))
        return out

    def candidates(self, event: Event) -> tuple[CompiledSigmaRule, ...]:
        """The rules that can match events like this one (source, type, program)."""
        p = event.proc
        ck = (event.source, event.type, p.name, p.exepath, p.exe)
        hit = self._cache.get(ck)
        if hit is None:
            hit = self._compute(event)
            if len(self._cache) >= _MAX_CACHE:
                self._cache.clear()
            self._cache[ck] = hit
        return hit

    def _compute(self, event: Event) -> tuple[CompiledSigmaRule, ...]:
        bucket = self._bucket(event.source, event.type)
        idx = set(bucket.always)
        for kind, table in bucket.keyed.values():
            idx.update(table.get(kind.event_key(event), ()))
        return tuple(self.rules[i] for i in sorted(idx))

    def _bucket(self, source: str, etype: str) -> _Bucket:
        key = (source, etype)
        b = self._buckets.get(key)
        if b is None:
            b = _Bucket()
            for i, rule in enumerate(self.rules):
                if not rule.route.applies(source, etype):
                    continue
                if source == SYSCALL and rule.event_types is not None \
                        and etype not in rule.event_types:
                    continue
                k = self._keys[i]
                if k is None:
                    b.always.append(i)
                else:
                    kind, values = k
                    table = b.keyed.setdefault(kind.name, (kind, {}))[1]
                    for v in values:
                        table.setdefault(v, []).append(i)
            self._buckets[key] = b
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
