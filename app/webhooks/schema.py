"""Request and response shapes of the webhook API (pydantic; unknown keys are errors)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

EventType = Literal["incident.created", "incident.status_changed", "obligation.due_soon", "obligation.overdue",
                    "notice.approved", "dispatch.progress", "dispatch.completed", "report.exported",
                    "public_notice.period_ending", "public_notice.period_ended"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _secret(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.startswith("whsec_"):
        raise ValueError("must start with whsec_ (Standard Webhooks)")
    try:
        raw = base64.b64decode(value.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be whsec_ followed by base64") from None
    if not 24 <= len(raw) <= 64:
        raise ValueError("must decode to 24 to 64 bytes")
    return value


class SubscriptionIn(_Strict):
    """A new subscription: ``url``, ``events`` (at least one), optional ``description`` and ``secret``
    (``whsec_`` + base64 of 24..64 bytes; generated when absent)."""

    url: str = Field(min_length=8, max_length=2000)
    events: list[EventType] = Field(min_length=1)
    description: str = Field(default="", max_length=300)
    secret: str | None = None

    _check_secret = field_validator("secret")(_secret)


class SubscriptionPatch(_Strict):
    """A change: any of ``url``, ``events``, ``description``, ``active``."""

    url: str | None = Field(default=None, min_length=8, max_length=2000)
    events: list[EventType] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=300)
    active: bool | None = None


class SubscriptionOut(BaseModel):
    """A subscription as the API shows it (never the secret, except ``secret`` once on creation)."""

    id: int
    url: str
    events: list[str]
    description: str
    active: bool
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    secret: str | None = None


class AttemptOut(BaseModel):
    """One attempt of a delivery."""

    at: dt.datetime
    outcome: str
    status_code: int | None
    error: str | None
    duration_ms: int | None


class DeliveryOut(BaseModel):
    """One event to one subscription, with its attempts (the delivery log)."""

    id: int
    event_type: str
    msg_id: str
    incident_id: int | None
    state: str
    attempts: int
    next_attempt_at: dt.datetime
    last_status: int | None
    error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    log: list[AttemptOut]
