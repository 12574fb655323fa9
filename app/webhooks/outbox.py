"""The webhook outbox: claiming due deliveries, sending them with no session open, recording the outcome.

The same mechanism as the notice outbox (``app.dispatch``): a claim flips due rows (``queued``, or
``failed_temporary`` whose ``next_attempt_at`` has come) to ``sending`` in one short transaction (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL; the repeated state condition makes a row claimable once on SQLite) and commits
before any HTTP call; the outcome lands in a fresh transaction; a failure waits
``app.dispatch.outcomes.backoff_seconds`` (exponential, full jitter, never less than ``Retry-After``) with the
dispatch settings ``DISPATCH_MAX_ATTEMPTS``, ``DISPATCH_BACKOFF`` and ``CLAIM_TIMEOUT``; rows left in ``sending``
by a dead process are re-queued by ``requeue_stale``. ``deliver_due`` runs in the dispatch worker's sweeper
thread and in the scheduler's sweeps.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select, update
from sqlmodel import Session, col

from app import db
from app.clock import Clock
from app.crypto import FieldCipher
from app.dispatch.outcomes import backoff_seconds
from app.errors import InvalidInput
from app.webhooks import sender
from app.webhooks.events import QUEUED
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription
from app.webhooks.urls import UrlPolicy, check

log = logging.getLogger(__name__)
SENDING, DELIVERED, FAILED_TEMPORARY, FAILED_PERMANENT = "sending", "delivered", "failed_temporary", "failed_permanent"
CIPHER_CONTEXT = "webhook.secret"


@dataclass(frozen=True)
class WebhookSettings:
    """URL ``policy``; HTTP ``timeout`` in seconds; ``max_attempts``, backoff ``base``/``cap`` and
    ``claim_timeout`` in seconds (shared with dispatch); ``batch``: deliveries claimed per pass."""

    policy: UrlPolicy = field(default_factory=UrlPolicy)
    timeout: float = 10.0
    max_attempts: int = 5
    backoff_base: float = 30.0
    backoff_cap: float = 3600.0
    claim_timeout: float = 300.0
    batch: int = 10


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def settings_from(config: Mapping[str, Any]) -> WebhookSettings:
    """``WebhookSettings`` from a Flask config mapping (``app.config.SETTINGS``)."""
    hosts = frozenset(h.strip().lower() for h in str(config.get("WEBHOOK_HTTP_HOSTS") or "").split(",") if h.strip())
    timeout = float(config.get("WEBHOOK_TIMEOUT", 10))
    claim_timeout = float(config.get("CLAIM_TIMEOUT", 300))
    return WebhookSettings(UrlPolicy(_flag(config.get("WEBHOOK_ALLOW_PRIVATE", "")), hosts), timeout,
                           int(config.get("DISPATCH_MAX_ATTEMPTS", 5)), float(config.get("DISPATCH_BACKOFF", 30)),
                           3600.0, claim_timeout, max(1, min(50, int(claim_timeout // (2 * max(timeout, 1))))))


@dataclass(frozen=True)
class Job:
    """A claimed delivery: ids, ``url``, the encrypted secret, the event's ``msg_id`` and ``payload``."""

    delivery_id: int
    msg_id: str
    url: str
    secret_enc: str
    payload: dict[str, Any]


def claim(session: Session, *, worker: str, limit: int, now: dt.datetime) -> list[Job]:
    """Claim up to ``limit`` due deliveries of active subscriptions and commit; oldest due first."""
    active = select(col(WebhookSubscription.id)).where(col(WebhookSubscription.active).is_(True))
    due = (select(col(WebhookDelivery.id)).where(col(WebhookDelivery.state).in_((QUEUED, FAILED_TEMPORARY)),
                                                 col(WebhookDelivery.next_attempt_at) <= now,
                                                 col(WebhookDelivery.subscription_id).in_(active))
           .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id)).limit(limit)
           .with_for_update(skip_locked=True, of=WebhookDelivery))
    ids = list(session.execute(due).scalars())
    if not ids:
        session.rollback()
        return []
    claimed = list(session.execute(
        update(WebhookDelivery).where(col(WebhookDelivery.id).in_(ids),
                                      col(WebhookDelivery.state).in_((QUEUED, FAILED_TEMPORARY)))
        .values(state=SENDING, claimed_by=worker, claimed_at=now, attempts=col(WebhookDelivery.attempts) + 1)
        .returning(col(WebhookDelivery.id))).scalars())
    rows = session.execute(
        select(col(WebhookDelivery.id), col(WebhookEvent.msg_id), col(WebhookSubscription.url),
               col(WebhookSubscription.secret_enc), col(WebhookEvent.payload))
        .join(WebhookEvent, col(WebhookEvent.id) == col(WebhookDelivery.event_id))
        .join(WebhookSubscription, col(WebhookSubscription.id) == col(WebhookDelivery.subscription_id))
        .where(col(WebhookDelivery.id).in_(claimed)).order_by(col(WebhookDelivery.id))).all() if claimed else []
    session.commit()
    return [Job(*row) for row in rows]


