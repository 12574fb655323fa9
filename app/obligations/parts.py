"""Obligations in parts: one duty to one audience that the law splits into separately timed parts.

Examples: the GDPR report to the supervisory authority (initial notification within 72 hours, Art. 33(1), and
further information in phases, Art. 33(4)); HIPAA's notice to HHS (within 60 days for 500 or more people,
else in the annual log, 45 CFR 164.408); New York's copy of the HHS notice to its Attorney General (GBL
§899-aa); Florida's notice to the Department of Legal Affairs and its written no-harm determination
(Fla. Stat. §501.171). The engine's obligation becomes one record with ``part == ""`` (the parent) and one
record per part.

The rules:

* The parts are the duties. Each part with a due time is reminded and escalated on its own and is marked
  met or waived on its own. A parent that has parts is never swept (one deadline, one reminder) and is not
  closed directly (``service.close`` answers ``Conflict``, naming the parts).
* The parent follows its required parts (a part that is ``not_required`` or ``superseded`` does not count):
  ``overdue`` while any open part is overdue, else ``due`` while any is open; once none is open, ``met``
  when every required part was met and ``waived`` when at least one was waived. Its ``due_at`` is the
  next due time among its open parts (None when those have no fixed period, e.g. GDPR Art. 33(4) once the
  initial notification is made); once it is closed, the earliest due time of its required parts.
* A parent that is met or waived stays so, like every closed record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlmodel import Session, col, select

from app.audit import service as audit
from app.clock import Clock
from app.incidents import service as incidents
from app.obligations.models import OPEN, ObligationRecord, ObligationStatus

Family = tuple[int, str, str]
"""(incident id, regime, audience): a parent and its parts."""

_COUNTED = (*OPEN, ObligationStatus.met.value, ObligationStatus.waived.value)
_CLOSED = (ObligationStatus.met.value, ObligationStatus.waived.value)


def family(record: ObligationRecord) -> Family:
    """The family key of ``record``."""
    return record.incident_id, record.regime, record.audience


def label(record: ObligationRecord) -> str:
    """``regime/audience[/part]``, as the audit trail and the timeline name an obligation."""
    return "/".join(filter(None, (record.regime, record.audience, record.part)))


def _live_part(record: ObligationRecord) -> bool:
    return record.part != "" and record.status != ObligationStatus.superseded.value


def parent_ids(records: Iterable[ObligationRecord]) -> set[int]:
    """Ids of the parents among ``records`` (records of parts included): records without a part whose
    family has a part that is not superseded."""
    rows = list(records)
    with_parts = {family(r) for r in rows if _live_part(r)}
    return {r.id for r in rows if r.id is not None and r.part == "" and family(r) in with_parts}


def families_with_parts(session: Session, *, incident_ids: Sequence[int]) -> set[Family]:
    """The families of ``incident_ids`` that have parts (not superseded)."""
    rows = session.execute(select(col(ObligationRecord.incident_id), col(ObligationRecord.regime),
                                  col(ObligationRecord.audience)).distinct().where(
        col(ObligationRecord.incident_id).in_(incident_ids), col(ObligationRecord.part) != "",
        col(ObligationRecord.status) != ObligationStatus.superseded.value)).all()
    return {(int(i), str(r), str(a)) for i, r, a in rows}


def members(session: Session, *, record: ObligationRecord) -> list[ObligationRecord]:
    """The records of ``record``'s family: the parent (``part == ""``) and its parts, in the playbook's order."""
    return list(session.exec(select(ObligationRecord).where(
        ObligationRecord.incident_id == record.incident_id, ObligationRecord.regime == record.regime,
        ObligationRecord.audience == record.audience).order_by(col(ObligationRecord.id))).all())


def roll_up(parent: ObligationRecord, parts: Sequence[ObligationRecord], *, now: dt.datetime, actor: str) -> bool:
    """Set ``parent``'s status and ``due_at`` from its ``parts`` by the rules above; True if the status
    changed. Leaves a parent alone that is not required, superseded or already closed, or has no required
    part. ``now`` (aware UTC) and ``actor`` are recorded when the parent closes."""
    required = [p for p in parts if p.status in _COUNTED]
    if not parent.required or parent.status not in (*OPEN, "") or not required:
        return False
    before = parent.status
    open_ = [p for p in required if p.status in OPEN]
    dues = [p.due_at for p in (open_ or required) if p.due_at is not None]
    parent.due_at = min(dues) if dues else None
    if open_:
        overdue = any(p.status == ObligationStatus.overdue.value for p in open_)
        parent.status = ObligationStatus.overdue.value if overdue else ObligationStatus.due.value
        return parent.status != before
    met = all(p.status == ObligationStatus.met.value for p in required)
    parent.status = ObligationStatus.met.value if met else ObligationStatus.waived.value
    parent.closed_at, parent.closed_by = now, actor
    parent.close_reason = "through its parts: " + "; ".join(f"{p.part} {p.status}" for p in required)
    return True


def sync(session: Session, *, clock: Clock, actor: str, part: ObligationRecord) -> ObligationRecord | None:
    """After ``part`` changed status (closed or escalated), roll its parent up; when the parent's status
    changes, write an audit event (``obligation.status_from_parts``) and a timeline entry. Works in the
    caller's transaction (flushes, never commits). Returns the parent, or None for a record without one."""
    if not part.part:
        return None
    session.flush()
    rows = members(session, record=part)
    parent = next((r for r in rows if r.part == ""), None)
    if parent is None:
        return None
    before = parent.status
    if roll_up(parent, [r for r in rows if r.part], now=clock.now(), actor=actor):
        session.add(parent)
        audit.record(session, clock=clock, actor=actor, action="obligation.status_from_parts",
                     entity="obligation", entity_id=parent.id or 0, incident_id=parent.incident_id,
                     before={"status": before}, after={"status": parent.status, "obligation": label(parent),
                                                       "part": part.part, "part_status": part.status})
        if parent.status in _CLOSED:
            incidents.add_timeline(session, clock=clock, incident_id=parent.incident_id, actor=actor,
                                   kind="obligation", text=f"Obligation {label(parent)} {parent.status} "
                                                           f"{parent.close_reason}")
    return parent
