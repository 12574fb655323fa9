"""Audit event table: one row per state change, chained by SHA-256."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class AuditEvent(SQLModel, table=True):
    """One state change. ``hash`` = SHA-256 of the canonical JSON of every other field, ``prev_hash``
    included, so altering, removing or reordering any event breaks the chain from there on.

    ``before`` and ``after`` hold canonical JSON summaries and never carry data subjects' contact data.
    """

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(unique=True, index=True)
    at: dt.datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=200)
    incident_id: int | None = Field(default=None, index=True)
    action: str = Field(max_length=100)
    entity: str = Field(max_length=50)
    entity_id: str = Field(max_length=100)
    before: str = Field(default="null", sa_type=Text)
    after: str = Field(default="null", sa_type=Text)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
