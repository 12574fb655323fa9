"""Recording what providers said: send results, delivery receipts, retries with backoff, and fallbacks.

Each function runs one short transaction and commits. Updates repeat the expected state in their WHERE
clause, so a late or repeated answer never moves a delivery backwards.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Table, bindparam, or_, select, update
from sqlmodel import Session, col

from app import db
from app.channels.base import ReceiptUpdate, SendResult
from app.dispatch.models import (
    DELIVERED,
    FAILED_PERMANENT,
    FAILED_TEMPORARY,
    QUEUED,
    SENDING,
    SENT,
    Delivery,
    DeliveryAttempt,
)
from app.dispatch.outbox import advance
from app.ops.metrics import RETRIES
from app.subjects.models import SubjectIdentifier
from app.wording import plural

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    """Retry policy: ``max_attempts`` per delivery, backoff ``base``/``cap`` in seconds, the channels that
    have a sender (``senders``, for fallbacks), and ``rng`` for jitter."""

    max_attempts: int
    base: float
    cap: float
    senders: Sequence[str]
    rng: random.Random


def backoff_seconds(attempt: int, *, base: float, cap: float, retry_after: float | None, rng: random.Random) -> float:
    """Seconds before the next attempt: full jitter over ``min(cap, base * 2**(attempt-1))``, but never less
    than the provider's ``retry_after``."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return max(retry_after or 0.0, rng.uniform(ceiling / 2, ceiling))


def _attempt(session: Session, delivery_id: int, at: dt.datetime, outcome: str, *, worker: str | None = None,
             provider_id: str | None = None, provider_status: str | None = None, error_code: str | None = None,
             error_message: str | None = None) -> None:
    session.add(DeliveryAttempt(delivery_id=delivery_id, at=at, worker=worker, outcome=outcome,
                                provider_id=provider_id, provider_status=provider_status, error_code=error_code,
                                error_message=error_message))


def reread_after_write(session: Session, delivery: Delivery) -> None:
    """Flush the pending writes, then reload ``delivery`` locked. SQLite ignores ``FOR UPDATE`` and reads
    outside a transaction, so a state read before the first write may be stale; the flush takes SQLite's
    write lock, after which the reload is current and stays so until commit. On PostgreSQL the row lock
    already holds and the reload is a no-op in effect."""
    session.flush()
    session.refresh(delivery, with_for_update=True)


def fail_permanently(session: Session, delivery: Delivery, *, why: str, dead: bool, policy: Policy,
                      now: dt.datetime) -> str:
    """Fail ``delivery`` for good (``dead``: retire its contact) and move its person on, in the caller's
    transaction. Returns the next channel or ``"substitute"`` (``outbox.advance``)."""
    delivery.state, delivery.finished_at, delivery.claimed_by = FAILED_PERMANENT, now, None
    delivery.error = why
    session.add(delivery)
    if dead and delivery.identifier_id is not None:
        session.execute(update(SubjectIdentifier).where(col(SubjectIdentifier.id) == delivery.identifier_id)
                        .values(usable=False))
    session.flush()
    return advance(session, delivery, why=f"{delivery.channel} {why}", senders=policy.senders, now=now)


def _retry_or_fail(session: Session, delivery: Delivery, *, why: str, retry_after: float | None, policy: Policy,
                   now: dt.datetime) -> None:
    if delivery.attempts >= policy.max_attempts:
        fail_permanently(session, delivery, why=f"failed after {plural(delivery.attempts, 'attempt')} ({why})",
                         dead=False, policy=policy, now=now)
        return
    wait = backoff_seconds(delivery.attempts, base=policy.base, cap=policy.cap, retry_after=retry_after,
                           rng=policy.rng)
    delivery.state, delivery.claimed_by, delivery.error = FAILED_TEMPORARY, None, why
    delivery.next_attempt_at = now + dt.timedelta(seconds=wait)
    session.add(delivery)
    RETRIES.labels(delivery.channel).inc()


