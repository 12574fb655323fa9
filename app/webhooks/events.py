"""Emitting webhook events inside the caller's transaction (no commit).

``emit`` writes one ``webhook_event`` and one ``queued`` ``webhook_delivery`` per active subscription to the
event type, so the event exists exactly when the state change it describes commits. Without a subscriber
nothing is written. ``data`` must hold ids, states, counts and times only, never contact data, names or
notice text (``check_data`` refuses string values that look like an email address or a phone number).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from typing import Any, get_args

from sqlalchemy import insert
from sqlmodel import Session, col, select

from app.clock import Clock
from app.webhooks.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from app.webhooks.schema import EventType

EVENT_TYPES: tuple[str, ...] = get_args(EventType)
QUEUED = "queued"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?[\d ()./-]{7,}")


def check_data(data: Mapping[str, Any], path: str = "data") -> None:
    """Raise ``ValueError`` naming the path when a string value looks like an email address or phone number
    (a programming error: payloads carry ids and counts)."""
    for key, value in data.items():
        if isinstance(value, Mapping):
            check_data(value, f"{path}.{key}")
        elif isinstance(value, str) and (_EMAIL.search(value) or (_PHONE.fullmatch(value) and not _is_time(value))):
            raise ValueError(f"webhook payload {path}.{key} looks like contact data")


def _is_time(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def subscribers(session: Session, event_type: str) -> list[int]:
    """Ids of active subscriptions to ``event_type``."""
    rows = session.exec(select(WebhookSubscription).where(col(WebhookSubscription.active).is_(True))).all()
    return [s.id or 0 for s in rows if event_type in s.events]


def emit(session: Session, *, clock: Clock, event_type: str, data: Mapping[str, Any], incident_id: int | None = None,
         ref: str = "") -> WebhookEvent | None:
    """Record ``event_type`` with ``data`` and queue it for every subscriber (caller's transaction, flushed).

    Returns the event, or None when nobody subscribes. The body sent is ``{"type", "timestamp", "data"}``
    (Standard Webhooks). Raises ``ValueError`` for an unknown type or contact-like data.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    check_data(data)
    targets = subscribers(session, event_type)
    if not targets:
        return None
    now = clock.now()
    event = WebhookEvent(msg_id=f"msg_{uuid.uuid4().hex}", type=event_type, ref=ref, incident_id=incident_id,
                         payload={"type": event_type, "timestamp": now.isoformat(), "data": dict(data)},
                         created_at=now)
    session.add(event)
    session.flush()
    session.execute(insert(WebhookDelivery), [
        {"subscription_id": sid, "event_id": event.id, "state": QUEUED, "attempts": 0, "next_attempt_at": now,
         "created_at": now} for sid in targets])
    return event


def last_data(session: Session, *, event_type: str, ref: str) -> dict[str, Any] | None:
    """The ``data`` of the newest ``event_type`` event about ``ref``, or None."""
    event = session.exec(select(WebhookEvent).where(WebhookEvent.type == event_type, WebhookEvent.ref == ref)
                         .order_by(col(WebhookEvent.id).desc())).first()
    return dict(event.payload.get("data", {})) if event is not None else None
