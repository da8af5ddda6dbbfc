"""The common frame of Vigil's built-in detectors: their parameters and constructor.

`DetectorParams` is the base of every `Params` dataclass: it carries `enabled` and reads
a `[detectors.<DETECTOR>]` table strictly (`from_dict` raises `ConfigError` naming the
key). `BuiltinDetector` stores the parameters and the agent's identity (our own process
is never suspicious), so a detector only declares what is its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, TypeVar

from vigil.detectors.params import read_params
from vigil.detectors.process_identity import AgentIdentity

P = TypeVar("P", bound="DetectorParams")


@dataclass(frozen=True)
class DetectorParams:
    """Parameters every detector has; subclasses add their own (all with defaults)."""

    #: the detector name whose table these parameters come from
    DETECTOR: ClassVar[str] = ""

    enabled: bool = True

    @classmethod
    def from_dict(cls: type[P], data: Mapping[str, Any] | None) -> P:
        """Read and validate `[detectors.<name>]`; raises `ConfigError`."""
        return read_params(cls, data, cls.DETECTOR)


class BuiltinDetector:
    """Base of the built-in detectors: `cls(params=None, own=None)`.

    Subclasses set `name`, `Params` (their `DetectorParams` subclass) and `event_types`,
    and implement `on_event`.
    """

    name: ClassVar[str]
    Params: ClassVar[type[DetectorParams]]
    event_types: ClassVar[frozenset[str]]

    def __init__(self, params: DetectorParams | None = None,
                 own: AgentIdentity | None = None) -> None:
        self.params: Any = params or self.Params()
        self.own = own or AgentIdentity()
