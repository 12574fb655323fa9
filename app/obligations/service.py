"""Materialising the engine's decision as obligation records, and closing them (met or waived).

``refresh`` is the only writer of computed fields; a record a person closed (met, waived) keeps its status
when the decision is recomputed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from sqlmodel import Session, col, select

from app.audit import service as audit
from app.clock import Clock
from app.errors import Conflict, InvalidInput, NotFound
from app.incidents import service as incidents
from app.incidents.schema import IncidentFile
from app.obligations.models import OPEN, IncidentAssessment, ObligationRecord, ObligationStatus
from app.playbooks.engine import Assessment, assess
from app.playbooks.render import assessment_document
from app.playbooks.schema import Playbook

Key = tuple[str, str, str]
CLOSED = (ObligationStatus.met.value, ObligationStatus.waived.value)


def _rows(assessment: Assessment) -> Iterator[tuple[Key, dict[str, Any]]]:
    for ob in assessment.obligations:
        yield (ob.regime, ob.audience, ""), {
            "required": ob.required, "recipient": ob.recipient, "due_at": ob.due_at,
            "reasons": list(ob.reasons), "citations": list(ob.citations)}
        for part in ob.parts:
            yield (ob.regime, ob.audience, part.name), {
                "required": part.required, "recipient": part.recipient, "due_at": part.due_at,
                "reasons": list(part.reasons), "citations": list(part.citations)}


def computed_status(*, required: bool, due_at: dt.datetime | None, now: dt.datetime) -> str:
    """``not_required``, ``overdue`` (``due_at`` passed) or ``due``."""
    if not required:
        return ObligationStatus.not_required.value
    return ObligationStatus.overdue.value if due_at is not None and now > due_at else ObligationStatus.due.value


def _apply(record: ObligationRecord, values: Mapping[str, Any], now: dt.datetime) -> bool:
    changed = any(getattr(record, k) != v for k, v in values.items())
    for key, value in values.items():
        setattr(record, key, value)
    if record.status not in CLOSED:
        status = computed_status(required=record.required, due_at=record.due_at, now=now)
        changed = changed or status != record.status
        record.status = status
    record.computed_at = now
    return changed


def _save_assessment(session: Session, incident_id: int, assessment: Assessment, now: dt.datetime) -> None:
    row = session.exec(select(IncidentAssessment).where(IncidentAssessment.incident_id == incident_id)).first()
    row = row or IncidentAssessment(incident_id=incident_id, computed_at=now, document={})
    row.document, row.computed_at = assessment_document(assessment), now
    session.add(row)


def refresh(
    session: Session, *, clock: Clock, actor: str, incident_id: int, playbooks: Mapping[str, Playbook],
    jurisdiction_counts: Mapping[str, int] | None = None, imported: int | None = None,
) -> list[ObligationRecord]:
    """Recompute the decision for the incident and upsert its obligation records; commits.
    ``jurisdiction_counts`` and ``imported`` as in :func:`app.playbooks.engine.assess`.

    Records no longer produced become ``superseded`` (unless met or waived). Writes one audit event and,
    when anything changed, a timeline entry. Returns the incident's records.
    """
    incident = incidents.get(session, incident_id=incident_id)
    now = clock.now()
    assessment = assess(incident=IncidentFile.model_validate(incident.document), playbooks=playbooks, now=now,
                        jurisdiction_counts=jurisdiction_counts, imported=imported)
    existing = {(r.regime, r.audience, r.part): r for r in for_incident(session, incident_id=incident_id)}
    desired = dict(_rows(assessment))
    changed = 0
    for key, values in desired.items():
        record = existing.get(key) or ObligationRecord(incident_id=incident_id, regime=key[0], audience=key[1],
                                                       part=key[2], status="", computed_at=now, **values)
        changed += _apply(record, values, now) or record.id is None
        session.add(record)
    for key, record in existing.items():
        if key not in desired and record.status not in (*CLOSED, ObligationStatus.superseded.value):
            record.status, changed = ObligationStatus.superseded.value, changed + 1
            session.add(record)
    _save_assessment(session, incident_id, assessment, now)
    required = sorted("/".join(filter(None, k)) for k, v in desired.items() if v["required"])
    audit.record(session, clock=clock, actor=actor, action="obligations.assessed", entity="incident",
                 entity_id=incident_id, incident_id=incident_id,
                 after={"severity": assessment.severity.band, "required": required, "changed": changed})
    if changed:
        incidents.add_timeline(session, clock=clock, incident_id=incident_id, actor=actor, kind="obligations",
                               text=f"Obligations assessed: {len(required)} required, {changed} changed")
    session.commit()
    return for_incident(session, incident_id=incident_id)


def for_incident(session: Session, *, incident_id: int) -> list[ObligationRecord]:
    """The incident's obligation records: open ones by due time first, then the rest."""
    rows = session.exec(select(ObligationRecord).where(ObligationRecord.incident_id == incident_id)
                        .order_by(col(ObligationRecord.regime), col(ObligationRecord.audience),
                                  col(ObligationRecord.part))).all()
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(rows, key=lambda r: (r.status not in OPEN, r.due_at or far))


def latest_assessment(session: Session, *, incident_id: int) -> dict[str, Any] | None:
    """The stored assess document (severity, obligations) of the last refresh, or None."""
    row = session.exec(select(IncidentAssessment).where(IncidentAssessment.incident_id == incident_id)).first()
    return row.document if row else None


def close(
    session: Session, *, clock: Clock, actor: str, obligation_id: int, outcome: str, reason: str
) -> ObligationRecord:
    """Mark an open obligation ``met`` or ``waived`` with a reason; commits.

    Raises ``InvalidInput`` (empty reason, unknown outcome), ``Conflict`` (already closed or not
    required), ``NotFound``. Role checks (a waiver needs a privacy officer) are the route's.
    """
    if outcome not in CLOSED:
        raise InvalidInput(f"outcome must be met or waived, not {outcome!r}",
                           details=[{"path": "outcome", "reason": "met|waived"}])
    if not reason.strip():
        raise InvalidInput("reason: a reason is required", details=[{"path": "reason", "reason": "empty"}])
    record = session.get(ObligationRecord, obligation_id)
    if record is None:
        raise NotFound(f"obligation {obligation_id} does not exist")
    if record.status not in OPEN:
        raise Conflict(f"obligation {obligation_id} is {record.status}; only due or overdue ones can be {outcome}")
    before = record.status
    record.status, record.closed_at, record.closed_by = outcome, clock.now(), actor
    record.close_reason = reason.strip()
    session.add(record)
    label = "/".join(filter(None, (record.regime, record.audience, record.part)))
    audit.record(session, clock=clock, actor=actor, action=f"obligation.{outcome}", entity="obligation",
                 entity_id=obligation_id, incident_id=record.incident_id, before={"status": before},
                 after={"status": outcome, "obligation": label})
    incidents.add_timeline(session, clock=clock, incident_id=record.incident_id, actor=actor, kind="obligation",
                           text=f"Obligation {label} {outcome}: {record.close_reason}")
    session.commit()
    return record
