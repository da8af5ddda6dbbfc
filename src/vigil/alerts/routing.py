"""Which routes an incident goes to: minimum priority, then tag/detector/rule matchers."""

from __future__ import annotations

from collections.abc import Sequence

from vigil.alerts.config import RouteConfig
from vigil.detections import Detection

_RULE_KINDS = ("falco", "sigma")


def route_matches(route: RouteConfig, det: Detection) -> bool:
    """True when `det` is severe enough for `route` and passes each of its matcher lists.

    `detectors` matches built-in detectors by name (or their `rule_id` sub-kind);
    `rules` matches Falco/Sigma rules by name or Sigma id.
    """
    if not det.priority.at_least(route.min_priority):
        return False
    if route.tags and not any(t in route.tags for t in det.tags):
        return False
    if route.detectors and not (det.kind == "detector"
                                and (det.name in route.detectors or det.rule_id in route.detectors)):
        return False
    if route.rules and not (det.kind in _RULE_KINDS
                            and (det.name in route.rules or det.rule_id in route.rules)):
        return False
    return True


class Router:
    """Matches incidents against the configured routes, in configuration order."""

    def __init__(self, routes: Sequence[RouteConfig]) -> None:
        self._routes = tuple(routes)

    def routes_for(self, det: Detection) -> list[RouteConfig]:
        """Every route `det` matches (possibly none: it stays in the audit trail only)."""
        return [r for r in self._routes if route_matches(r, det)]
