"""Notice tables: the per-incident facts and the notice versions with their approval state.

A ``NoticeVersion`` is one drafted notice for ``(incident, audience, regime, channel, locale)``, numbered
1, 2, ... per key. It keeps, as evidence, the facts snapshot it was drafted from, the exact template
sources (and their SHA-256), the text rendered for a sample recipient and the check results.

States: ``draft -> submitted -> approved``; any of them -> ``superseded``. Drafting a new number
supersedes the key's older drafts and submissions; approving a version supersedes the key's previously
approved one. So a key has at most one ``approved`` version, and that one is the *current approved*
version the sender uses (``service.current_approved``). Superseded versions stay as evidence.

An approved version is locked: ``_guard_locked`` refuses any ORM update of it other than becoming
``superseded``.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, UniqueConstraint, event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper
from sqlmodel import Field, SQLModel

from app.approval import FourEyes
from app.db import UTCDateTime


class NoticeState(StrEnum):
    """Where a notice version stands in approval."""

    draft = "draft"
    submitted = "submitted"
    approved = "approved"
    superseded = "superseded"


LIVE = (NoticeState.draft.value, NoticeState.submitted.value, NoticeState.approved.value)


class NoticeFacts(SQLModel, table=True):
    """The free-text facts of an incident's notices (``facts``: ``app.notices.context.IncidentFacts`` as
    JSON), the email sender and reply-to, and ``version`` (1, 2, ... per save)."""

    __tablename__ = "notice_facts"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", unique=True)
    facts: dict[str, Any] = Field(sa_type=JSON)
    default_locale: str = Field(max_length=35)
    sender_name: str = Field(max_length=200)
    sender_address: str = Field(max_length=320)
    reply_to: str | None = Field(default=None, max_length=320)
    version: int = 1
    updated_at: dt.datetime = Field(sa_type=UTCDateTime)
    updated_by: str = Field(max_length=200)


class NoticeVersion(FourEyes, table=True):
    """One drafted notice (see the module docstring).

    ``templates``: ``{part: {"name": "default/en/sms.txt.j2", "sha256": hex, "source": text}}``;
    ``rendered``: ``{part: text}`` for the sample recipient; ``checks``: the ``service.check_summary``
    shape (missing elements, forbidden hits, problems, readability, SMS fit, ``ok``).
    """

    __tablename__ = "notice_version"
    __table_args__ = (UniqueConstraint("incident_id", "audience", "regime", "channel", "locale", "number",
                                       name="uq_notice_version_key"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    audience: str = Field(max_length=40)
    regime: str = Field(max_length=40)
    channel: str = Field(max_length=20)
    locale: str = Field(max_length=35)
    number: int
    template_regime: str = Field(max_length=64)
    template_locale: str = Field(max_length=35)
    facts_version: int
    facts_snapshot: dict[str, Any] = Field(sa_type=JSON)
    templates: dict[str, Any] = Field(sa_type=JSON)
    rendered: dict[str, str] = Field(sa_type=JSON)
    rendered_sha256: str = Field(max_length=64)
    content_sha256: str = Field(max_length=64)
    checks: dict[str, Any] = Field(sa_type=JSON)

    @property
    def key(self) -> tuple[int, str, str, str, str]:
        """``(incident_id, audience, regime, channel, locale)``."""
        return self.incident_id, self.audience, self.regime, self.channel, self.locale

    @property
    def label(self) -> str:
        """Short name for timelines: ``us-ca/individuals email en v2``."""
        return f"{self.regime}/{self.audience} {self.channel} {self.locale} v{self.number}"


class LockedNoticeError(RuntimeError):
    """An approved notice version was about to be changed (a programming error, never user input)."""


_UNLOCKING = frozenset({"state", "superseded_at"})


@event.listens_for(NoticeVersion, "before_update")
def _guard_locked(_mapper: Mapper[Any], _connection: Connection, target: NoticeVersion) -> None:
    """Refuse an update of an approved version except ``approved -> superseded``."""
    state = inspect(target)
    was = state.attrs.state.history.deleted
    if (was[0] if was else target.state) != NoticeState.approved.value:
        return
    changed = {a.key for a in state.attrs if a.history.has_changes()}
    if changed - _UNLOCKING or target.state not in (NoticeState.approved.value, NoticeState.superseded.value):
        raise LockedNoticeError(f"notice version {target.id} is approved and locked")
