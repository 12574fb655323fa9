"""Obligation records, the alerts fired for them, and the scheduler lease."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class ObligationStatus(StrEnum):
    """``due`` (open), ``overdue`` (open, past ``due_at``), ``met``, ``waived`` (privacy officer, with a
    reason), ``not_required`` (considered and not owed), ``superseded`` (no longer produced by the engine)."""

    due = "due"
    overdue = "overdue"
    met = "met"
    waived = "waived"
    not_required = "not_required"
    superseded = "superseded"


OPEN = (ObligationStatus.due.value, ObligationStatus.overdue.value)


class ObligationRecord(SQLModel, table=True):
    """One duty to notify one audience under one regime (``part`` names a separately timed part, such as
    the initial and follow-up phases of a GDPR Art. 33(4) report; ``""`` is the obligation itself)."""

    __tablename__ = "obligation"
    __table_args__ = (UniqueConstraint("incident_id", "regime", "audience", "part", name="uq_obligation_key"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    regime: str = Field(max_length=40)
    audience: str = Field(max_length=40)
    part: str = Field(default="", max_length=80)
    required: bool
    recipient: str = Field(sa_type=Text)  # a media recipient names every jurisdiction over its threshold
    due_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    reasons: list[str] = Field(default_factory=list, sa_type=JSON)
    citations: list[str] = Field(default_factory=list, sa_type=JSON)
    status: str = Field(max_length=20, index=True)
    computed_at: dt.datetime = Field(sa_type=UTCDateTime)
    closed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: str | None = Field(default=None, max_length=200)
    close_reason: str | None = Field(default=None, sa_type=Text)


class ObligationAlert(SQLModel, table=True):
    """A reminder or escalation that was fired for one deadline; the unique key (obligation, kind, due_at)
    makes firing idempotent across restarts, and a deadline that moves (``due_at`` recomputed) is reminded
    and escalated again, once."""

    __tablename__ = "obligation_alert"
    __table_args__ = (UniqueConstraint("obligation_id", "kind", "due_at", name="uq_obligation_alert"),)

    id: int | None = Field(default=None, primary_key=True)
    obligation_id: int = Field(foreign_key="obligation.id", index=True)
    kind: str = Field(max_length=40)  # "reminder:<seconds before due>" or "overdue"
    due_at: dt.datetime = Field(sa_type=UTCDateTime)
    scheduled_for: dt.datetime = Field(sa_type=UTCDateTime)
    fired_at: dt.datetime = Field(sa_type=UTCDateTime)


class EscalationEmail(SQLModel, table=True):
    """One email to one privacy officer about one escalation (``BREACH_NOTIFY_ESCALATION_EMAIL``).

    Written in the escalation's transaction as ``pending``; the sender claims it (``sending``) before the
    SMTP call and records ``sent`` or ``failed`` after it, so a restart never sends it twice. ``user_id``
    points at the staff account; the address is read when sending, never stored here.
    """

    __tablename__ = "escalation_email"
    __table_args__ = (UniqueConstraint("alert_id", "user_id", name="uq_escalation_email"),)

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="obligation_alert.id", index=True)
    user_id: int = Field(foreign_key="user_account.id")
    state: str = Field(max_length=20, index=True)  # pending, sending, sent, failed
    attempts: int = 0
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    claimed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    provider_id: str | None = Field(default=None, max_length=200)
    error_code: str | None = Field(default=None, max_length=40)


class SchedulerLease(SQLModel, table=True):
    """Who runs the periodic sweeps. One row per lease name; a live lease keeps other schedulers out."""

    __tablename__ = "scheduler_lease"

    name: str = Field(primary_key=True, max_length=40)
    holder: str = Field(max_length=200)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime)


class IncidentAssessment(SQLModel, table=True):
    """The last decision document (``assess`` contract shape) per incident, with the advisory ENISA severity."""

    __tablename__ = "incident_assessment"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", unique=True)
    computed_at: dt.datetime = Field(sa_type=UTCDateTime)
    document: dict[str, Any] = Field(sa_type=JSON)
