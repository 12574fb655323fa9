"""The optional email to privacy officers on escalation (``BREACH_NOTIFY_ESCALATION_EMAIL``), through the live
SMTP channel to a real aiosmtpd server on loopback: recipients, content without data subjects' contact data,
and never twice across a restart."""

from __future__ import annotations

import datetime as dt
import json
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from app import create_app
from app import scheduler as sched
from app.audit.models import AuditEvent
from app.clock import FixedClock
from app.dispatch import sandbox_store as outbox
from app.obligations.models import EscalationEmail, ObligationRecord
from app.obligations.scheduled import sweep
from app.sandbox.smtp_peer import ReceivedEmail, SmtpPeer
from tests.notices.notices_workflow_sample import LAPTOP
from tests.support import AFTER_LAPTOP, bearer


@pytest.fixture
def clock() -> FixedClock:
    """The test clock, frozen the day after the laptop case's discovery (``AFTER_LAPTOP``): incidents are filed
    once known."""
    return FixedClock(AFTER_LAPTOP)

SENDER = "breach-notify@clinic.example"
PEOPLE = "external_id,full_name,email,phone,country,state\np1,Zoe Example,zoe@people.example,+14155550123,US,CA\n"


def _live(app: Flask, plain_peer: SmtpPeer, clock: FixedClock) -> Flask:
    """Another process of the same deployment, sending live through the loopback SMTP server."""
    return create_app(dict(app.config, CLOCK=clock, ESCALATION_EMAIL=SENDER, DISPATCH_MODE="live",
                           SMTP_HOST=plain_peer.host, SMTP_PORT=str(plain_peer.port), SMTP_SECURITY="none"))


def _incident(client: FlaskClient, app: Flask, make_user: Any, tmp_path: Path) -> int:
    incident_id = int(client.post("/api/incidents", json=LAPTOP, headers=bearer(make_user("responder"))).json["id"])
    people = tmp_path / "people.csv"
    people.write_text(PEOPLE)
    imported = app.test_cli_runner().invoke(args=["subjects", "import", str(incident_id), str(people)])
    assert imported.exit_code == 0, imported.output
    return incident_id


def _text(message: ReceivedEmail | EmailMessage) -> str:
    parsed = message.parsed() if isinstance(message, ReceivedEmail) else message
    part = parsed.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def test_escalation_emails_every_active_privacy_officer_once(
    client: FlaskClient, app: Flask, make_user: Any, session: Session, clock: FixedClock, plain_peer: SmtpPeer,
    tmp_path: Path
) -> None:
    officers = {make_user("privacy_officer").user.email, make_user("admin").user.email,
                make_user("privacy_officer").user.email}
    make_user("responder")
    gone = make_user("privacy_officer").user
    gone.active = False
    session.add(gone)
    session.commit()
    incident_id = _incident(client, app, make_user, tmp_path)
    session.expire_all()
    hipaa = session.exec(select(ObligationRecord).where(ObligationRecord.regime == "us-hipaa",
                                                        ObligationRecord.audience == "individuals")).one()
    assert hipaa.due_at is not None
    clock.set(hipaa.due_at + dt.timedelta(hours=2, minutes=5))
    # the escalation commits with its emails queued; the scheduler stops before sending (a crash) ...
    escalated = sweep(session, clock=clock, offsets=(86400,), email_officers=True).escalations
    assert hipaa.id in escalated and plain_peer.messages == []
    # ... and the next scheduler process sends them, once
    assert sched.run_sweeps(_live(app, plain_peer, clock), "host-a:1")
    clock.advance(3 * 60 * 60)  # host-a:1's lease has expired
    assert sched.run_sweeps(_live(app, plain_peer, clock), "host-a:2")
    messages = plain_peer.messages
    assert len(messages) == len(escalated) * len(officers)
    assert all(len(m.rcpt_tos) == 1 and m.mail_from == SENDER for m in messages)
    for oid in escalated:
        assert {m.rcpt_tos[0] for m in messages if f"obligations close {oid}`" in _text(m)} == officers
    mail = next(m.parsed() for m in messages if f"obligations close {hipaa.id}`" in _text(m))
    body = _text(mail)
    # (folded onto its own line: the parser keeps the folding white space, a mail reader drops it)
    subject = f"OVERDUE: incident {incident_id}, us-hipaa/individuals was due 2026-05-31 16:00 UTC"
    assert mail["Subject"].strip() == subject
    assert f"incident {incident_id} (Unencrypted laptop with patient records lost)" in body
    assert "Duty:      us-hipaa, individuals" in body and "Due:       2026-05-31 16:00 UTC" in body
    assert "Overdue:   0 d 2 h 5 min" in body and "45 CFR 164.404(b)" in body
    assert f"http://127.0.0.1:5000/incidents/{incident_id}#obligations" in body
    for m in messages:
        raw = m.content.decode("utf-8", "replace")
        assert "zoe@people.example" not in raw and "4155550123" not in raw and "Zoe Example" not in raw
    rows = session.exec(select(EscalationEmail)).all()
    assert {r.state for r in rows} == {"sent"} and all(r.attempts == 1 for r in rows)
    sent = session.exec(select(AuditEvent).where(AuditEvent.action == "obligation.escalation_emailed")).all()
    assert len(sent) == len(messages) and all(json.loads(e.after)["state"] == "sent" for e in sent)
    assert all("@" not in e.after for e in sent)  # the audit trail names officers by user id


def test_no_email_without_the_setting(
    client: FlaskClient, app: Flask, make_user: Any, session: Session, clock: FixedClock, plain_peer: SmtpPeer
) -> None:
    make_user("privacy_officer")
    client.post("/api/incidents", json=LAPTOP, headers=bearer(make_user("responder")))
    clock.set(dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    quiet = create_app(dict(app.config, CLOCK=clock, DISPATCH_MODE="live", SMTP_HOST=plain_peer.host,
                            SMTP_PORT=str(plain_peer.port), SMTP_SECURITY="none"))
    report, sent = sched.deadline_sweep(quiet, session)
    assert report.escalations and sent == 0 and plain_peer.messages == []
    assert session.exec(select(EscalationEmail)).all() == []


def test_the_embedded_sandbox_records_it_in_the_outbox_viewer(
    client: FlaskClient, app: Flask, make_user: Any, session: Session, clock: FixedClock
) -> None:
    officer = make_user("privacy_officer").user.email
    client.post("/api/incidents", json=LAPTOP, headers=bearer(make_user("responder")))
    clock.set(dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    sandboxed = create_app(dict(app.config, CLOCK=clock, ESCALATION_EMAIL=SENDER))
    report, sent = sched.deadline_sweep(sandboxed, session)
    assert sent == len(report.escalations) > 0
    with sandboxed.app_context():
        recorded = outbox.recent(session, cipher=sandboxed.extensions["keys"].cipher(), channel="email")
    assert len(recorded) == sent and {r.recipient for r in recorded} == {officer}
    assert all(r.subject_line.strip().startswith("OVERDUE: incident 1, ") for r in recorded)


def test_the_setting_must_be_an_email_address() -> None:
    from app.config import from_environment

    assert from_environment({"BREACH_NOTIFY_ESCALATION_EMAIL": SENDER})["ESCALATION_EMAIL"] == SENDER
    with pytest.raises(ValueError, match="BREACH_NOTIFY_ESCALATION_EMAIL"):
        from_environment({"BREACH_NOTIFY_ESCALATION_EMAIL": "privacy officers"})
