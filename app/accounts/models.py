"""User and API token tables, and the roles."""

from __future__ import annotations

import datetime as dt
import hashlib
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
    """A person who signs in. ``password_hash`` is an Argon2id hash; never the password.

    ``must_change_password`` is set while the password is one printed by ``users create`` or
    ``users reset-password``: the web UI then shows only the change-password form. A disabled user
    (``active`` false) can neither sign in nor use an API token.
    """

    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    role: str = Field(max_length=30)
    password_hash: str = Field(max_length=200)
    active: bool = True
    must_change_password: bool = False
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    last_login_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)

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
        """The session identifier: ``"<id>:<stamp>"``; the stamp changes with the password, so a password
        change or reset ends every other session of this user (see ``accounts.service.load_user``)."""
        return f"{self.id}:{self.session_stamp}"

    @property
    def session_stamp(self) -> str:
        """16 hex characters derived from the password hash (not reversible to it)."""
        return hashlib.sha256(f"session:{self.password_hash}".encode()).hexdigest()[:16]

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
