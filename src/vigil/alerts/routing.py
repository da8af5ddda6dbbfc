"""Which routes an incident goes to, and which batch group it belongs to on a route.

A route matches an incident when at least one of the incident's detections passes all of
the route's matchers (minimum priority, then tags, detectors, rules): the message then
carries the whole incident. Per-detection routes (a Falco JSON sink in detection mode)
match each detection on its own, as Falco would.
"""

from __future__ import annotations

from collections.abc import Sequence

from vigil.alerts.config import RouteConfig
from vigil.detections import Detection
from vigil.incidents.model import DetectionGroup, Incident
from vigil.priority import Priority

_RULE_KINDS = ("falco", "sigma")
#: ATT&CK brute force (T1110 and its sub-techniques)
_BRUTE_FORCE = "T1110"


def _passes(route: RouteConfig, priority: Priority, tags: Sequence[str], kind: str,
            name: str, rule_id: str | None) -> bool:
    if not priority.at_least(route.min_priority):
        return False
    if route.tags and not any(t in route.tags for t in tags):
        return False
    if route.detectors and not (kind == "detector"
                                and (name in route.detectors or rule_id in route.detectors)):
        return False
    if route.rules and not (kind in _RULE_KINDS
                            and (name in route.rules or rule_id in route.rules)):
        return False
    return True


def route_matches(route: RouteConfig, det: Detection) -> bool:
    """True when one detection passes the route's matchers (per-detection routes).

    `detectors` matches built-in detectors by name (or their `rule_id` sub-kind);
    `rules` matches Falco/Sigma rules by name or Sigma id.
    """
    if det.shadow:
        return False  # shadow mode: audited, never alerted
    return _passes(route, det.priority, det.tags, det.kind, det.name, det.rule_id)


def group_matches(route: RouteConfig, g: DetectionGroup) -> bool:
    """True when a group of identical detections passes the route's matchers (never for a
    rule or detector in shadow mode)."""
    if g.shadow:
        return False
    return _passes(route, g.priority, g.tags, g.kind, g.name, g.rule_id)


def incident_matches(route: RouteConfig, inc: Incident) -> bool:
    """True when at least one detection of the incident passes the route's matchers."""
    if inc.shadow or not inc.priority.at_least(route.min_priority):
        return False
    return any(group_matches(route, g) for g in inc.detections)


def is_log_brute_force(inc: Incident) -> bool:
    """A brute force seen in logs: a storm of these from many IPs is one story to read."""
    if not inc.log_only:
        return False
    for g in inc.detections:
        if any(t.upper().startswith(_BRUTE_FORCE) or t.lower().startswith("attack.t1110")
               for t in g.tags):
            return True
    return False


def group_key(route: RouteConfig, inc: Incident) -> str:
    """The batch group of an incident on a route (`group_by`, as in Alertmanager).

    `auto` (the default): incidents of one detector or rule are grouped only when they are
    log-based brute force (a storm from many IPs), or when they share their remote IP;
    every other incident is a group of its own, so two unrelated attacks seconds apart
    each get their own message. Incidents at or above `bypass_batching_min_priority` are
    always their own group.
    """
    own = f"incident:{inc.id}"
    bypass = route.bypass_batching_min_priority
    if bypass is not None and inc.priority.at_least(bypass):
        return own
    labels = route.group_by
    if labels == ("auto",):
        if is_log_brute_force(inc):
            labels = ("rule",)
        elif inc.entities.remote_ips:
            labels = ("rule", "remote_ip")
        else:
            return own
    parts = []
    for label in labels:
        if label == "incident":
            return own
        if label == "rule":
            parts.append(inc.opened_by)
        elif label == "remote_ip":
            parts.append(inc.entities.remote_ips[0] if inc.entities.remote_ips else "-")
        elif label == "user":
            parts.append(inc.entities.users[0] if inc.entities.users else "-")
        elif label == "host":
            parts.append(inc.host or "-")
        elif label == "priority":
            parts.append(inc.priority.label)
    return "group:" + "|".join(parts)


class Router:
    """Matches incidents against the configured routes, in configuration order."""

    def __init__(self, routes: Sequence[RouteConfig]) -> None:
        self._routes = tuple(routes)

    @property
    def routes(self) -> tuple[RouteConfig, ...]:
        """The routes, in configuration order."""
        return self._routes

    def routes_for(self, det: Detection) -> list[RouteConfig]:
        """Every route one detection matches (possibly none)."""
        return [r for r in self._routes if route_matches(r, det)]

    def routes_for_incident(self, inc: Incident) -> list[RouteConfig]:
        """Every route an incident matches (possibly none: it stays in the audit trail)."""
        return [r for r in self._routes if incident_matches(r, inc)]
