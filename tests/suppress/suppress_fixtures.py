"""Detections as rules and detectors emit them, for the suppression tests."""

from __future__ import annotations

from typing import Any

from vigil.detections import Detection, Entity
from vigil.events.model import Event, FdInfo, Process
from vigil.priority import Priority


def proc(exepath: str, *, name: str | None = None, user: str = "alice", uid: int = 1000,
         parent: str | None = "/usr/bin/bash", args: list[str] | None = None) -> Process:
    """A process running `exepath`, with a parent."""
    return Process(pid=4242, name=name or exepath.rsplit("/", 1)[-1], exe=exepath,
                   exepath=exepath, args=args or [], user=user, uid=uid,
                   parent=Process(pid=1, exepath=parent, name=parent.rsplit("/", 1)[-1])
                   if parent else None)


def detection(kind: str = "detector", name: str = "data_exfil", *,
              priority: Priority = Priority.WARNING, process: Process | None = None,
              fd: FdInfo | None = None, entity: Entity | None = None,
              rule_id: str | None = None, data: dict[str, Any] | None = None,
              extra_events: list[Event] | None = None) -> Detection:
    """A detection whose first evidence event is run by `process`."""
    evidence = [Event(type="openat", proc=process or proc("/usr/bin/curl"), fd=fd)]
    return Detection(kind=kind, name=name, priority=priority, output=f"{name} fired",
                     rule_id=rule_id, entity=entity or Entity(),
                     evidence=evidence + (extra_events or []), data=data or {})


def connect(rip: str, rport: int, process: Process | None = None) -> Event:
    """An outbound connection event."""
    return Event(type="connect", proc=process or proc("/usr/bin/curl"),
                 fd=FdInfo(type="ipv4", rip=rip, rport=rport, role="client"))
