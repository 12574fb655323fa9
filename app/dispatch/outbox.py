"""The outbox: creating deliveries (first channel and fallbacks) and claiming them for a worker.

Claiming is the only way to ``sending``: one short transaction selects due rows (``queued``, or
``failed_temporary`` whose ``next_attempt_at`` has come) of running runs, on PostgreSQL with
``FOR UPDATE SKIP LOCKED`` so concurrent workers never see the same row, flips them to ``sending`` with
``claimed_by``/``claimed_at`` and commits *before* any provider call. The UPDATE repeats the state
condition and returns only the rows it changed, so even without row locks (SQLite) a row is claimed once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlmodel import Session, col

from app.dispatch.chain import Exhausted, Person, Step, next_step, people
from app.dispatch.models import (
    FAILED_TEMPORARY,
    QUEUED,
    SENDING,
    SKIPPED,
    Delivery,
    DeliveryAttempt,
    DispatchRun,
    SubstitutePoolEntry,
)
from app.ops.metrics import FALLBACKS
from app.subjects.models import DataSubject, SubjectIdentifier


@dataclass(frozen=True)
class Job:
    """A claimed delivery with what rendering needs (contact data still encrypted): ids, ``channel``,
    ``attempts`` (including this one), the subject's ``name_enc``/``language``, the ``contact_enc`` and the
    subject's ``jurisdiction`` (``US-CA``; voice quiet hours)."""

    delivery_id: int
    run_id: int
    version_id: int
    channel: str
    attempts: int
    name_enc: str | None
    language: str | None
    contact_enc: str | None
    jurisdiction: str | None = None


def delivery_row(run: DispatchRun, step: Step, subject_id: int, now: dt.datetime) -> dict[str, Any]:
    """Column values of a new ``queued`` delivery for ``step``."""
    return {"run_id": run.id, "notice_version_id": step.version_id, "subject_id": subject_id,
            "channel": step.channel, "identifier_id": step.identifier_id, "state": QUEUED, "reason": step.reason,
            "attempts": 0, "next_attempt_at": now, "created_at": now, "awaits_receipt": False}


def pool_row(run: DispatchRun, end: Exhausted, subject_id: int, now: dt.datetime) -> dict[str, Any]:
    """Column values of a substitute-pool entry."""
    return {"run_id": run.id, "incident_id": run.incident_id, "subject_id": subject_id, "kind": end.kind,
            "reason": end.reason, "added_at": now}


def first_steps(run: DispatchRun, persons: Sequence[Person], *, senders: Sequence[str],
                default_locale: str) -> list[tuple[int, Step | Exhausted]]:
    """Each person's first step of ``run``'s chain."""
    return [(p.subject_id, next_step(p, order=run.channel_order, after=None, versions=run.versions,
                                     senders=senders, default_locale=default_locale)) for p in persons]


def place(session: Session, run: DispatchRun, rows: Sequence[dict[str, Any]], now: dt.datetime) -> int:
    """Write the new ``queued`` deliveries ``rows`` (``delivery_row`` values) of ``run``; returns how many were
    re-queued rather than inserted.

    A (notice version, subject, channel) that a cancelled run left ``skipped`` cannot be inserted again (the
    unique key): that row moves to ``run`` instead, ``queued`` and due ``now`` with the claim, provider and
    outcome fields cleared and its attempt count restarted; its attempt rows stay and a ``requeued`` attempt
    row names both runs. One SELECT, one INSERT and one executemany UPDATE for all ``rows``.
    """
    if not rows:
        return 0
    subjects = sorted({row["subject_id"] for row in rows})
    found = {(v, s, c): (i, r) for i, r, v, s, c in session.execute(
        select(col(Delivery.id), col(Delivery.run_id), col(Delivery.notice_version_id), col(Delivery.subject_id),
               col(Delivery.channel))
        .where(col(Delivery.subject_id).in_(subjects), col(Delivery.state) == SKIPPED, col(Delivery.run_id) != run.id))}
    fresh, moved, notes = [], [], []
    for row in rows:
        hit = found.get((row["notice_version_id"], row["subject_id"], row["channel"]))
        if hit is None:
            fresh.append(row)
            continue
        note = f"re-queued by run {run.id} after run {hit[1]} was cancelled"
        moved.append({**dict.fromkeys(_CLEARED), "id": hit[0], "run_id": run.id, "state": QUEUED,
                      "identifier_id": row["identifier_id"], "reason": f"{row['reason']}; {note}", "attempts": 0,
                      "next_attempt_at": now, "awaits_receipt": False})
        notes.append({"delivery_id": hit[0], "at": now, "outcome": "requeued", "error_message": note})
    if fresh:
        session.execute(insert(Delivery), fresh)
    if moved:
        session.execute(update(Delivery), moved)  # ORM bulk UPDATE by primary key
        session.execute(insert(DeliveryAttempt), notes)
    return len(moved)


_CLEARED = ("claimed_by", "claimed_at", "provider_id", "provider_status", "error", "sent_at", "delivered_at",
            "finished_at")


