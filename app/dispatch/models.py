"""Dispatch tables: runs, the outbox of deliveries, every attempt, the sandbox outbox viewer and the
substitute-notice pool.

Delivery states (see ``docs/dispatch.md``)::

    queued -> sending -> sent -> delivered            (sent: accepted, waiting for a receipt: SMS)
                      -> delivered                    (email/push: accepted = delivered)
                      -> failed_temporary -> sending  (retry at next_attempt_at, exponential backoff)
                      -> failed_permanent             (the person moves to the next channel)
    queued/failed_temporary -> skipped                (run cancelled)
    skipped -> queued                                 (a later run takes over a person never reached)

``delivered``, ``failed_permanent`` and ``skipped`` are terminal within a run. One row per (notice version, subject,
channel), unique in the database and written before any provider call.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime

QUEUED, SENDING, SENT, DELIVERED = "queued", "sending", "sent", "delivered"
FAILED_TEMPORARY, FAILED_PERMANENT, SKIPPED = "failed_temporary", "failed_permanent", "skipped"
STATES = (QUEUED, SENDING, SENT, DELIVERED, FAILED_TEMPORARY, FAILED_PERMANENT, SKIPPED)
TERMINAL = (DELIVERED, FAILED_PERMANENT, SKIPPED)
OPEN = (QUEUED, SENDING, SENT, FAILED_TEMPORARY)
RUN_STATES = ("running", "paused", "cancelled", "done")


class DispatchRun(SQLModel, table=True):
    """One dispatch of an incident's approved individual notices.

    ``channel_order``: e.g. ``["email", "sms", "push", "letter"]``; ``versions``: ``{channel: {locale:
    notice_version_id}}`` fixed at start; ``plan``: the plan shown before the start (``plan.Plan.as_dict``).
    """

    __tablename__ = "dispatch_run"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    state: str = Field(max_length=12, index=True)
    regime: str = Field(max_length=40)
    channel_order: list[str] = Field(sa_type=JSON)
    versions: dict[str, Any] = Field(sa_type=JSON)
    plan: dict[str, Any] = Field(sa_type=JSON)
    created_by: str = Field(max_length=200)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(sa_type=UTCDateTime)
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class Delivery(SQLModel, table=True):
    """One notice to one person over one channel (see the module docstring for the states).

    ``identifier_id`` is the contact used; ``reason`` explains why this delivery exists (first channel or the
    fallback that led here); ``claimed_by``/``claimed_at`` name the worker holding it in ``sending``;
    ``awaits_receipt`` is set when the channel reports delivery later (Twilio callbacks).
    """

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("notice_version_id", "subject_id", "channel", name="uq_delivery_version_subject_channel"),
        Index("ix_delivery_claim", "state", "next_attempt_at"),
        Index("ix_delivery_run_state", "run_id", "channel", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="dispatch_run.id")
    notice_version_id: int = Field(foreign_key="notice_version.id")
    subject_id: int = Field(foreign_key="data_subject.id", index=True)
    channel: str = Field(max_length=12)
    identifier_id: int | None = Field(default=None, foreign_key="subject_identifier.id")
    state: str = Field(max_length=20)
    reason: str = Field(default="", sa_type=Text)
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, max_length=120)
    claimed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    awaits_receipt: bool = False
    provider_id: str | None = Field(default=None, max_length=200, index=True)
    provider_status: str | None = Field(default=None, max_length=60)
    error: str | None = Field(default=None, sa_type=Text)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeliveryAttempt(SQLModel, table=True):
    """One provider call or receipt for a delivery: ``outcome`` is ``accepted``, ``temporary_failure``,
    ``permanent_failure``, ``receipt:<state>``, ``claim_expired``, ``receipt_timeout`` or ``requeued`` (a later
    run took the delivery over from a cancelled run). No contact data."""

    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="delivery.id", index=True)
    at: dt.datetime = Field(sa_type=UTCDateTime)
    worker: str | None = Field(default=None, max_length=120)
    outcome: str = Field(max_length=40)
    provider_id: str | None = Field(default=None, max_length=200)
    provider_status: str | None = Field(default=None, max_length=60)
    error_code: str | None = Field(default=None, max_length=60)
    error_message: str | None = Field(default=None, sa_type=Text)


class SandboxMessage(SQLModel, table=True):
    """What the sandbox channel "sent" (the embedded default's stand-in for the world): ``content_enc`` is the
    full message (email RFC 5322 bytes, SMS text, push payload) and ``recipient_enc`` the address, both
    encrypted with the data cipher."""

    __tablename__ = "sandbox_message"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int | None = Field(default=None, index=True)
    channel: str = Field(max_length=12)
    provider_id: str = Field(max_length=80)
    subject_line: str = Field(default="", max_length=500)
    recipient_enc: str = Field(sa_type=Text)
    content_enc: str = Field(sa_type=Text)
    recorded_at: dt.datetime = Field(sa_type=UTCDateTime)


class SubstitutePoolEntry(SQLModel, table=True):
    """A person of a run whom no channel reached: ``kind`` is ``unreachable`` (no usable contact on any
    channel of the chain) or ``exhausted`` (every channel failed); ``reason`` explains each step. Issue 7
    publishes the substitute notice for these people."""

    __tablename__ = "substitute_pool"
    __table_args__ = (UniqueConstraint("run_id", "subject_id", name="uq_substitute_pool_run_subject"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="dispatch_run.id", index=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    subject_id: int = Field(foreign_key="data_subject.id")
    kind: str = Field(max_length=20)
    reason: str = Field(sa_type=Text)
    added_at: dt.datetime = Field(sa_type=UTCDateTime)
