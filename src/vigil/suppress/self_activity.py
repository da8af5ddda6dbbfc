"""The static "ourselves" layer: Vigil's own activity is never an attack.

Universal truths, in code, applied to every detection (Falco rules, Sigma rules and
detectors alike) before the dynamic allowlist:

- a detection whose evidence is all Vigil's own process (or the helpers it starts) — the
  agent reads PAM config and auth logs, opens its state, talks to alert channels;
- root managing Vigil's own service (`systemctl stop|start|restart vigil`): deploys do
  that. Anyone else trying it is still reported (the `service_tamper` detector).

Such detections are kept, with `Suppression(layer="static", ...)`, for the audit trail.
"""

from __future__ import annotations

import msgspec

from vigil.detections import Detection, Suppression
from vigil.detectors.process_identity import AgentIdentity
from vigil.events.model import Event

_SERVICE_TOOLS = frozenset({"systemctl", "service", "rc-service", "invoke-rc.d"})
_SERVICE_VERBS = frozenset({"start", "stop", "restart", "reload", "try-restart",
                            "reload-or-restart", "status", "is-active", "enable"})


class SelfActivityFilter:
    """Marks detections about Vigil's own activity as suppressed (layer `static`)."""

    def __init__(self, identity: AgentIdentity,
                 service_names: tuple[str, ...] = ("vigil", "vigil.service")) -> None:
        self.identity = identity
        self.services = frozenset(service_names)

    def _why(self, ev: Event) -> tuple[str, str] | None:
        p = ev.proc
        if p.pid is not None and self.identity.owns(p):
            return (f"self.process=pid {self.identity.pid}",
                    "Vigil's own process (or a helper it started)")
        if p.name in _SERVICE_TOOLS and p.uid == 0 and ev.type in ("execve", "execveat"):
            args = p.args
            if (any(a in _SERVICE_VERBS for a in args)
                    and any(a in self.services for a in args)):
                return ("self.service=" + next(a for a in args if a in self.services),
                        "root managing Vigil's own service (a deploy)")
        return None

    def process(self, det: Detection) -> Detection:
        """`det`, or a copy marked suppressed when all its evidence is our own activity."""
        if det.suppressed is not None or not det.evidence:
            return det
        reasons = [self._why(ev) for ev in det.evidence]
        if any(r is None for r in reasons):
            return det
        entry, reason = reasons[0]  # type: ignore[misc]
        return msgspec.structs.replace(
            det, suppressed=Suppression(layer="static", entry=entry, reason=reason))
