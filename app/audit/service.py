"""Writing and verifying the audit chain.

``record`` adds an event to the caller's session without committing, so the event lands in the same
transaction as the state change it describes; ``verify`` walks the whole chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from app.audit.models import AuditEvent
from app.clock import Clock

GENESIS = "0" * 64


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept, datetimes as ISO 8601."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(event: AuditEvent) -> str:
    """SHA-256 (hex) over the canonical JSON of the event's fields except ``id`` and ``hash``."""
    body = {
        "seq": event.seq,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "incident_id": event.incident_id,
        "action": event.action,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "before": event.before,
        "after": event.after,
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def _lock_chain(session: Session) -> None:
    """Serialise chain appends: PostgreSQL transaction advisory lock (SQLite has one writer anyway)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7733001)"))


def record(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int,
    incident_id: int | None = None,
    before: Any = None,
    after: Any = None,
) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction (the caller commits).

    ``before``/``after`` are JSON-able summaries without contact data. Returns the flushed event.
    """
    _lock_chain(session)
    last = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq).desc()).limit(1)).first()
    event = AuditEvent(
        seq=(last.seq + 1) if last else 1,
        at=clock.now(),
        actor=actor,
        incident_id=incident_id,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        before=canonical(before),
        after=canonical(after),
        prev_hash=last.hash if last else GENESIS,
        hash="",
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    """Result of :func:`verify`: ``ok``, events checked, and the first broken event with the reason."""

    ok: bool
    checked: int
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str | None = None


def _events(session: Session, batch: int = 1000) -> Iterator[AuditEvent]:
    after = 0
    while True:
        rows = session.exec(
            select(AuditEvent).where(AuditEvent.seq > after).order_by(col(AuditEvent.seq)).limit(batch)
            .execution_options(populate_existing=True)  # read what is stored, not what the session cached
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq


def verify(session: Session) -> ChainReport:
    """Walk the chain in ``seq`` order; report the first event whose sequence, link or hash is wrong."""
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    for event in _events(session):
        reason = None
        if event.seq != expected_seq:
            reason = f"sequence gap: expected {expected_seq}, found {event.seq} (an event was removed)"
        elif event.prev_hash != prev_hash:
            reason = "prev_hash does not match the previous event's hash"
        elif event_hash(event) != event.hash:
            reason = "content does not match its hash (the event was altered)"
        if reason:
            return ChainReport(False, checked, event.seq, event.id, reason)
        prev_hash, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
    return ChainReport(True, checked)


def for_incident(session: Session, incident_id: int) -> list[AuditEvent]:
    """The incident's audit events, oldest first."""
    return list(
        session.exec(
            select(AuditEvent).where(AuditEvent.incident_id == incident_id).order_by(col(AuditEvent.seq))
        ).all()
    )