def record_result(session: Session, *, delivery_id: int, worker: str, result: SendResult, awaits_receipt: bool,
                  policy: Policy, now: dt.datetime) -> None:
    """Record one send attempt's ``result`` and move the delivery on; commits.

    An accepted message also lands when the sweeper had re-queued the delivery meanwhile (it was sent, so it
    must not be sent again); other results only apply while this ``worker`` still holds the claim.
    """
    _attempt(session, delivery_id, now, result.outcome, worker=worker, provider_id=result.provider_id,
             provider_status=result.provider_status, error_code=result.error_code, error_message=result.error_message)
    delivery = session.execute(select(Delivery).where(col(Delivery.id) == delivery_id).with_for_update()).scalar_one()
    mine = delivery.state == SENDING and delivery.claimed_by == worker
    if result.accepted and (mine or delivery.state in (QUEUED, FAILED_TEMPORARY)):
        delivery.state = SENT if awaits_receipt else DELIVERED
        delivery.provider_id, delivery.provider_status = result.provider_id, result.provider_status
        delivery.sent_at, delivery.claimed_by, delivery.awaits_receipt, delivery.error = now, None, awaits_receipt, None
        if not awaits_receipt:
            delivery.delivered_at = delivery.finished_at = now
        session.add(delivery)
        if awaits_receipt:
            _early_receipt(session, delivery, provider_id=result.provider_id, policy=policy, now=now)
    elif not result.accepted and mine:
        why = f"{result.outcome.replace('_', ' ')}: {result.error_message or result.error_code or 'no detail'}"
        if result.outcome == "permanent_failure":
            fail_permanently(session, delivery, why=why, dead=result.dead_contact, policy=policy, now=now)
        else:
            _retry_or_fail(session, delivery, why=why, retry_after=result.retry_after_seconds, policy=policy, now=now)
    else:
        log.warning("delivery %s: result %s arrived after the claim moved on (state %s)", delivery_id,
                    result.outcome, delivery.state)
    session.commit()


def defer(session: Session, *, delivery_id: int, worker: str, until: dt.datetime, why: str,
          now: dt.datetime) -> bool:
    """Give a claimed delivery back without an attempt, due again at ``until`` (voice quiet hours); commits.

    The claim's attempt count is undone and a ``deferred`` attempt row records ``why`` (no contact data).
    Returns False (and changes nothing) when ``worker`` no longer holds the claim.
    """
    delivery = session.execute(select(Delivery).where(col(Delivery.id) == delivery_id).with_for_update()).scalar_one()
    if delivery.state != SENDING or delivery.claimed_by != worker:
        session.rollback()
        return False
    delivery.attempts = max(0, delivery.attempts - 1)
    delivery.state = QUEUED if delivery.attempts == 0 else FAILED_TEMPORARY
    delivery.claimed_by, delivery.next_attempt_at = None, until
    session.add(delivery)
    _attempt(session, delivery_id, now, "deferred", worker=worker, error_message=why)
    session.commit()
    return True


def _early_receipt(session: Session, delivery: Delivery, *, provider_id: str | None, policy: Policy,
                   now: dt.datetime) -> None:
    """Apply a final receipt that arrived while the delivery was still ``sending`` (the provider called back
    before our outcome commit); it was kept as an attempt row. Only a receipt for this send (``provider_id``)
    counts: a retry must not take the previous send's receipt for its own."""
    session.flush()
    early = session.execute(select(col(DeliveryAttempt.outcome), col(DeliveryAttempt.provider_status),
                                   col(DeliveryAttempt.error_code))
                            .where(col(DeliveryAttempt.delivery_id) == delivery.id,
                                   col(DeliveryAttempt.provider_id) == provider_id,
                                   col(DeliveryAttempt.outcome).in_(FINAL_RECEIPTS))
                            .order_by(col(DeliveryAttempt.id).desc()).limit(1)).first()
    if early is not None:
        delivery.provider_status = early[1]
        _apply_final(session, delivery, early[0].removeprefix("receipt:"), f"{early[1]} {early[2] or ''}".strip(),
                     dead=False, policy=policy, now=now)


