"""Incident and timeline tables.

The whole validated incident file is kept in ``document`` (JSON) so the contract's fields round-trip
exactly; the columns beside it are copies for listing, sorting and filtering.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class Incident(SQLModel, table=True):
    """A personal data breach being handled. ``aware_at`` (UTC) starts most legal clocks."""

    __tablename__ = "incident"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=300)
    status: str = Field(max_length=30, index=True)
    aware_at: dt.datetime = Field(sa_type=UTCDateTime, index=True)
    occurred_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    controller_name: str = Field(max_length=300)
    cause: str = Field(max_length=40)
    subjects_count: int = 0
    document: dict[str, Any] = Field(sa_type=JSON)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=200)
    version: int = 1


class TimelineEntry(SQLModel, table=True):
    """One line of an incident's story: creation, edits, status changes, notes, and later issues' steps."""

    __tablename__ = "timeline_entry"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    at: dt.datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=200)
    kind: str = Field(max_length=40)
    text: str = Field(sa_type=Text)
