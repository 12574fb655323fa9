"""Four eyes, shared by notice versions and regulator reports: the record's drafted/submitted/approved
columns, and the two rules of the workflow (only a draft is submitted; only a submitted record is approved,
by someone other than its drafter and submitter)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from app.db import UTCDateTime
from app.errors import Conflict, Forbidden


class FourEyes(SQLModel):
    """Columns of a record that is drafted, submitted and approved by two different people (UTC times)."""

    state: str = Field(max_length=20, index=True)
    drafted_by: str = Field(max_length=200)
    drafted_at: dt.datetime = Field(sa_type=UTCDateTime)
    submitted_by: str | None = Field(default=None, max_length=200)
    submitted_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    approved_by: str | None = Field(default=None, max_length=200)
    approved_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    superseded_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


def submit(record: FourEyes, *, name: str, actor: str, now: dt.datetime) -> None:
    """Move a draft to ``submitted`` by ``actor``. ``name`` names the record in errors (``report 3``).

    Raises ``Conflict`` unless the record is a draft.
    """
    if record.state != "draft":
        raise Conflict(f"{name} is {record.state}; only a draft can be submitted")
    record.state, record.submitted_by, record.submitted_at = "submitted", actor, now


def check_approver(record: FourEyes, *, name: str, noun: str, actor: str, refusal: str) -> None:
    """Refuse an approval that breaks the workflow: ``Conflict`` unless the record is submitted (``only a
    submitted {noun} can be approved``), ``Forbidden`` with ``refusal`` when ``actor`` drafted or submitted it."""
    if record.state != "submitted":
        raise Conflict(f"{name} is {record.state}; only a submitted {noun} can be approved")
    if is_own(record, actor):
        raise Forbidden(refusal)


def is_own(record: FourEyes, actor: str) -> bool:
    """True when ``actor`` drafted or submitted ``record``: four eyes, so they may not approve it (the pages
    then show who may instead of a button that would be refused)."""
    return actor in (record.drafted_by, record.submitted_by)
