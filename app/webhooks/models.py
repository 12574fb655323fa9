"""Webhook tables: subscriptions, events, the outbox of deliveries (one row per subscription and event) and
every attempt (the delivery log).

Delivery states: ``queued -> sending -> delivered`` / ``failed_temporary -> sending ...`` / ``failed_permanent``
(after ``DISPATCH_MAX_ATTEMPTS`` or a permanent refusal). ``delivered`` and ``failed_permanent`` are terminal.
Payloads carry ids and counts, never contact data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class WebhookSubscription(SQLModel, table=True):
    """A receiver: ``url`` (validated), ``secret_enc`` (the ``whsec_...`` secret encrypted with the data
    cipher), ``events`` (event type names), ``active``."""

    __tablename__ = "webhook_subscription"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_type=Text)
    secret_enc: str = Field(sa_type=Text)
    events: list[str] = Field(sa_type=JSON)
    description: str = Field(default="", max_length=300)
    active: bool = True
    created_by: str = Field(max_length=200)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(sa_type=UTCDateTime)


class WebhookEvent(SQLModel, table=True):
    """One event: ``msg_id`` (the ``webhook-id`` header, ``msg_...``), ``type``, ``ref`` (e.g.
    ``dispatch_run:4``), ``payload`` (the signed JSON body: ``type``, ``timestamp``, ``data``)."""

    __tablename__ = "webhook_event"

    id: int | None = Field(default=None, primary_key=True)
    msg_id: str = Field(max_length=40, unique=True)
    type: str = Field(max_length=40)
    ref: str = Field(default="", max_length=60, index=True)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    payload: dict[str, Any] = Field(sa_type=JSON)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    """The outbox: one event to one subscription (unique), written in the event's transaction."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_delivery_subscription_event"),
        Index("ix_webhook_delivery_claim", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="webhook_subscription.id", index=True)
    event_id: int = Field(foreign_key="webhook_event.id")
    state: str = Field(max_length=20)
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, max_length=120)
    claimed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status: int | None = None
    error: str | None = Field(default=None, sa_type=Text)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookAttempt(SQLModel, table=True):
    """One HTTP attempt (or a claim expiry): ``outcome`` ``delivered`` / ``temporary_failure`` /
    ``permanent_failure`` / ``claim_expired``, the HTTP ``status_code``, ``error``, ``duration_ms``."""

    __tablename__ = "webhook_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_delivery.id", index=True)
    at: dt.datetime = Field(sa_type=UTCDateTime)
    worker: str | None = Field(default=None, max_length=120)
    outcome: str = Field(max_length=30)
    status_code: int | None = None
    error: str | None = Field(default=None, sa_type=Text)
    duration_ms: int | None = None
