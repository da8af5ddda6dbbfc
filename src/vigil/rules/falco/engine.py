"""Evaluating compiled Falco rules on events.

Rules are bucketed by (source, event type) once, in definition order, so an event is only
tested against the rules that can match its type. As in Falco, by default the first
matching rule wins (`rule_matching = "first"`); `"all"` reports every match.
"""

from __future__ import annotations

import socket
from typing import Any, Iterable

from vigil.detections import Detection, Entity
from vigil.events.model import Event
from vigil.events.fields import DEFAULT_FIELDS, FieldRegistry
from vigil.rules.compiler import CompileError, compile_bucket
from vigil.rules.falco.loader import CompiledRule, RuleSet
from vigil.rules.falco.output import falco_json


class FalcoEngine:
    """Runs a `RuleSet` over events and turns matches into `Detection`s."""

    def __init__(self, ruleset: RuleSet, *, rule_matching: str = "first",
                 hostname: str | None = None,
                 registry: FieldRegistry = DEFAULT_FIELDS) -> None:
        if rule_matching not in ("first", "all"):
            raise ValueError("rule_matching must be 'first' or 'all'")
        self.ruleset = ruleset
        self.registry = registry
        self.rules = ruleset.enabled_rules
        self.first_only = rule_matching == "first"
        self.hostname = hostname or socket.gethostname()
        self._by_type: dict[tuple[str, str], tuple[CompiledRule, ...]] = {}
        #: (source, type) -> (combined predicate of the bucket's rules, the rules)
        self._fast: dict[tuple[str, str], tuple[Any, tuple[CompiledRule, ...]]] = {}
        self._typed: dict[tuple[str, str], list[CompiledRule]] = {}
        self._untyped: dict[str, list[CompiledRule]] = {}
        for r in self.rules:
            ts = r.compiled.types
            if ts.negated:
                self._untyped.setdefault(r.source, []).append(r)
            else:
                for t in ts.types:
                    self._typed.setdefault((r.source, t), []).append(r)
        self.matches: dict[str, int] = {}
        #: predicate errors (a rule raised on a malformed event); the event still goes on
        self.errors = 0
        self.last_error: str | None = None

    @property
    def event_types(self) -> set[str] | None:
        """Event types any enabled rule can match (None: some rule matches any type).

        The sensor uses this to filter in the kernel.
        """
        if self._untyped.get("syscall"):
            return None
        return {t for (src, t) in self._typed if src == "syscall"}

    def rules_for(self, source: str, evtype: str) -> tuple[CompiledRule, ...]:
        """The rules to test for one (source, type), in definition order."""
        key = (source, evtype)
        rules = self._by_type.get(key)
        if rules is None:
            cands = list(self._typed.get(key, ()))
            for r in self._untyped.get(source, ()):
                ts = r.compiled.types
                if evtype not in ts.types:
                    cands.append(r)
            cands.sort(key=lambda r: r.index)
            rules = tuple(cands)
            self._by_type[key] = rules
        return rules

    def _bucket(self, key: tuple[str, str]) -> tuple[Any, tuple[CompiledRule, ...]]:
        rules = self.rules_for(*key)
        fn = None
        if rules:
            try:
                fn = compile_bucket([r.condition for r in rules], self.registry,
                                    evtype=key[1], first_only=self.first_only,
                                    name=f"{key[0]}:{key[1]}", names=self.ruleset.names)
            except CompileError:
                fn = None  # rule by rule then (each rule compiled on its own at load)
        entry = (fn, rules)
        self._fast[key] = entry
        return entry

    def prepare(self, event_types: Iterable[str], source: str = "syscall") -> int:
        """Compile the buckets of these event types now; returns how many were new.

        Buckets are otherwise compiled on the first event of their type; the live agent
        prepares them at start (and before swapping in reloaded rules), so that work does
        not land on the engine thread while the host is busy.
        """
        n = 0
        for t in sorted(event_types):
            if (source, t) not in self._fast:
                self._bucket((source, t))
                n += 1
        return n

    def match(self, event: Event) -> list[CompiledRule]:
        """The rules that match `event` (at most one with first-match semantics)."""
        key = (event.source, event.type)
        entry = self._fast.get(key)
        if entry is None:
            entry = self._bucket(key)
        fn, rules = entry
        if not rules:
            return []
        if fn is not None:
            try:
                hit = fn(event)
            except Exception:
                return self._match_slow(event, rules)
            if self.first_only:
                return [] if hit < 0 else [rules[hit]]
            return [rules[i] for i in hit]
        return self._match_slow(event, rules)

    def _match_slow(self, event: Event, rules: tuple[CompiledRule, ...]) -> list[CompiledRule]:
        """Rule by rule, each in its own try: a rule that raises on a malformed event is
        counted and skipped, the others still run."""
        out = []
        for r in rules:
            try:
                hit = r.compiled.predicate(event)
            except Exception as exc:  # a malformed event must not stop the agent
                self.errors += 1
                self.last_error = f"{r.name}: {type(exc).__name__}: {exc}"
                continue
            if hit:
                out.append(r)
                if self.first_only:
                    break
        return out

    def on_event(self, event: Event) -> list[Detection]:
        """Evaluate one event; a `Detection` per matching rule."""
        matched = self.match(event)
        if not matched:
            return []
        return [self.detection(r, event) for r in matched]

    def detection(self, rule: CompiledRule, event: Event) -> Detection:
        """Build the detection for a rule that matched an event."""
        self.matches[rule.name] = self.matches.get(rule.name, 0) + 1
        p = event.proc
        fd = event.fd
        ip = None
        if fd is not None and fd.type in ("ipv4", "ipv6"):
            ip = fd.rip
        if ip is None and event.source == "auth":
            ip = event.args.get("src_ip")
        text, values = rule.output.render_with_values(event)
        return Detection(
            kind="falco", name=rule.name, priority=rule.priority,
            output=text, ts=event.ts, tags=list(rule.tags),
            entity=Entity(ip=ip, user=p.user or event.args.get("user"), process=p.name,
                          pid=p.pid, path=fd.name if fd is not None and fd.type in
                          ("file", "directory") else None),
            output_fields=values, evidence=[event], data={"rule_file": rule.file},
            source=rule.source, hostname=event.hostname or self.hostname)


def detection_to_falco_json(det: Detection) -> dict[str, Any]:
    """A detection in Falco's alert JSON format (for `--json` and Falcosidekick)."""
    return falco_json(ts=det.ts, rule=det.name, priority=det.priority, source=det.source,
                      tags=det.tags, output=det.output, output_fields=det.output_fields,
                      hostname=det.hostname)
