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
from app.obligations import parts
from app.obligations.models import OPEN, IncidentAssessment, ObligationRecord, ObligationStatus
from app.obligations.parts import roll_up
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


def _apply(record: ObligationRecord, values: Mapping[str, Any], now: dt.datetime) -> None:
    for key, value in values.items():
        setattr(record, key, value)
    if record.status not in CLOSED:
        record.status = computed_status(required=record.required, due_at=record.due_at, now=now)
    record.computed_at = now


def _shown(record: ObligationRecord) -> tuple[Any, ...]:
    """What a person sees of a record: a change of any of it counts as a change of the decision."""
    return (record.required, record.recipient, record.due_at, record.reasons, record.citations, record.status)


def _roll_up_parents(records: Mapping[Key, ObligationRecord], now: dt.datetime, actor: str) -> None:
    """Each parent's status and due time from its parts (``app.obligations.parts``)."""
    for (regime, audience, part), parent in records.items():
        if part == "":
            family = [r for k, r in records.items() if k[:2] == (regime, audience) and k[2]]
            roll_up(parent, sorted(family, key=lambda r: (r.id is None, r.id or 0)), now=now, actor=actor)


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

    Records no longer produced become ``superseded`` (unless met or waived). A parent's status and due time
    follow its parts (``app.obligations.parts``). Writes one audit event and, when anything changed, a
    timeline entry. Returns the incident's records.
    """
    incident = incidents.get(session, incident_id=incident_id)
    now = clock.now()
    assessment = assess(incident=IncidentFile.model_validate(incident.document), playbooks=playbooks, now=now,
                        jurisdiction_counts=jurisdiction_counts, imported=imported)
    existing = {(r.regime, r.audience, r.part): r for r in for_incident(session, incident_id=incident_id)}
    before = {key: _shown(r) for key, r in existing.items()}
    desired = dict(_rows(assessment))
    records = dict(existing)
    for key, values in desired.items():
        record = existing.get(key) or ObligationRecord(incident_id=incident_id, regime=key[0], audience=key[1],
                                                       part=key[2], status="", computed_at=now, **values)
        _apply(record, values, now)
        records[key] = record
    for key, record in existing.items():
        if key not in desired and record.status not in (*CLOSED, ObligationStatus.superseded.value):
            record.status = ObligationStatus.superseded.value
    _roll_up_parents(records, now, actor)
    changed = sum(before.get(key) != _shown(r) for key, r in records.items())
    session.add_all(records.values())
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

    A part is closed on its own; its parent follows (``app.obligations.parts``: met once every required
    part is met). Raises ``InvalidInput`` (empty reason, unknown outcome), ``Conflict`` (already closed, not
    required, or a parent with parts: the parts are closed instead), ``NotFound``. Role checks (a waiver
    needs a privacy officer) are the caller's.
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
    family = parts.members(session, record=record)
    if record.id in parts.parent_ids(family):
        named = ", ".join(f"{r.id} ({r.part})" for r in family if r.part and r.status in OPEN)
        raise Conflict(f"obligation {obligation_id} ({parts.label(record)}) is closed through its parts: mark "
                       f"{named or 'them'} {outcome} instead")
    before = record.status
    record.status, record.closed_at, record.closed_by = outcome, clock.now(), actor
    record.close_reason = reason.strip()
    session.add(record)
    label = parts.label(record)
    audit.record(session, clock=clock, actor=actor, action=f"obligation.{outcome}", entity="obligation",
                 entity_id=obligation_id, incident_id=record.incident_id, before={"status": before},
                 after={"status": outcome, "obligation": label})
    incidents.add_timeline(session, clock=clock, incident_id=record.incident_id, actor=actor, kind="obligation",
                           text=f"Obligation {label} {outcome}: {record.close_reason}")
    parts.sync(session, clock=clock, actor=actor, part=record)
    session.commit()
    return record