def record(session: Session, *, delivery_id: int, worker: str, result: sender.PostResult,
           settings: WebhookSettings, rng: random.Random, now: dt.datetime) -> str | None:
    """Record one attempt and move the delivery (only while ``worker`` holds the claim); commits.
    Returns the new state, or None when the claim had moved on (the attempt is still logged)."""
    session.add(WebhookAttempt(delivery_id=delivery_id, at=now, worker=worker, outcome=result.outcome,
                               status_code=result.status_code, error=result.error, duration_ms=result.duration_ms))
    row = session.execute(select(WebhookDelivery).where(col(WebhookDelivery.id) == delivery_id).with_for_update()
                          ).scalar_one()
    if row.state != SENDING or row.claimed_by != worker:
        session.commit()
        return None
    row.claimed_by, row.last_status, row.error = None, result.status_code, result.error
    if result.outcome == "delivered":
        row.state, row.finished_at = DELIVERED, now
    elif result.outcome == "permanent_failure" or row.attempts >= settings.max_attempts:
        row.state, row.finished_at = FAILED_PERMANENT, now
    else:
        row.state = FAILED_TEMPORARY
        row.next_attempt_at = now + dt.timedelta(seconds=backoff_seconds(
            row.attempts, base=settings.backoff_base, cap=settings.backoff_cap, retry_after=result.retry_after,
            rng=rng))
    session.add(row)
    state = str(row.state)
    session.commit()
    return state


def requeue_stale(session: Session, *, now: dt.datetime, claim_timeout: float) -> int:
    """Re-queue deliveries left in ``sending`` past ``claim_timeout`` seconds (their process died); commits."""
    cutoff = now - dt.timedelta(seconds=claim_timeout)
    stale = select(col(WebhookDelivery.id)).where(col(WebhookDelivery.state) == SENDING,
                                                  col(WebhookDelivery.claimed_at) < cutoff).limit(1)
    if session.execute(stale).first() is None:  # no write (and on SQLite no write lock) when nothing is stale
        session.rollback()
        return 0
    moved = list(session.execute(
        update(WebhookDelivery).where(col(WebhookDelivery.state) == SENDING, col(WebhookDelivery.claimed_at) < cutoff)
        .values(state=FAILED_TEMPORARY, next_attempt_at=now, claimed_by=None, error="claim expired")
        .returning(col(WebhookDelivery.id))).scalars())
    for delivery_id in moved:
        session.add(WebhookAttempt(delivery_id=delivery_id, at=now, outcome="claim_expired",
                                   error="the process stopped during the attempt"))
    session.commit()
    return len(moved)


def send_job(job: Job, *, cipher: FieldCipher, settings: WebhookSettings, now: dt.datetime) -> sender.PostResult:
    """Check the URL again, sign and post one claimed delivery (no database session is open here)."""
    try:
        target = check(job.url, policy=settings.policy)
    except InvalidInput as exc:
        return sender.PostResult("temporary_failure", None, exc.message, None, 0)
    body = sender.body_of(job.payload)
    secret = cipher.decrypt(job.secret_enc, context=CIPHER_CONTEXT)
    headers = sender.headers_for(secret=secret, msg_id=job.msg_id, at=now, body=body)
    return sender.post(target, body=body, headers=headers, timeout=settings.timeout)


@dataclass
class DeliverReport:
    """One pass: ``requeued`` stale claims and outcomes counted by state."""

    requeued: int = 0
    states: dict[str, int] = field(default_factory=dict)


def deliver_due(engine: Engine, *, clock: Clock, cipher: FieldCipher, settings: WebhookSettings, worker: str,
                rng: random.Random | None = None, passes: int = 1) -> DeliverReport:
    """Re-queue stale claims, then claim and send due deliveries, ``passes`` batches at most."""
    rng = rng or random.Random()
    report = DeliverReport()
    with db.session_scope(engine) as session:
        report.requeued = requeue_stale(session, now=clock.now(), claim_timeout=settings.claim_timeout)
    for _ in range(passes):
        with db.session_scope(engine) as session:
            jobs = claim(session, worker=worker, limit=settings.batch, now=clock.now())
        for job in jobs:
            result = send_job(job, cipher=cipher, settings=settings, now=clock.now())
            with db.session_scope(engine) as session:
                state = record(session, delivery_id=job.delivery_id, worker=worker, result=result, settings=settings,
                               rng=rng, now=clock.now())
            report.states[state or "moved_on"] = report.states.get(state or "moved_on", 0) + 1
            log.info("webhook delivery %s: %s (%s)", job.delivery_id, result.outcome, result.status_code)
        if not jobs:
            break
    return report
