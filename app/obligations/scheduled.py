"""The deadline sweep: reminders before each open obligation's due time, escalation once it passes.

State lives in our tables, not in the scheduler: a reminder is fired at most once per deadline
(``obligation_alert`` has a unique key per obligation, kind and ``due_at``), a sweep that runs late still
fires what is owed (noting how late), and a restart loses nothing. A deadline that moves on recompute (the
awareness time corrected) is a new deadline: its reminders and escalation fire again, once. Offsets are
absolute durations (seconds) before ``due_at`` (UTC), so a daylight-saving change in the controller's zone
never moves them.

An obligation in parts is swept per timed part; its parent is not swept itself and follows its parts
(``app.obligations.parts``), so one deadline gives one reminder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.clock import Clock
from app.incidents import service as incidents
from app.obligations import escalation_mail, parts
from app.obligations.models import ObligationAlert, ObligationRecord, ObligationStatus
from app.obligations.parts import label
from app.webhooks.events import emit

ACTOR = "scheduler"


@dataclass
class SweepReport:
    """What one sweep did: reminders and escalations fired (``(obligation_id, kind)`` pairs)."""

    reminders: list[tuple[int, str]] = field(default_factory=list)
    escalations: list[int] = field(default_factory=list)


def _fire(session: Session, *, clock: Clock, ob: ObligationRecord, kind: str, scheduled_for: dt.datetime,
          skipped: Sequence[str] = (), email_officers: bool = False) -> bool:
    """Record one alert with its audit event and timeline entry in one transaction (an escalation also
    queues the privacy officers' emails when ``email_officers``); False if already fired."""
    now = clock.now()
    due = ob.due_at or now
    alert = ObligationAlert(obligation_id=ob.id or 0, kind=kind, due_at=due, scheduled_for=scheduled_for,
                            fired_at=now)
    session.add(alert)
    for other in skipped:  # earlier reminders the sweep missed: recorded so they never fire after this one
        session.add(ObligationAlert(obligation_id=ob.id or 0, kind=other, due_at=due, scheduled_for=scheduled_for,
                                    fired_at=now))
    try:
        session.flush()
    except IntegrityError:  # another sweep fired it first
        session.rollback()
        return False
    late = max(0, int((now - scheduled_for).total_seconds()))
    escalation = kind == "overdue"
    if escalation:
        ob.status = ObligationStatus.overdue.value
        session.add(ob)
        parts.sync(session, clock=clock, actor=ACTOR, part=ob)
        if email_officers:
            escalation_mail.queue(session, alert=alert, now=now)
    action = "obligation.escalated" if escalation else "obligation.reminder"
    audit.record(session, clock=clock, actor=ACTOR, action=action, entity="obligation", entity_id=ob.id or 0,
                 incident_id=ob.incident_id, after={"obligation": label(ob), "kind": kind, "due_at": due.isoformat(),
                                                    "late_seconds": late, "skipped": list(skipped)})
    left = int((due - now).total_seconds() // 3600)
    text = (f"OVERDUE: {label(ob)} was due {due.isoformat()}" if escalation
            else f"Reminder: {label(ob)} due {due.isoformat()} (about {left} h left)")
    incidents.add_timeline(session, clock=clock, incident_id=ob.incident_id, actor=ACTOR, kind="deadline", text=text)
    emit(session, clock=clock, event_type="obligation.overdue" if escalation else "obligation.due_soon",
         incident_id=ob.incident_id, data={"incident_id": ob.incident_id, "obligation_id": ob.id, "regime": ob.regime,
                                           "audience": ob.audience, "due_at": due.isoformat(),
                                           "seconds_left": int((due - now).total_seconds())})
    try:
        session.commit()
    except IntegrityError:  # another sweep fired it first
        session.rollback()
        return False
    return True


def _fired(session: Session, rows: list[ObligationRecord]) -> set[tuple[int, str]]:
    """``(obligation id, kind)`` of the alerts already fired for each row's current deadline."""
    due = {r.id: r.due_at for r in rows}
    alerts = session.exec(select(ObligationAlert).where(col(ObligationAlert.obligation_id).in_(list(due)))).all()
    return {(a.obligation_id, a.kind) for a in alerts if a.due_at == due.get(a.obligation_id)}


def _swept(session: Session) -> list[ObligationRecord]:
    """Open, required records with a due time, without parents whose timing comes from their parts."""
    rows = list(session.exec(select(ObligationRecord).where(
        col(ObligationRecord.status).in_([ObligationStatus.due.value, ObligationStatus.overdue.value]),
        col(ObligationRecord.required).is_(True), col(ObligationRecord.due_at).is_not(None))).all())
    with_parts = parts.families_with_parts(session, incident_ids=sorted({r.incident_id for r in rows}))
    return [r for r in rows if r.part or parts.family(r) not in with_parts]


def sweep(session: Session, *, clock: Clock, offsets: Sequence[int], email_officers: bool = False) -> SweepReport:
    """Fire owed reminders (``offsets``: seconds before due, e.g. ``(86400, 21600)``) and escalations;
    ``email_officers`` queues an email per active privacy officer with each escalation
    (``app.obligations.escalation_mail``; sent by ``send_pending``).

    Each alert commits on its own, so a crash part-way keeps what was done. Of several reminders owed
    at once (the scheduler was down), only the nearest to the deadline is announced. A parent with parts
    is skipped (its parts are swept); an escalated part makes its parent overdue in the same transaction.
    """
    now, report = clock.now(), SweepReport()
    open_rows = _swept(session)
    fired = _fired(session, open_rows)
    for ob in open_rows:
        due = ob.due_at
        assert due is not None
        if now >= due:
            if (ob.id or 0, "overdue") not in fired and _fire(session, clock=clock, ob=ob, kind="overdue",
                                                               scheduled_for=due, email_officers=email_officers):
                report.escalations.append(ob.id or 0)
            continue
        owed = sorted((o for o in offsets if now >= due - dt.timedelta(seconds=o)
                       and (ob.id or 0, f"reminder:{o}") not in fired), reverse=True)
        if owed:
            kind = f"reminder:{owed[-1]}"
            skipped = [f"reminder:{o}" for o in owed[:-1]]
            if _fire(session, clock=clock, ob=ob, kind=kind, scheduled_for=due - dt.timedelta(seconds=owed[-1]),
                     skipped=skipped):
                report.reminders.append((ob.id or 0, kind))
    return report


def alerts_for(session: Session, *, incident_id: int) -> dict[int, list[ObligationAlert]]:
    """Fired reminders and escalations of the incident's obligations: ``{obligation_id: [alert, ...]}``,
    oldest first."""
    rows = session.exec(select(ObligationAlert).join(ObligationRecord, col(ObligationRecord.id) == col(
        ObligationAlert.obligation_id)).where(ObligationRecord.incident_id == incident_id).order_by(
        col(ObligationAlert.fired_at))).all()
    out: dict[int, list[ObligationAlert]] = {}
    for alert in rows:
        out.setdefault(alert.obligation_id, []).append(alert)
    return out
