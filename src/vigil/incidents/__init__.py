"""Correlation of detections into incidents: one story per attack, one message per story.

`Correlator` (correlator.py) groups unsuppressed detections by process lineage, login
session, remote IP and target; `Incident` (model.py) is the immutable snapshot the audit
trail, the alerts and the terminal receive; render.py gives its JSON and text forms, and
view.py draws a recorded incident as a story (`vigil incidents show`).
"""

from vigil.incidents.correlator import Correlation, Correlator, IncidentSettings
from vigil.incidents.model import (DetectionGroup, Entities, Incident, IncidentEvent,
                                   IncidentEventKind, IncidentStatus, ProcessRef)

__all__ = ["Correlation", "Correlator", "DetectionGroup", "Entities", "Incident",
           "IncidentEvent", "IncidentEventKind", "IncidentSettings", "IncidentStatus",
           "ProcessRef"]
