"""The letters sweep: a letter handed over with no returned mail after ``LETTER_RETURN_DAYS`` days counts as
delivered (attempt ``no_return``), so the run can finish. Mail notice counts as given when it was mailed under
most notice laws (e.g. HIPAA 45 CFR 164.404(d)(1): written notification by first-class mail); the wait only
leaves room for returned mail to move people on first."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.clock import Clock
from app.dispatch.models import DELIVERED, SENT, Delivery, DeliveryAttempt, DispatchRun
from app.wording import plural


def presume_delivered(session: Session, *, clock: Clock, days: int) -> int:
    """Mark ``sent`` letters older than ``days`` delivered, with a ``no_return`` attempt each and one audit
    event per dispatch run (``letters.presumed_delivered``, the delivery ids); returns how many. Commits."""
    now = clock.now()
    cutoff = now - dt.timedelta(days=days)
    ids = list(session.exec(select(Delivery.id).where(Delivery.channel == "letter", Delivery.state == SENT,
                                                      col(Delivery.sent_at) < cutoff)).all())
    if not ids:
        return 0
    moved = list(session.execute(update(Delivery).where(col(Delivery.id).in_(ids), col(Delivery.state) == SENT)
                                 .values(state=DELIVERED, delivered_at=now, finished_at=now)
                                 .returning(col(Delivery.id), col(Delivery.run_id))).all())
    per_run: defaultdict[int, list[int]] = defaultdict(list)
    for delivery_id, run_id in moved:
        per_run[run_id].append(delivery_id)
        session.add(DeliveryAttempt(delivery_id=delivery_id, at=now, outcome="no_return",
                                    error_message=f"no returned mail within {plural(days, 'day')}: delivered"))
    runs = session.execute(select(col(DispatchRun.id), col(DispatchRun.incident_id))
                           .where(col(DispatchRun.id).in_(per_run))).all()
    incidents = dict(runs)
    for run_id, delivery_ids in sorted(per_run.items()):
        audit.record(session, clock=clock, actor="letters", action="letters.presumed_delivered",
                     entity="dispatch_run", entity_id=run_id, incident_id=incidents.get(run_id),
                     after={"deliveries": sorted(delivery_ids), "days": days})
    session.commit()
    return len(moved)
