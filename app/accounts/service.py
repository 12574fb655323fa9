"""Users and API tokens: create, list, disable/enable, reset and change passwords, issue and revoke
tokens; check passwords and tokens.

Passwords are hashed with Argon2id (argon2-cffi). API tokens are 256-bit random strings; only their
SHA-256 is stored, which is safe for high-entropy secrets and lets a token be found by hash. Every change
writes an audit event in the same transaction and commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, col, func, select

from app.accounts.models import ApiToken, Role, User
from app.audit import service as audit
from app.clock import Clock
from app.errors import Conflict, InvalidInput, NotFound

_hasher = PasswordHasher()
TOKEN_PREFIX = "bn_"  # noqa: S105 (a label, not a secret)
# NIST SP 800-63B 5.1.1.2 asks for at least 8 characters and allows a maximum of at least 64; we ask for 12.
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256


def hash_token(token: str) -> str:
    """SHA-256 hex of an API token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewUser:
    """A created user and the one-time secrets to hand over (shown once, never stored)."""

    user: User
    password: str
    token: str | None


def _normal_email(email: str) -> str:
    try:
        return validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidInput(f"email: {exc}", details=[{"path": "email", "reason": str(exc)}]) from exc


def create_user(
    session: Session, *, clock: Clock, email: str, role: str, actor: str, with_token: bool = False,
    must_change_password: bool = True,
) -> NewUser:
    """Create a user with a generated one-time password (and optionally an API token); commits.

    The user must set their own password after first signing in unless ``must_change_password`` is false
    (test fixtures). Raises ``InvalidInput`` for a bad email or unknown role and ``Conflict`` if the email
    exists.
    """
    if role not in Role.__members__:
        raise InvalidInput(
            f"role: unknown role {role!r}; one of {', '.join(Role)}",
            details=[{"path": "role", "reason": "unknown role"}],
        )
    address = _normal_email(email)
    if session.exec(select(User).where(User.email == address)).first():
        raise Conflict(f"a user with email {address} already exists")
    password = secrets.token_urlsafe(12)
    user = User(email=address, role=role, password_hash=_hasher.hash(password), created_at=clock.now(),
                must_change_password=must_change_password)
    session.add(user)
    session.flush()
    audit.record(session, clock=clock, actor=actor, action="user.created", entity="user",
                 entity_id=user.id or 0, after={"role": role})
    token = issue_token(session, clock=clock, user=user, name="cli", actor=actor) if with_token else None
    session.commit()
    return NewUser(user, password, token)


def issue_token(session: Session, *, clock: Clock, user: User, name: str, actor: str) -> str:
    """Create an API token for ``user`` in the caller's transaction and return it (shown once)."""
    return _new_token(session, clock=clock, user=user, name=name, actor=actor)[1]


def _new_token(session: Session, *, clock: Clock, user: User, name: str, actor: str) -> tuple[ApiToken, str]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id or 0, name=name, token_hash=hash_token(token), prefix=token[:10],
                   created_at=clock.now())
    session.add(row)
    session.flush()
    audit.record(session, clock=clock, actor=actor, action="token.issued", entity="api_token",
                 entity_id=row.id or 0, after={"user_id": user.id, "name": name, "prefix": row.prefix})
    return row, token


