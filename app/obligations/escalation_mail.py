"""The optional email to privacy officers when an obligation is escalated (``BREACH_NOTIFY_ESCALATION_EMAIL``).

An overdue notification deadline (GDPR Art. 33(1) 72 hours, HIPAA 45 CFR 164.404-408 60 days, ...) has to
reach the people who can act on it, not only the audit trail and the incident page. With the setting on,
the sweep queues one ``EscalationEmail`` per active privacy officer (role ``privacy_officer`` or ``admin``,
the roles that may waive) in the escalation's own transaction; ``send_pending`` sends them through the
dispatch email channel (sandbox: recorded in the outbox viewer; ``live``: SMTP with the ``SMTP_*``
settings).

Each row is claimed (``pending`` -> ``sending``, committed) before the SMTP call and marked ``sent`` or
``failed`` after it, so a restart never sends it twice; a row a crash left in ``sending`` (the server may
have taken it) is not sent again. A temporary refusal stays ``pending`` until ``max_attempts``.

The message names the incident (id and title), the duty (regime, audience, part, recipient, citations), the
due time in UTC and how overdue it is. It never holds a data subject's contact data or a notice body, and
the addresses of the officers are never logged.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.accounts.access import APPROVE
from app.accounts.models import User
from app.audit import service as audit
from app.channels.base import Channel, EmailOutbound
from app.clock import Clock
from app.incidents import service as incidents
from app.incidents.dashboard import countdown
from app.notices.email_build import Mailbox, wire_email
from app.obligations.models import EscalationEmail, ObligationAlert, ObligationRecord
from app.obligations.parts import label

log = logging.getLogger(__name__)
ACTOR = "scheduler"


def queue(session: Session, *, alert: ObligationAlert, now: dt.datetime) -> int:
    """Add one pending email per active privacy officer for the escalation ``alert`` (already flushed, so it
    has its id) in the caller's transaction. Returns how many."""
    officers = session.exec(select(User).where(col(User.active).is_(True), col(User.role).in_(sorted(APPROVE)))
                            .order_by(col(User.id))).all()
    for user in officers:
        session.add(EscalationEmail(alert_id=alert.id or 0, user_id=user.id or 0, state="pending", created_at=now))
    return len(officers)


def message(*, sender: str, to: str, reference: str, incident_id: int, title: str, ob: ObligationRecord,
            due: dt.datetime, now: dt.datetime, link: str) -> bytes:
    """The escalation email to one officer, in the wire form dispatch sends (``wire_email``: text and HTML
    parts, RFC 2047 headers, ``Message-ID`` from ``reference``); ``now`` and ``due`` are aware UTC and
    ``link`` is the incident page."""
    when = due.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"A notification deadline of incident {incident_id} ({title}) has passed.", "",
        f"Duty:      {ob.regime}, {ob.audience}" + (f", {ob.part}" if ob.part else ""),
        f"Notify:    {ob.recipient}",
        f"Due:       {when}",
        f"Overdue:   {countdown(due, now).removeprefix('overdue by ')}",
        f"Rests on:  {'; '.join(ob.citations) or '-'}", "",
        f"Open the incident: {link}",
        f"Mark the duty met, or have a privacy officer waive it with a reason: on that page, or with "
        f"`breach-notify obligations close {ob.id}`.",
    ]
    text = "\n".join(lines) + "\n"
    return wire_email(sender=Mailbox("breach-notify", sender), reply_to=None, to=Mailbox("", to),
                      subject=f"OVERDUE: incident {incident_id}, {label(ob)} was due {when}", text=text,
                      html=f"<pre>{html.escape(text)}</pre>", delivery_id=reference,
                      domain=sender.rpartition("@")[2], sent_at=now)


@dataclass(frozen=True)
class MailSettings:
    """``sender`` (the From address), ``public_url`` (links to the incident page), ``max_attempts`` per email."""

    sender: str
    public_url: str
    max_attempts: int = 5


def send_pending(session: Session, *, clock: Clock, settings: MailSettings,
                 channels: Callable[[], Mapping[str, Channel]]) -> int:
    """Send every pending escalation email; returns how many were sent (accepted by the channel).

    ``channels`` builds the dispatch channels (called only when something is pending; closed afterwards).
    Without an email channel (``live`` mode and no ``SMTP_HOST``) nothing is sent and the rows wait.
    Each outcome is audited (``obligation.escalation_emailed``) with the user id, never the address.
    """
    pending = session.exec(select(EscalationEmail).where(EscalationEmail.state == "pending")
                           .order_by(col(EscalationEmail.id))).all()
    if not pending:
        return 0
    built = channels()
    try:
        channel = built.get("email")
        if channel is None:
            log.warning("%d escalation emails wait: no email channel is configured", len(pending))
            return 0
        return sum(_send_one(session, clock=clock, settings=settings, channel=channel, row_id=row.id or 0)
                   for row in pending)
    finally:
        for each in built.values():
            each.close()


def _send_one(session: Session, *, clock: Clock, settings: MailSettings, channel: Channel, row_id: int) -> bool:
    now = clock.now()
    claimed = session.execute(update(EscalationEmail).where(
        col(EscalationEmail.id) == row_id, col(EscalationEmail.state) == "pending").values(
        state="sending", claimed_at=now, attempts=EscalationEmail.attempts + 1))
    session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False  # another scheduler took it
    row = session.get(EscalationEmail, row_id, populate_existing=True)
    assert row is not None
    alert = session.get(ObligationAlert, row.alert_id)
    ob = session.get(ObligationRecord, alert.obligation_id) if alert else None
    user = session.get(User, row.user_id)
    if alert is None or ob is None or user is None or not user.active:
        return _finish(session, clock=clock, row=row, ob=ob, state="failed", error="no_recipient")
    incident = incidents.get(session, incident_id=ob.incident_id)
    reference = f"escalation-{row_id}"
    try:
        mail = message(sender=settings.sender, to=user.email, reference=reference, incident_id=ob.incident_id,
                       title=incident.title, ob=ob, due=alert.due_at, now=now,
                       link=f"{settings.public_url.rstrip('/')}/incidents/{ob.incident_id}#obligations")
    except ValueError:  # an address the email header refuses (InvalidAddressError)
        return _finish(session, clock=clock, row=row, ob=ob, state="failed", error="invalid_address")
    result = channel.send(EmailOutbound(mail, settings.sender, user.email, reference))
    if result.accepted:
        row.provider_id = result.provider_id
        return _finish(session, clock=clock, row=row, ob=ob, state="sent")
    retry = result.outcome == "temporary_failure" and row.attempts < settings.max_attempts
    return _finish(session, clock=clock, row=row, ob=ob, state="pending" if retry else "failed",
                   error=result.error_code or result.outcome)


def _finish(session: Session, *, clock: Clock, row: EscalationEmail, ob: ObligationRecord | None, state: str,
            error: str | None = None) -> bool:
    row.state, row.error_code = state, error
    row.sent_at = clock.now() if state == "sent" else None
    session.add(row)
    if ob is not None:
        audit.record(session, clock=clock, actor=ACTOR, action="obligation.escalation_emailed", entity="obligation",
                     entity_id=ob.id or 0, incident_id=ob.incident_id,
                     after={"obligation": label(ob), "user_id": row.user_id, "state": state, "error": error,
                            "attempt": row.attempts})
    session.commit()
    return state == "sent"
