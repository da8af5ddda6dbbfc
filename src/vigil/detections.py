"""What the detection stages emit: `Detection` (something looks bad) and its fate.

A `Detection` comes from a Falco rule, a Sigma rule or a built-in detector. The suppression
stage turns it into either an `Incident` (it goes on to the alerts) or a suppressed record
with a `Suppression` saying which layer and which entry silenced it. Both are written to
the audit trail.
"""

from __future__ import annotations

from typing import Any

import msgspec

from vigil.events.model import Event
from vigil.priority import Priority


class Entity(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Who or what a detection is about: the key for batching and for allowlists."""

    ip: str | None = None
    user: str | None = None
    process: str | None = None
    pid: int | None = None
    path: str | None = None


class Suppression(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Why a detection did not become an incident."""

    #: "static" (in code), "dynamic" (vigil.toml), "baseline", "rule_exception", ...
    layer: str
    #: the entry that matched, e.g. "allowlist.detectors.data_exfil.skip_binaries=cc"
    entry: str
    reason: str = ""


class Detection(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A rule or detector said "this looks bad" about one or more events."""

    #: "falco", "sigma" or "detector"
    kind: str
    #: rule name (Falco), rule title (Sigma) or detector name
    name: str
    priority: Priority
    output: str
    ts: int = 0
    #: Sigma rule id, or detector sub-kind (e.g. "ssh_bruteforce.distributed")
    rule_id: str | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    entity: Entity = msgspec.field(default_factory=Entity)
    output_fields: dict[str, Any] = msgspec.field(default_factory=dict)
    evidence: list[Event] = msgspec.field(default_factory=list)
    #: free-form extra data from a detector (counts, windows, ...)
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    source: str = "syscall"
    hostname: str | None = None
    #: set by a detector whose static (in-code) allowlist matched, or by the suppression
    #: stage; a suppressed detection goes to the audit trail only
    suppressed: Suppression | None = None
    #: the rule or detector runs in shadow mode (why: `data["shadow"]`): audited and part
    #: of incidents, but it makes no alert leave
    shadow: bool = False

    @property
    def key(self) -> str:
        """The kind of detection for batching: `falco:<rule>`, `detector:<name>` ..."""
        return f"{self.kind}:{self.name}"