def _find_user(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def user_by_email(session: Session, *, email: str) -> User:
    """The user with this email (any case); raises ``NotFound``."""
    user = _find_user(session, email)
    if user is None:
        raise NotFound(f"no user with email {email.strip()}")
    return user


@dataclass(frozen=True)
class UserSummary:
    """One row of ``users list``: no password hash and no token material. Times are UTC."""

    email: str
    role: str
    active: bool
    must_change_password: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None
    live_tokens: int

    def to_json(self) -> dict[str, Any]:
        """JSON-able dict; times as ISO 8601 with offset (``last_login_at`` null when never recorded)."""
        return {"email": self.email, "role": self.role, "active": self.active,
                "must_change_password": self.must_change_password, "created_at": self.created_at.isoformat(),
                "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
                "live_tokens": self.live_tokens}


def list_users(session: Session) -> list[UserSummary]:
    """Every user by email, with the number of unrevoked API tokens."""
    live = (select(ApiToken.user_id, func.count().label("n")).where(col(ApiToken.revoked_at).is_(None))
            .group_by(col(ApiToken.user_id)).subquery())
    rows = session.exec(select(User, live.c.n).outerjoin(live, live.c.user_id == User.id)
                        .order_by(col(User.email))).all()
    return [UserSummary(u.email, u.role, u.active, u.must_change_password, u.created_at, u.last_login_at,
                        int(n or 0)) for u, n in rows]


def set_active(session: Session, *, clock: Clock, email: str, active: bool, actor: str) -> bool:
    """Enable or disable a user; commits. Returns False (and records nothing) if already in that state.

    A disabled user cannot sign in, loses any open session and their API tokens answer 401 until enabled
    again. Raises ``NotFound`` for an unknown email and ``Conflict`` when disabling the last active admin.
    """
    user = user_by_email(session, email=email)
    if user.active == active:
        return False
    if not active and user.role == Role.admin:
        _refuse_last_admin(session, user)
    user.active = active
    session.add(user)
    audit.record(session, clock=clock, actor=actor, action="user.enabled" if active else "user.disabled",
                 entity="user", entity_id=user.id or 0, before={"active": not active}, after={"active": active})
    session.commit()
    return True


def _refuse_last_admin(session: Session, user: User) -> None:
    others = session.exec(select(func.count()).select_from(User).where(
        User.role == Role.admin.value, col(User.active).is_(True), User.id != user.id)).one()
    if others == 0:
        raise Conflict(f"{user.email} is the last active admin; create or enable another admin first")


def reset_password(session: Session, *, clock: Clock, email: str, actor: str) -> str:
    """Replace the user's password with a generated one-time password and return it (shown once); commits.

    The old password stops working at once and the user's open sessions end; the user must set their own
    password after signing in. API tokens are unaffected. Raises ``NotFound`` for an unknown email.
    """
    user = user_by_email(session, email=email)
    password = secrets.token_urlsafe(12)
    user.password_hash = _hasher.hash(password)
    user.must_change_password = True
    session.add(user)
    audit.record(session, clock=clock, actor=actor, action="user.password_reset", entity="user",
                 entity_id=user.id or 0, after={"must_change_password": True})
    session.commit()
    return password


def change_password(session: Session, *, clock: Clock, user: User, current: str, new: str) -> None:
    """The user sets their own password (after checking the current one); clears the forced change; commits.

    Raises ``InvalidInput`` naming the field: wrong current password, a new one shorter than
    ``MIN_PASSWORD_LENGTH`` or longer than ``MAX_PASSWORD_LENGTH``, or equal to the current one.
    """
    if not _verify(user, current):
        raise _invalid("current_password", "the current password is wrong")
    if not MIN_PASSWORD_LENGTH <= len(new) <= MAX_PASSWORD_LENGTH:
        raise _invalid("new_password", f"use {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")
    if new == current:
        raise _invalid("new_password", "choose a password different from the current one")
    user.password_hash = _hasher.hash(new)
    user.must_change_password = False
    session.add(user)
    audit.record(session, clock=clock, actor=user.actor, action="user.password_changed", entity="user",
                 entity_id=user.id or 0, after={"must_change_password": False})
    session.commit()


def _invalid(path: str, reason: str) -> InvalidInput:
    return InvalidInput(f"{path}: {reason}", details=[{"path": path, "reason": reason}])


@dataclass(frozen=True)
class IssuedToken:
    """A new API token: its row id and name (to revoke it later) and the token itself (shown once)."""

    id: int
    name: str
    token: str


def issue_named_token(session: Session, *, clock: Clock, email: str, name: str | None, actor: str) -> IssuedToken:
    """Issue an API token for an existing, active user; commits.

    ``name`` must be unique among the user's live tokens; without one, ``cli``, ``cli-2``, ... is chosen.
    Raises ``NotFound`` (unknown email), ``Conflict`` (disabled user, or the name is taken) or
    ``InvalidInput`` (empty or over 100 characters).
    """
    user = user_by_email(session, email=email)
    if not user.active:
        raise Conflict(f"{user.email} is disabled; enable the user first")
    taken = set(session.exec(select(ApiToken.name).where(
        ApiToken.user_id == user.id, col(ApiToken.revoked_at).is_(None))).all())
    if name is None:
        name = next(n for n in ("cli", *(f"cli-{i}" for i in range(2, len(taken) + 3))) if n not in taken)
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise _invalid("name", "use 1 to 100 characters")
    if name in taken:
        raise Conflict(f"{user.email} already has a live token named {name!r}; revoke it or choose another name")
    row, token = _new_token(session, clock=clock, user=user, name=name, actor=actor)
    session.commit()
    return IssuedToken(row.id or 0, name, token)


def live_tokens(session: Session, *, email: str) -> list[ApiToken]:
    """The user's unrevoked API tokens, oldest first; raises ``NotFound`` for an unknown email."""
    user = user_by_email(session, email=email)
    return list(session.exec(select(ApiToken).where(ApiToken.user_id == user.id, col(ApiToken.revoked_at)
                                                   .is_(None)).order_by(col(ApiToken.id))).all())


def revoke_token(
    session: Session, *, clock: Clock, email: str, actor: str, name: str | None = None, token_id: int | None = None
) -> ApiToken:
    """Revoke the user's live token with this name or id; commits; the token answers 401 from now on.

    Raises ``InvalidInput`` unless exactly one of ``name``/``token_id`` is given, ``NotFound`` for an
    unknown email or no such live token.
    """
    if (name is None) == (token_id is None):
        raise _invalid("token", "give either a token name or a token id")
    user = user_by_email(session, email=email)
    query = select(ApiToken).where(ApiToken.user_id == user.id, col(ApiToken.revoked_at).is_(None))
    query = query.where(ApiToken.id == token_id) if token_id is not None else query.where(ApiToken.name == name)
    row = session.exec(query).first()
    if row is None:
        which = f"id {token_id}" if token_id is not None else f"named {name!r}"
        raise NotFound(f"{user.email} has no live API token {which}")
    row.revoked_at = clock.now()
    session.add(row)
    audit.record(session, clock=clock, actor=actor, action="token.revoked", entity="api_token",
                 entity_id=row.id or 0, after={"user_id": user.id, "name": row.name, "prefix": row.prefix})
    session.commit()
    return row


def _verify(user: User, password: str) -> bool:
    try:
        return bool(_hasher.verify(user.password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def check_password(session: Session, *, email: str, password: str) -> User | None:
    """The active user with this email and password, or None (same answer for every failure)."""
    user = _find_user(session, email)
    if user is None or not user.active:
        _hasher.hash(password)  # spend the same time whether or not the user exists
        return None
    return user if _verify(user, password) else None


def record_login(session: Session, *, clock: Clock, user: User) -> None:
    """Note the time of a successful sign-in (``last_login_at``, like a token's ``last_used_at``); commits."""
    user.last_login_at = clock.now()
    session.add(user)
    session.commit()


def user_for_token(session: Session, *, clock: Clock, token: str) -> User | None:
    """The active user owning an unrevoked token, or None; records ``last_used_at``."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    row.last_used_at = clock.now()
    session.add(row)
    session.commit()
    return user


def load_user(session: Session, user_id: str) -> User | None:
    """The user for a session id ``"<id>:<stamp>"`` (``User.get_id``), or None when unknown, malformed or
    the stamp is stale (the password changed since the session began)."""
    number, _, stamp = user_id.partition(":")
    try:
        user = session.get(User, int(number))
    except ValueError:
        return None
    if user is None or not hmac.compare_digest(stamp.encode(), user.session_stamp.encode()):
        return None
    return user
