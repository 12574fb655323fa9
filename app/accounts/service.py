"""Creating users and tokens, checking passwords and tokens.

Passwords are hashed with Argon2id (argon2-cffi). API tokens are 256-bit random strings; only their
SHA-256 is stored, which is safe for high-entropy secrets and lets a token be found by hash.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, select

from app.accounts.models import ApiToken, Role, User
from app.audit import service as audit
from app.clock import Clock
from app.errors import Conflict, InvalidInput

_hasher = PasswordHasher()
TOKEN_PREFIX = "bn_"  # noqa: S105 (a label, not a secret)


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
    session: Session, *, clock: Clock, email: str, role: str, actor: str, with_token: bool = False
) -> NewUser:
    """Create a user with a generated one-time password (and optionally an API token); commits.

    Raises ``InvalidInput`` for a bad email or unknown role and ``Conflict`` if the email exists.
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
    user = User(email=address, role=role, password_hash=_hasher.hash(password), created_at=clock.now())
    session.add(user)
    session.flush()
    audit.record(session, clock=clock, actor=actor, action="user.created", entity="user",
                 entity_id=user.id or 0, after={"role": role})
    token = issue_token(session, clock=clock, user=user, name="cli", actor=actor) if with_token else None
    session.commit()
    return NewUser(user, password, token)


def issue_token(session: Session, *, clock: Clock, user: User, name: str, actor: str) -> str:
    """Create an API token for ``user`` in the caller's transaction and return it (shown once)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id or 0, name=name, token_hash=hash_token(token), prefix=token[:10],
                   created_at=clock.now())
    session.add(row)
    session.flush()
    audit.record(session, clock=clock, actor=actor, action="token.issued", entity="api_token",
                 entity_id=row.id or 0, after={"user_id": user.id, "name": name, "prefix": row.prefix})
    return token


def check_password(session: Session, *, email: str, password: str) -> User | None:
    """The active user with this email and password, or None (same answer for every failure)."""
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None or not user.active:
        _hasher.hash(password)  # spend the same time whether or not the user exists
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


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
    """The user for a session id, or None."""
    try:
        return session.get(User, int(user_id))
    except ValueError:
        return None
