"""The link between an incident and the case in the tool it came from."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class IncidentSource(SQLModel, table=True):
    """``source`` (``thehive``, ``iris``, ``generic:<name>``) + ``external_id`` name one case, unique; ``url``
    links back to it; ``payload_sha256`` is the last payload's hash; ``received`` counts payloads."""

    __tablename__ = "incident_source"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_incident_source_external"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    source: str = Field(max_length=60)
    external_id: str = Field(max_length=200)
    url: str | None = Field(default=None, sa_type=Text)
    payload_sha256: str = Field(max_length=64)
    received: int = 1
    first_received_at: dt.datetime = Field(sa_type=UTCDateTime)
    last_received_at: dt.datetime = Field(sa_type=UTCDateTime)
