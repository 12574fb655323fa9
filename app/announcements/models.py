"""Public notices (substitute notice / public communication) and the substitute-notice decision record."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class SubstituteDecision(SQLModel, table=True):
    """The latest substitute-notice decision per incident (inputs, per-regime verdicts and reasons)."""

    __tablename__ = "substitute_decision"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", unique=True)
    decided_at: dt.datetime = Field(sa_type=UTCDateTime)
    document: dict[str, Any] = Field(sa_type=JSON)


class PublicNotice(SQLModel, table=True):
    """A public notice page ``/notices/<slug>``: published from approved ``announcement`` notice versions
    (one per language), with its posting period and how many people it stands in for (counts, never names).

    ``state``: ``published`` or ``withdrawn``. ``versions``: ``{locale: notice_version_id}``.
    ``toll_free_phone``: the organisation's toll-free number the notice gives (HIPAA substitute notice for 10
    or more: active at least 90 days, 45 CFR 164.404(d)(2)(ii)(B)) and ``toll_free_ends_at`` the end of that
    period (None when no rule asks for one). ``reminded_at`` / ``period_ended_at``: when the sweep reminded
    that the period is ending and recorded that it ended (each once).
    """

    __tablename__ = "public_notice"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    slug: str = Field(max_length=120, unique=True, index=True)
    title: str = Field(max_length=300)
    state: str = Field(max_length=20, index=True)
    versions: dict[str, int] = Field(sa_type=JSON)
    default_locale: str = Field(max_length=35)
    stands_for: int = 0
    regimes: list[str] = Field(default_factory=list, sa_type=JSON)
    posting_days: int = 0
    published_at: dt.datetime = Field(sa_type=UTCDateTime)
    ends_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    reminded_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    period_ended_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    toll_free_phone: str | None = Field(default=None, max_length=40)
    toll_free_ends_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawn_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawn_reason: str | None = Field(default=None, max_length=500)
    published_by: str = Field(max_length=200)
