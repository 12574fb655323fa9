"""Periodic dispatch sweeps (run by every worker and by the scheduler; each is idempotent):

* ``requeue_stale``: a delivery still ``sending`` ``claim_timeout`` seconds after its claim belongs to a worker
  that died or hung; it goes back to ``failed_temporary``, due at once. This is the one place a message can
  be sent twice: its provider may have accepted it before the worker died (see ``docs/dispatch.md``).
* ``receipt_timeouts``: a ``sent`` delivery without a receipt after the channel's receipt timeout fails
  (``receipt_timeout``) and its person moves to the next channel.
* ``finish_runs``: a running run without open deliveries becomes ``done``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from app.audit import service as audit
from app.clock import Clock
from app.dispatch.models import FAILED_TEMPORARY, OPEN, SENDING, SENT, Delivery, DeliveryAttempt, DispatchRun
from app.dispatch.outcomes import Policy, fail_permanently, reread_after_write
from app.incidents import service as incidents
from app.webhooks.jobs import emit_progress


@dataclass(frozen=True)
class SweepReport:
    """Counts of one sweep: re-queued claims, receipt timeouts, runs finished."""

    requeued: int = 0
    timed_out: int = 0
    finished: int = 0


def requeue_stale(session: Session, *, now: dt.datetime, claim_timeout: float) -> int:
    """Re-queue deliveries stuck in ``sending``; returns how many. Commits."""
    cutoff = now - dt.timedelta(seconds=claim_timeout)
    ids = list(session.execute(select(col(Delivery.id)).where(col(Delivery.state) == SENDING,
                                                              col(Delivery.claimed_at) < cutoff)).scalars())
    if not ids:
        return 0
    moved = list(session.execute(update(Delivery).where(col(Delivery.id).in_(ids), col(Delivery.state) == SENDING,
                                                        col(Delivery.claimed_at) < cutoff)
                                 .values(state=FAILED_TEMPORARY, next_attempt_at=now, claimed_by=None,
                                         error="claim expired: the worker stopped before recording an outcome")
                                 .returning(col(Delivery.id))).scalars())
    for delivery_id in moved:
        session.add(DeliveryAttempt(delivery_id=delivery_id, at=now, outcome="claim_expired",
                                    error_message="worker stopped during the attempt"))
    session.commit()
    return len(moved)


def receipt_timeouts(session: Session, *, now: dt.datetime, timeouts: Mapping[str, float], policy: Policy) -> int:
    """Fail ``sent`` deliveries whose receipt is overdue and move their people on; returns how many."""
    count = 0
    for channel, seconds in timeouts.items():
        cutoff = now - dt.timedelta(seconds=seconds)
        ids = list(session.execute(select(col(Delivery.id)).where(
            col(Delivery.channel) == channel, col(Delivery.state) == SENT, col(Delivery.sent_at) < cutoff)).scalars())
        for delivery_id in ids:
            delivery = session.execute(select(Delivery).where(col(Delivery.id) == delivery_id,
                                                              col(Delivery.state) == SENT)
                                       .with_for_update(skip_locked=True)).scalar_one_or_none()
            if delivery is None:
                session.rollback()
                continue
            session.add(DeliveryAttempt(delivery_id=delivery_id, at=now, outcome="receipt_timeout",
                                        error_message=f"no delivery receipt within {seconds:g} s"))
            reread_after_write(session, delivery)
            if delivery.state != SENT:  # a receipt landed since the read above: it wins
                session.rollback()
                continue
            fail_permanently(session, delivery, why=f"no delivery receipt within {seconds:g} s (receipt_timeout)",
                              dead=False, policy=policy, now=now)
            session.commit()
            count += 1
    return count


def finish_runs(session: Session, *, clock: Clock) -> int:
    """Mark running runs without open deliveries ``done`` (timeline + audit); returns how many."""
    now = clock.now()
    finished = 0
    for run in session.execute(select(DispatchRun).where(col(DispatchRun.state) == "running")).scalars().all():
        open_count = session.execute(select(func.count()).select_from(Delivery).where(
            col(Delivery.run_id) == run.id, col(Delivery.state).in_(OPEN))).scalar_one()
        if open_count:
            continue
        changed = session.execute(update(DispatchRun).where(col(DispatchRun.id) == run.id,
                                                            col(DispatchRun.state) == "running")
                                  .values(state="done", finished_at=now, updated_at=now))
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            continue
        counts = dict(session.execute(select(col(Delivery.state), func.count()).where(col(Delivery.run_id) == run.id)
                                      .group_by(col(Delivery.state))).all())
        audit.record(session, clock=clock, actor="dispatch", action="dispatch.done", entity="dispatch_run",
                     entity_id=run.id or 0, incident_id=run.incident_id, after={"counts": counts})
        incidents.add_timeline(session, clock=clock, incident_id=run.incident_id, actor="dispatch", kind="dispatch",
                               text=f"Dispatch run {run.id} finished: " + ", ".join(
                                   f"{n} {s}" for s, n in sorted(counts.items())))
        session.refresh(run)
        emit_progress(session, clock=clock, run=run, event_type="dispatch.completed")
        session.commit()
        finished += 1
    return finished


def sweep(session: Session, *, clock: Clock, claim_timeout: float, timeouts: Mapping[str, float],
          policy: Policy) -> SweepReport:
    """All three sweeps in order."""
    now = clock.now()
    return SweepReport(requeue_stale(session, now=now, claim_timeout=claim_timeout),
                       receipt_timeouts(session, now=now, timeouts=timeouts, policy=policy),
                       finish_runs(session, clock=clock))