FINAL_RECEIPTS = ("receipt:delivered", "receipt:failed_permanent", "receipt:failed_temporary")
_EARLY_SQL = ("SELECT DISTINCT delivery_id FROM delivery_attempt WHERE outcome IN ({mark}, {mark}, {mark}) "
              "AND delivery_id {match}")  # one {mark} per FINAL_RECEIPTS


def _apply_final(session: Session, delivery: Delivery, state: str, detail: str, *, dead: bool, policy: Policy,
                 now: dt.datetime) -> None:
    if state == "delivered" and delivery.state in (SENT, FAILED_PERMANENT):
        delivery.state, delivery.delivered_at, delivery.finished_at = DELIVERED, now, now
        session.add(delivery)
    elif state == "failed_permanent" and delivery.state == SENT:
        fail_permanently(session, delivery, why=f"receipt {detail}", dead=dead, policy=policy, now=now)
    elif state == "failed_temporary" and delivery.state == SENT:
        _retry_or_fail(session, delivery, why=f"receipt {detail}", retry_after=None, policy=policy, now=now)


def _find(session: Session, update_: ReceiptUpdate) -> Delivery | None:
    if update_.reference and update_.reference.isdigit():
        found: Delivery | None = session.execute(select(Delivery).where(col(Delivery.id) == int(update_.reference))
                                .with_for_update()).scalar_one_or_none()
        if found is not None:
            return found
    by_sid: Delivery | None = session.execute(select(Delivery).where(
        col(Delivery.provider_id) == update_.provider_id).with_for_update()).scalar_one_or_none()
    return by_sid


def apply_receipt(session: Session, *, receipt: ReceiptUpdate, policy: Policy, now: dt.datetime) -> str | None:
    """Apply a verified delivery receipt; commits. Returns the delivery's new state, or None when no delivery
    matches (the receipt is then ignored).

    ``delivered`` is accepted from ``sent`` and also after a receipt timeout (late evidence); a failure only
    moves a delivery that is still ``sent``. A final receipt for a delivery still ``sending`` (the callback
    overtook our outcome commit) is kept as an attempt and applied when the outcome lands; the attempt is
    written before the state is re-read, so a receipt racing the acceptance commit is never lost.
    """
    delivery = _find(session, receipt)
    if delivery is None or delivery.id is None:
        session.rollback()
        return None
    _attempt(session, delivery.id, now, f"receipt:{receipt.state}", provider_id=receipt.provider_id,
             provider_status=receipt.provider_status, error_code=receipt.error_code)
    # The worker may have committed its acceptance since the read above; the re-read after our first write
    # sees it, and a worker committing later finds this attempt as an early receipt. Either way it lands.
    reread_after_write(session, delivery)
    delivery.provider_status = receipt.provider_status
    session.add(delivery)
    _apply_final(session, delivery, receipt.state, f"{receipt.provider_status} {receipt.error_code or ''}".strip(),
                 dead=receipt.dead_contact, policy=policy, now=now)
    state = delivery.state
    session.commit()
    return state


@dataclass(frozen=True)
class Accepted:
    """One provider acceptance waiting to be recorded: the delivery id, the ``SendResult``, whether a
    receipt will follow (live SMS) and when it was accepted."""

    delivery_id: int
    result: SendResult
    awaits_receipt: bool
    at: dt.datetime


