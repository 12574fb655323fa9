"""User and API token tables, and the roles."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class Role(StrEnum):
    """What a user may do.

    Staff roles are ranked: ``reporter`` < ``responder`` < ``privacy_officer`` < ``admin``; a higher role
    may do what a lower one may. ``regulator`` is outside that ladder: read-only access to exports shared
    with it.
    """

    reporter = "reporter"
    responder = "responder"
    privacy_officer = "privacy_officer"
    admin = "admin"
    regulator = "regulator"


STAFF_RANK: dict[Role, int] = {Role.reporter: 1, Role.responder: 2, Role.privacy_officer: 3, Role.admin: 4}


class User(SQLModel, table=True):
    """A person who signs in. ``password_hash`` is an Argon2id hash; never the password."""

    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    role: str = Field(max_length=30)
    password_hash: str = Field(max_length=200)
    active: bool = True
    created_at: dt.datetime = Field(sa_type=UTCDateTime)

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        """Always true for a loaded user."""
        return True

    @property
    def is_active(self) -> bool:
        """False for a disabled account."""
        return self.active

    @property
    def is_anonymous(self) -> bool:
        """Never anonymous."""
        return False

    def get_id(self) -> str:
        """The session identifier (the numeric id as text)."""
        return str(self.id)

    @property
    def actor(self) -> str:
        """How this user is named in the audit trail."""
        return f"user:{self.id}:{self.email}"


class ApiToken(SQLModel, table=True):
    """An API token. Only its SHA-256 is stored; the token itself is shown once at creation."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=12)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    last_used_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
