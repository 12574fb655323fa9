"""Report tables: regulator report versions, export bundles and regulator grants.

A ``RegulatorReport`` is one version of one regulator report for ``(incident, regime)``, numbered 1, 2, ...
States: ``draft -> submitted -> approved``; a draft or submitted version becomes ``superseded`` when a newer
number is drafted. Every approved version stays approved: it is what was (or will be) filed for its phase
(``initial``, ``follow_up``, ``final``). An approved version is locked (``_guard_locked``).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Text, UniqueConstraint, event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper
from sqlmodel import Field, SQLModel

from app.approval import FourEyes
from app.db import UTCDateTime


class ReportState(StrEnum):
    """Where a report version stands in approval."""

    draft = "draft"
    submitted = "submitted"
    approved = "approved"
    superseded = "superseded"


class Phase(StrEnum):
    """Phased reporting (GDPR Art. 33(4); HHS addendum; CAC summary report)."""

    initial = "initial"
    follow_up = "follow_up"
    final = "final"


class RegulatorReport(FourEyes, table=True):
    """One report version. ``content``: the report type's content model as JSON (``app.reports.regimes``);
    ``extras``: the regime extras as given (before defaults); ``diff``: changes from the previous number
    (``app.reports.content.diff`` shape); ``due_at``: copied from the regime's regulator obligation (initial
    phase only); ``reason_for_delay``: required when drafted or approved after ``due_at``."""

    __tablename__ = "regulator_report"
    __table_args__ = (UniqueConstraint("incident_id", "regime", "number", name="uq_regulator_report_number"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    regime: str = Field(max_length=40)
    report_type: str = Field(max_length=40)
    phase: str = Field(max_length=20)
    number: int
    content: dict[str, Any] = Field(sa_type=JSON)
    extras: dict[str, Any] = Field(sa_type=JSON)
    diff: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    content_sha256: str = Field(max_length=64)
    reason_for_delay: str | None = Field(default=None, sa_type=Text)
    due_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def label(self) -> str:
        """Short name for timelines: ``us-hipaa hhs-breach v2 (follow_up)``."""
        return f"{self.regime} {self.report_type} v{self.number} ({self.phase})"


class ExportBundle(SQLModel, table=True):
    """A signed export bundle of an approved report version: ``path`` relative to the instance folder,
    ``sha256`` of the zip, ``files``: the manifest's file list (name, size, sha256)."""

    __tablename__ = "export_bundle"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="regulator_report.id", index=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    path: str = Field(max_length=500)
    sha256: str = Field(max_length=64)
    size: int
    key_id: str = Field(max_length=64)
    files: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    generated_at: dt.datetime = Field(sa_type=UTCDateTime)
    generated_by: str = Field(max_length=200)


class ReportGrant(SQLModel, table=True):
    """Access for one regulator to exactly ``bundle_ids``: by link (``token_hash``: SHA-256 of the token,
    shown once) or by a ``regulator`` account (``user_id``). Refused after ``expires_at`` or ``revoked_at``."""

    __tablename__ = "report_grant"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    bundle_ids: list[int] = Field(sa_type=JSON)
    regulator_name: str = Field(max_length=300)
    regulator_email: str | None = Field(default=None, max_length=320)
    user_id: int | None = Field(default=None, foreign_key="user_account.id", index=True)
    token_hash: str | None = Field(default=None, max_length=64, unique=True, index=True)
    token_prefix: str | None = Field(default=None, max_length=12)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: str | None = Field(default=None, max_length=200)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=200)
    downloads: int = 0


class LockedReportError(RuntimeError):
    """An approved report version was about to be changed (a programming error, never user input)."""


@event.listens_for(RegulatorReport, "before_update")
def _guard_locked(_mapper: Mapper[Any], _connection: Connection, target: RegulatorReport) -> None:
    """Refuse any update of an approved report version."""
    state = inspect(target)
    was = state.attrs.state.history.deleted
    if (was[0] if was else target.state) == ReportState.approved.value:
        changed = {a.key for a in state.attrs if a.history.has_changes()}
        if changed:
            raise LockedReportError(f"report version {target.id} is approved and locked")