_TABLE: Table = Delivery.__table__  # type: ignore[attr-defined]
_ATTEMPTS: Table = DeliveryAttempt.__table__  # type: ignore[attr-defined]
_ACCEPT = (update(_TABLE)
           .where(_TABLE.c.id == bindparam("b_id"),
                  or_((_TABLE.c.state == SENDING) & (_TABLE.c.claimed_by == bindparam("b_worker")),
                      _TABLE.c.state == QUEUED, _TABLE.c.state == FAILED_TEMPORARY))  # no IN: executemany
           .values(state=bindparam("b_state"), provider_id=bindparam("b_provider_id"),
                   provider_status=bindparam("b_provider_status"), sent_at=bindparam("b_at"), claimed_by=None,
                   awaits_receipt=bindparam("b_awaits"), error=None, delivered_at=bindparam("b_done"),
                   finished_at=bindparam("b_done")))
"""One acceptance: the delivery moves when this worker still holds the claim, or when the sweeper had
re-queued it meanwhile (it was sent, so it must not be sent again). Executed for many rows at once."""


def accept_rows(conn: Connection, *, items: Sequence[Accepted], worker: str) -> set[int]:
    """Write the attempts of ``items`` and move their deliveries (two Core statements, each executed for all
    items) in the caller's transaction; returns the delivery ids that moved (an acceptance also lands on a
    delivery the sweeper had re-queued meanwhile; one whose claim moved on otherwise is logged and left)."""
    db.executemany(conn, _ATTEMPTS, [
        {"delivery_id": a.delivery_id, "at": a.at, "worker": worker, "outcome": a.result.outcome,
         "provider_id": a.result.provider_id, "provider_status": a.result.provider_status} for a in items])
    changed = db.executemany(conn, _ACCEPT, [
        {"b_id": a.delivery_id, "b_worker": worker, "b_state": SENT if a.awaits_receipt else DELIVERED,
         "b_provider_id": a.result.provider_id, "b_provider_status": a.result.provider_status, "b_at": a.at,
         "b_awaits": a.awaits_receipt, "b_done": None if a.awaits_receipt else a.at} for a in items])
    moved = {a.delivery_id for a in items}
    if changed != len(items):  # some claim moved on (or the driver gives no total): ask which rows landed
        landed = {row[0]: row[1] for row in conn.execute(select(col(Delivery.id), col(Delivery.sent_at))
                                                         .where(col(Delivery.id).in_(moved)))}
        moved = {a.delivery_id for a in items if landed.get(a.delivery_id) == a.at}
        for a in items:
            if a.delivery_id not in moved:
                log.warning("delivery %s: acceptance arrived after the claim moved on", a.delivery_id)
    return moved


def early_receipts(conn: Connection, *, items: Sequence[Accepted], moved: set[int]) -> list[int]:
    """Delivery ids among ``moved`` acceptances awaiting a receipt whose final receipt already arrived (it
    overtook the acceptance's commit and was kept as an attempt row); one query, none when nothing awaits."""
    waiting = [a.delivery_id for a in items if a.awaits_receipt and a.delivery_id in moved]
    if not waiting:
        return []
    return sorted({int(row[0]) for row in db.driver_rows(conn, _EARLY_SQL, FINAL_RECEIPTS, waiting)})


def apply_early_receipts(session: Session, *, items: Sequence[Accepted], early: Sequence[int],
                         policy: Policy) -> None:
    """Apply the overtaking receipts of ``early`` (from :func:`early_receipts`) in ``session``; no commit."""
    sent_as = {a.delivery_id: a.result.provider_id for a in items}
    for delivery_id in early:
        delivery = session.get(Delivery, delivery_id, populate_existing=True)  # after the Core update
        if delivery is not None:
            _early_receipt(session, delivery, provider_id=sent_as[delivery_id], policy=policy, now=items[-1].at)


def record_accepted(session: Session, *, items: Sequence[Accepted], worker: str, policy: Policy) -> int:
    """Record several acceptances in one transaction (``accept_rows``, then any final receipt that overtook
    an acceptance awaiting one); commits. Returns how many deliveries moved."""
    if not items:
        return 0
    conn = session.connection()
    moved = accept_rows(conn, items=items, worker=worker)
    apply_early_receipts(session, items=items, early=early_receipts(conn, items=items, moved=moved), policy=policy)
    session.commit()
    return len(moved)
