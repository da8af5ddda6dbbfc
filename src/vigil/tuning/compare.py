"""What a change of rules or configuration does to the incidents of one recording: the
check to run before a rules upgrade (`vigil replay REC --compare-config B` or
`--compare-rules PATH`).

Both sides run over the same events. Incidents are paired by what they are about — a
process (pid and start time) they share, else, for incidents from logs, a remote IP or
user they share — so a story that gained or lost a detection is "changed", not "gone and
new".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vigil.incidents.model import Incident


@dataclass
class Comparison:
    """The incidents that appear, vanish or change between side A and side B."""

    appear: list[Incident] = field(default_factory=list)
    vanish: list[Incident] = field(default_factory=list)
    #: (A, B) pairs whose priority, title or detections differ
    changed: list[tuple[Incident, Incident]] = field(default_factory=list)
    same: int = 0

    @property
    def differs(self) -> bool:
        """True when anything changed."""
        return bool(self.appear or self.vanish or self.changed)


def _keys(inc: Incident) -> set[tuple]:
    keys: set[tuple] = {("p", p.pid, p.start_ts) for p in inc.entities.processes}
    if not keys:
        keys |= {("ip", ip) for ip in inc.entities.remote_ips}
        keys |= {("u", u) for u in inc.entities.users}
        keys.add(("opened", inc.opened_by, inc.first_ts))
    return keys


def _rules(inc: Incident) -> frozenset[tuple[str, str]]:
    return frozenset((g.kind, g.rule_id if g.kind == "sigma" and g.rule_id else g.name)
                     for g in inc.detections)


def compare_incidents(a: list[Incident], b: list[Incident]) -> Comparison:
    """Pair the incidents of two runs and say what differs."""
    out = Comparison()
    index: dict[tuple, list[int]] = {}
    for i, inc in enumerate(b):
        for k in _keys(inc):
            index.setdefault(k, []).append(i)
    used: set[int] = set()
    for inc in a:
        match = None
        for k in _keys(inc):
            for j in index.get(k, ()):
                if j not in used:
                    match = j
                    break
            if match is not None:
                break
        if match is None:
            out.vanish.append(inc)
            continue
        used.add(match)
        other = b[match]
        if (other.priority != inc.priority or other.title != inc.title
                or _rules(other) != _rules(inc)):
            out.changed.append((inc, other))
        else:
            out.same += 1
    out.appear = [inc for j, inc in enumerate(b) if j not in used]
    return out


def describe(c: Comparison) -> list[str]:
    """Lines for a person: each incident that appears, vanishes or changes, with rules."""
    def rules(inc: Incident) -> str:
        return ", ".join(sorted(g.title or g.name for g in inc.detections))

    lines = [f"--- comparison: {len(c.appear)} incident(s) appear, {len(c.vanish)} vanish, "
             f"{len(c.changed)} change, {c.same} the same"]
    for inc in c.appear:
        lines.append(f"+ {inc.priority.label:<8} {inc.title}  [{rules(inc)}]")
    for inc in c.vanish:
        lines.append(f"- {inc.priority.label:<8} {inc.title}  [{rules(inc)}]")
    for old, new in c.changed:
        what = []
        if old.priority != new.priority:
            what.append(f"priority {old.priority.label} → {new.priority.label}")
        if old.title != new.title:
            what.append(f"title {old.title!r} → {new.title!r}")
        added = _rules(new) - _rules(old)
        removed = _rules(old) - _rules(new)
        if added:
            what.append("adds " + ", ".join(sorted(n for _, n in added)))
        if removed:
            what.append("loses " + ", ".join(sorted(n for _, n in removed)))
        lines.append(f"~ {old.title}: " + "; ".join(what))
    return lines