def insert_first(session: Session, run: DispatchRun, subject_ids: Sequence[int], *, senders: Sequence[str],
                 default_locale: str, now: dt.datetime) -> tuple[int, int, int]:
    """Create the first deliveries (and pool entries) of ``subject_ids`` (``place``); returns (deliveries,
    pooled, re-queued: those of the deliveries taken over from a cancelled run)."""
    steps = first_steps(run, people(session, subject_ids), senders=senders, default_locale=default_locale)
    rows = [delivery_row(run, s, sid, now) for sid, s in steps if isinstance(s, Step)]
    pooled = [pool_row(run, s, sid, now) for sid, s in steps if isinstance(s, Exhausted)]
    requeued = place(session, run, rows, now)
    if pooled:
        session.execute(insert(SubstitutePoolEntry), pooled)
    return len(rows), len(pooled), requeued


def advance(session: Session, delivery: Delivery, *, why: str, senders: Sequence[str], now: dt.datetime) -> str:
    """Move the delivery's person to the next channel after ``delivery.channel`` (in the caller's transaction).

    Creates the next ``queued`` delivery, or a substitute-pool entry when the chain is exhausted. Returns the
    channel chosen or ``"substitute"``.
    """
    run = session.get(DispatchRun, delivery.run_id)
    assert run is not None
    tried = set(session.execute(select(col(Delivery.channel)).where(
        col(Delivery.run_id) == run.id, col(Delivery.subject_id) == delivery.subject_id)).scalars())
    person = people(session, [delivery.subject_id])[0]
    step = next_step(person, order=run.channel_order, after=delivery.channel, versions=run.versions,
                     senders=senders, default_locale=str(run.plan.get("default_locale", "en")), tried=tried,
                     why=why)
    if isinstance(step, Step):
        place(session, run, [delivery_row(run, step, delivery.subject_id, now)], now)
        FALLBACKS.labels(delivery.channel, step.channel).inc()
        return step.channel
    exists = session.execute(select(col(SubstitutePoolEntry.id)).where(
        col(SubstitutePoolEntry.run_id) == run.id, col(SubstitutePoolEntry.subject_id) == delivery.subject_id)).first()
    if exists is None:
        session.execute(insert(SubstitutePoolEntry), [pool_row(run, step, delivery.subject_id, now)])
    FALLBACKS.labels(delivery.channel, "substitute").inc()
    return "substitute"


def claim(session: Session, *, worker: str, channel: str, limit: int, now: dt.datetime,
          incident_id: int | None = None) -> list[Job]:
    """Claim up to ``limit`` due deliveries of ``channel`` for ``worker`` and commit (see the module docstring);
    only of ``incident_id``'s runs when given (letter batches are made per incident).

    Returns the claimed jobs, oldest due first; an empty list when nothing is due.
    """
    running = select(col(DispatchRun.id)).where(col(DispatchRun.state) == "running")
    if incident_id is not None:
        running = running.where(col(DispatchRun.incident_id) == incident_id)
    due = (select(col(Delivery.id)).where(col(Delivery.channel) == channel,
                                          col(Delivery.state).in_((QUEUED, FAILED_TEMPORARY)),
                                          col(Delivery.next_attempt_at) <= now, col(Delivery.run_id).in_(running))
           .order_by(col(Delivery.next_attempt_at), col(Delivery.id)).limit(limit)
           .with_for_update(skip_locked=True, of=Delivery))
    ids = list(session.execute(due).scalars())
    if not ids:
        session.rollback()
        return []
    claimed = [int(i or 0) for i in session.connection().execute(
        update(Delivery).where(col(Delivery.id).in_(ids), col(Delivery.state).in_((QUEUED, FAILED_TEMPORARY)))
        .values(state=SENDING, claimed_by=worker, claimed_at=now, attempts=col(Delivery.attempts) + 1)
        .returning(col(Delivery.id))).scalars()]
    jobs = jobs_for(session, claimed)
    session.commit()
    return jobs


def jobs_for(session: Session, ids: Sequence[int]) -> list[Job]:
    """The ``Job`` of each delivery id (any state), in id order; for rendering outside a claim (voice calls
    render again when Twilio asks for the TwiML; ``bench/pipeline.py`` times rendering with it)."""
    if not ids:
        return []
    rows = session.execute(
        select(col(Delivery.id), col(Delivery.run_id), col(Delivery.notice_version_id), col(Delivery.channel),
               col(Delivery.attempts), col(DataSubject.full_name_enc), col(DataSubject.preferred_language),
               col(SubjectIdentifier.value_enc), col(DataSubject.jurisdiction))
        .join(DataSubject, col(DataSubject.id) == col(Delivery.subject_id))
        .outerjoin(SubjectIdentifier, col(SubjectIdentifier.id) == col(Delivery.identifier_id))
        .where(col(Delivery.id).in_(ids)).order_by(col(Delivery.id))).all()
    return [Job(*row) for row in rows]


def versions_by_id(run_versions: Mapping[str, Mapping[str, int]]) -> set[int]:
    """Every notice version id a run may send."""
    return {v for by_locale in run_versions.values() for v in by_locale.values()}
