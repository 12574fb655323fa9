"""The dashboard: every open incident with its status, severity band, next deadline (coloured by urgency)
and how many people are affected, notified and unreachable.

Definitions (also shown on the page): *affected* = ``app.subjects.service.affected(...).people`` (imported
data subjects linked to the incident, or the incident file's count before any import), the same number the
incident workspace, the subjects page, the incident list and the reports show; *notified* = distinct people
with at least one delivered notice (any run, any channel); *unreachable* =
``app.announcements.service.unreachable_count`` (people without any usable contact, or left to the
substitute notice by a dispatch run), the number the substitute-notice decision uses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import distinct, func, select
from sqlmodel import Session, col

from app.announcements.service import unreachable_count
from app.dispatch.models import DELIVERED, Delivery, DispatchRun
from app.incidents.lifecycle import Status
from app.incidents.models import Incident
from app.obligations import parts
from app.obligations import service as obligations
from app.subjects import service as subjects

OPEN_STATUSES = tuple(s.value for s in Status if s not in (Status.closed, Status.false_positive))
SOON = dt.timedelta(hours=24)


def urgency(due_at: dt.datetime | None, now: dt.datetime) -> str:
    """``overdue`` (past), ``soon`` (within 24 h), ``due`` (later) or ``none`` (no dated deadline)."""
    if due_at is None:
        return "none"
    if due_at <= now:
        return "overdue"
    return "soon" if due_at - now <= SOON else "due"


def countdown(due_at: dt.datetime | None, now: dt.datetime) -> str:
    """``"2 d 3 h 5 min"`` until ``due_at``, ``"overdue by 4 h 10 min"`` after it, ``""`` without one."""
    if due_at is None:
        return ""
    seconds = int((due_at - now).total_seconds())
    minutes = abs(seconds) // 60
    text = f"{minutes // 1440} d {minutes % 1440 // 60} h {minutes % 60} min"
    return text if seconds > 0 else f"overdue by {text}"


@dataclass(frozen=True)
class DashboardRow:
    """One open incident. ``next_due``: earliest open obligation deadline (aware UTC) with its ``regime`` and
    ``audience``; ``urgency`` as ``urgency()``; ``band``: ENISA severity band of the last assessment."""

    incident: Incident
    band: str | None
    next_due: dt.datetime | None
    next_regime: str
    next_audience: str
    urgency: str
    countdown: str
    open_obligations: int
    affected: int
    notified: int
    unreachable: int


def _notified(session: Session, incident_id: int) -> int:
    return int(session.execute(
        select(func.count(distinct(col(Delivery.subject_id)))).join(
            DispatchRun, col(DispatchRun.id) == col(Delivery.run_id)).where(
            col(DispatchRun.incident_id) == incident_id, col(Delivery.state) == DELIVERED)).scalar_one())


def row_for(session: Session, *, incident: Incident, now: dt.datetime) -> DashboardRow:
    """The dashboard row of one incident at ``now`` (aware UTC)."""
    incident_id = incident.id or 0
    records = obligations.for_incident(session, incident_id=incident_id)
    parents = parts.parent_ids(records)  # a duty in parts counts once per part, never again as its parent
    open_ = [o for o in records if o.status in ("due", "overdue") and o.id not in parents]
    dated = sorted((o for o in open_ if o.due_at is not None), key=lambda o: o.due_at or now)
    first = dated[0] if dated else None
    assessment = obligations.latest_assessment(session, incident_id=incident_id) or {}
    due = first.due_at if first else None
    return DashboardRow(
        incident=incident, band=(assessment.get("severity") or {}).get("band"), next_due=due,
        next_regime=first.regime if first else "", next_audience=first.audience if first else "",
        urgency=urgency(due, now), countdown=countdown(due, now), open_obligations=len(open_),
        affected=subjects.affected(session, incident_id=incident_id).people,
        notified=_notified(session, incident_id), unreachable=unreachable_count(session, incident_id=incident_id))


def open_incidents(session: Session, *, now: dt.datetime) -> list[DashboardRow]:
    """Rows for every incident not closed or a false positive, the most urgent deadline first."""
    rows = session.execute(select(Incident).where(col(Incident.status).in_(OPEN_STATUSES))).scalars().all()
    out = [row_for(session, incident=i, now=now) for i in rows]
    far = now + dt.timedelta(days=36500)
    return sorted(out, key=lambda r: (r.next_due or far, -(r.incident.id or 0)))
