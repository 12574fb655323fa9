"""The letters sweep: a letter handed over with no returned mail after ``LETTER_RETURN_DAYS`` days counts as
delivered (attempt ``no_return``), so the run can finish. Mail notice counts as given when it was mailed under
most notice laws (e.g. HIPAA 45 CFR 164.404(d)(1): written notification by first-class mail); the wait only
leaves room for returned mail to move people on first."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.dispatch.models import DELIVERED, SENT, Delivery, DeliveryAttempt


def presume_delivered(session: Session, *, now: dt.datetime, days: int) -> int:
    """Mark ``sent`` letters older than ``days`` delivered; returns how many. Commits."""
    cutoff = now - dt.timedelta(days=days)
    ids = list(session.exec(select(Delivery.id).where(Delivery.channel == "letter", Delivery.state == SENT,
                                                      col(Delivery.sent_at) < cutoff)).all())
    if not ids:
        return 0
    moved = list(session.execute(update(Delivery).where(col(Delivery.id).in_(ids), col(Delivery.state) == SENT)
                                 .values(state=DELIVERED, delivered_at=now, finished_at=now)
                                 .returning(col(Delivery.id))).scalars())
    for delivery_id in moved:
        session.add(DeliveryAttempt(delivery_id=delivery_id, at=now, outcome="no_return",
                                    error_message=f"no returned mail within {days} days: delivered"))
    session.commit()
    return len(moved)
