"""Orchestration across domains: filing or changing an incident re-decides its obligations."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlmodel import Session

from app.announcements import service as announcements
from app.clock import Clock
from app.incidents import service
from app.incidents.models import Incident
from app.obligations import service as obligations
from app.obligations.models import ObligationRecord
from app.playbooks.schema import Playbook
from app.subjects import service as subjects

DEFAULT_UNIT_COSTS = {"email": 0.002, "push": 0.0005, "sms": 0.01, "letter": 0.85}


def file_incident(
    session: Session, *, clock: Clock, actor: str, data: Any, playbooks: Mapping[str, Playbook],
    also: Callable[[Session, Incident], None] | None = None,
) -> Incident:
    """Create the incident (``service.create``, with ``also`` in its transaction), then materialise its
    obligations."""
    incident = service.create(session, clock=clock, actor=actor, data=data, also=also)
    reassess(session, clock=clock, actor=actor, incident_id=incident.id or 0, playbooks=playbooks)
    return incident


def reassess(session: Session, *, clock: Clock, actor: str, incident_id: int, playbooks: Mapping[str, Playbook],
             unit_costs: Mapping[str, float] | None = None) -> list[ObligationRecord]:
    """Re-decide obligations, then the substitute-notice question. Once subjects are linked, their resolved
    jurisdictions replace the file's estimate (``subjects.by_jurisdiction``), as the incident-file contract
    says, and the people imported count in the total (``subjects.affected``: the same class size as the
    substitute-notice decision). ``unit_costs``: USD per message by channel (default ``DEFAULT_UNIT_COSTS``)."""
    counts = subjects.jurisdiction_counts(session, incident_id=incident_id) or None
    imported = subjects.affected(session, incident_id=incident_id).imported or None
    records = obligations.refresh(session, clock=clock, actor=actor, incident_id=incident_id, playbooks=playbooks,
                                  jurisdiction_counts=counts, imported=imported)
    announcements.decide_for(session, clock=clock, actor=actor, incident_id=incident_id, playbooks=playbooks,
                             unit_costs=unit_costs or DEFAULT_UNIT_COSTS)
    return records


def change_incident(
    session: Session, *, clock: Clock, actor: str, incident_id: int, changes: Any, note: str | None,
    playbooks: Mapping[str, Playbook],
) -> Incident:
    """Apply ``service.update``; when facts changed (not only status or a note), re-decide obligations."""
    incident = service.update(session, clock=clock, actor=actor, incident_id=incident_id, changes=changes,
                              note=note)
    if isinstance(changes, Mapping) and set(changes) - {"status"}:
        reassess(session, clock=clock, actor=actor, incident_id=incident_id, playbooks=playbooks)
    return incident
