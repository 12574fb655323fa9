"""Regulator access to exactly the bundles shared with them: an expiring, revocable link (``/r/<token>``;
only the token's SHA-256 is stored, the token is shown once) or a ``regulator`` account. Every grant,
download and revocation writes an audit event (never the token).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from app.accounts.models import Role, User
from app.audit import service as audit
from app.clock import Clock
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.incidents import service as incidents
from app.reports import bundles
from app.reports.models import ExportBundle, ReportGrant

TOKEN_PREFIX = "rg_"  # noqa: S105 (a prefix, not a secret)


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a link token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _audit(session: Session, *, clock: Clock, actor: str, grant: ReportGrant, action: str,
           after: dict[str, Any]) -> None:
    audit.record(session, clock=clock, actor=actor, action=action, entity="report_grant", entity_id=grant.id or 0,
                 incident_id=grant.incident_id, after={"regulator": grant.regulator_name, **after})


def create_grant(session: Session, *, clock: Clock, actor: str, incident_id: int, bundle_ids: Sequence[int],
                 regulator_name: str, expires_at: dt.datetime, regulator_email: str | None = None,
                 user_email: str | None = None) -> tuple[ReportGrant, str | None]:
    """Share ``bundle_ids`` (all of this incident) with one regulator until ``expires_at``; commits.

    With ``user_email`` (an existing ``regulator`` account) access is through that account and no token is
    made; otherwise returns the link token (shown once). Raises ``InvalidInput`` (no or foreign bundles,
    expiry not in the future or naive, no name, unknown or non-regulator account), ``NotFound``.
    """
    incidents.get(session, incident_id=incident_id)
    now = clock.now()
    ids = sorted({int(b) for b in bundle_ids})
    if not ids:
        raise InvalidInput("share at least one bundle", details=[{"path": "bundle_ids", "reason": "empty"}])
    for bundle_id in ids:
        bundles.get(session, bundle_id=bundle_id, incident_id=incident_id)
    if not regulator_name.strip():
        raise InvalidInput("name the regulator", details=[{"path": "regulator_name", "reason": "empty"}])
    if expires_at.tzinfo is None or expires_at <= now:
        raise InvalidInput("expires_at must be a future time with a UTC offset",
                           details=[{"path": "expires_at", "reason": "not in the future"}])
    user = None
    if user_email:
        user = session.exec(select(User).where(User.email == user_email.strip().lower())).first()
        if user is None or user.role != Role.regulator.value:
            raise InvalidInput(f"{user_email} is not a regulator account",
                               details=[{"path": "user_email", "reason": "no regulator account with this email"}])
    token = None if user else TOKEN_PREFIX + secrets.token_urlsafe(32)
    grant = ReportGrant(incident_id=incident_id, bundle_ids=ids, regulator_name=regulator_name.strip(),
                        regulator_email=(regulator_email or "").strip() or None, user_id=user.id if user else None,
                        token_hash=token_hash(token) if token else None, token_prefix=token[:10] if token else None,
                        expires_at=expires_at.astimezone(dt.UTC), created_at=now, created_by=actor)
    session.add(grant)
    session.flush()
    _audit(session, clock=clock, actor=actor, grant=grant, action="report.grant.created",
           after={"bundle_ids": ids, "via": "account" if user else "link", "user_id": grant.user_id,
                  "expires_at": grant.expires_at.isoformat()})
    incidents.add_timeline(session, clock=clock, incident_id=incident_id, actor=actor, kind="report",
                           text=f"Bundles {ids} shared with {grant.regulator_name} until "
                                f"{grant.expires_at:%Y-%m-%d %H:%M} UTC")
    session.commit()
    return grant, token


def revoke(session: Session, *, clock: Clock, actor: str, grant_id: int, incident_id: int | None = None
           ) -> ReportGrant:
    """Revoke a grant now; commits. ``Conflict`` when already revoked; ``NotFound``."""
    grant = session.get(ReportGrant, grant_id)
    if grant is None or (incident_id is not None and grant.incident_id != incident_id):
        raise NotFound(f"grant {grant_id} does not exist")
    if grant.revoked_at is not None:
        raise Conflict(f"grant {grant_id} was already revoked")
    grant.revoked_at, grant.revoked_by = clock.now(), actor
    session.add(grant)
    _audit(session, clock=clock, actor=actor, grant=grant, action="report.grant.revoked",
           after={"bundle_ids": grant.bundle_ids})
    incidents.add_timeline(session, clock=clock, incident_id=grant.incident_id, actor=actor, kind="report",
                           text=f"Regulator access revoked: grant {grant.id} ({grant.regulator_name})")
    session.commit()
    return grant


def _live(grant: ReportGrant, now: dt.datetime) -> None:
    if grant.revoked_at is not None:
        raise Forbidden("this access was revoked")
    if now >= grant.expires_at:
        raise Forbidden(f"this access expired at {grant.expires_at.isoformat()}")


def by_token(session: Session, *, clock: Clock, token: str) -> ReportGrant:
    """The live grant of a link token. ``NotFound`` (unknown token), ``Forbidden`` (expired or revoked)."""
    grant = session.exec(select(ReportGrant).where(ReportGrant.token_hash == token_hash(token))).first()
    if grant is None:
        raise NotFound("unknown link")
    _live(grant, clock.now())
    return grant


def for_user(session: Session, *, clock: Clock, user_id: int) -> list[ReportGrant]:
    """The regulator account's live grants (expired and revoked ones left out)."""
    now = clock.now()
    rows = session.exec(select(ReportGrant).where(ReportGrant.user_id == user_id, col(ReportGrant.revoked_at)
                                                  .is_(None)).order_by(col(ReportGrant.id))).all()
    return [g for g in rows if now < g.expires_at]


def shared_bundles(session: Session, grants: Sequence[ReportGrant]) -> list[ExportBundle]:
    """The bundles of the grants, by id."""
    ids = sorted({b for g in grants for b in g.bundle_ids})
    return list(session.exec(select(ExportBundle).where(col(ExportBundle.id).in_(ids))
                             .order_by(col(ExportBundle.id))).all()) if ids else []


def download(session: Session, *, clock: Clock, actor: str, grants: Sequence[ReportGrant], bundle_id: int
             ) -> ExportBundle:
    """Record a download of ``bundle_id`` through one of ``grants`` (live); commits. ``NotFound`` when no
    grant covers the bundle (the regulator sees exactly what was shared)."""
    now = clock.now()
    grant = next((g for g in grants if bundle_id in g.bundle_ids), None)
    if grant is None:
        raise NotFound(f"export bundle {bundle_id} is not shared with you")
    _live(grant, now)
    bundle = bundles.get(session, bundle_id=bundle_id)
    grant.downloads += 1
    session.add(grant)
    _audit(session, clock=clock, actor=actor, grant=grant, action="report.bundle.downloaded",
           after={"bundle_id": bundle_id, "sha256": bundle.sha256, "downloads": grant.downloads})
    session.commit()
    return bundle


def for_incident(session: Session, *, incident_id: int) -> list[ReportGrant]:
    """The incident's grants, newest first."""
    return list(session.exec(select(ReportGrant).where(ReportGrant.incident_id == incident_id)
                             .order_by(col(ReportGrant.id).desc())).all())


def to_json(grant: ReportGrant, *, now: dt.datetime) -> dict[str, Any]:
    """API shape of a grant (no token hash); ``active`` is false once expired or revoked."""
    data = grant.model_dump(mode="json", exclude={"token_hash"})
    data["active"] = grant.revoked_at is None and now < grant.expires_at
    data["via"] = "account" if grant.user_id else "link"
    return data
