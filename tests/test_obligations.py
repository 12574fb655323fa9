"""Obligations materialised per incident, closed with reasons, and swept for reminders and escalation."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from app import create_app
from app import scheduler as sched
from app.audit import service as audit
from app.audit.models import AuditEvent
from app.clock import FixedClock, SystemClock
from app.obligations.models import ObligationAlert, ObligationRecord
from app.obligations.scheduled import sweep
from tests.notices.notices_workflow_sample import LAPTOP
from tests.support import AFTER_LAPTOP, bearer


@pytest.fixture
def clock() -> FixedClock:
    """The test clock, frozen the day after the laptop case's discovery (``AFTER_LAPTOP``): incidents are filed
    once known."""
    return FixedClock(AFTER_LAPTOP)

AWARE = dt.datetime(2026, 4, 1, 16, 0, tzinfo=dt.UTC)
OFFSETS = (86400, 21600)


def _file(client: FlaskClient, user: Any, doc: dict[str, Any] = LAPTOP) -> int:
    response = client.post("/api/incidents", json=doc, headers=bearer(user))
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def _by_key(client: FlaskClient, user: Any, incident_id: int) -> dict[tuple[str, str, str], dict[str, Any]]:
    rows = client.get(f"/api/incidents/{incident_id}/obligations", headers=bearer(user)).json["obligations"]
    return {(r["regime"], r["audience"], r["part"]): r for r in rows}


def test_filing_materialises_the_decision_with_deadlines(client: FlaskClient, make_user: Any) -> None:
    user = make_user("responder")
    obligations = _by_key(client, user, _file(client, user))
    hipaa = obligations[("us-hipaa", "individuals", "")]
    assert hipaa["required"] and hipaa["status"] == "due"
    assert dt.datetime.fromisoformat(hipaa["due_at"]) == AWARE + dt.timedelta(days=60)
    assert any("164.404" in c for c in hipaa["citations"]) and hipaa["reasons"]
    assert obligations[("us-hipaa", "media", "")]["required"]
    assert obligations[("us-hipaa", "regulator", "")]["required"]
    assert obligations[("us-ca", "individuals", "")]["required"]
    assert obligations[("us-ca", "regulator", "")]["required"]
    assessment = client.get("/api/incidents/1/obligations", headers=bearer(user)).json["assessment"]
    assert assessment["severity"]["method"] == "ENISA-2013"


def test_encryption_with_safe_key_removes_the_duties_on_recompute(client: FlaskClient, make_user: Any) -> None:
    user = make_user("responder")
    incident_id = _file(client, user)
    patched = client.patch(f"/api/incidents/{incident_id}", headers=bearer(user),
                           json={"protection": {"encrypted": True, "key_compromised": False}})
    assert patched.status_code == 200
    obligations = _by_key(client, user, incident_id)
    for key in [("us-hipaa", "individuals", ""), ("us-hipaa", "media", ""), ("us-ca", "individuals", "")]:
        assert obligations[key]["status"] == "not_required", key


def test_waiver_needs_privacy_officer_and_reason_and_survives_recompute(
    client: FlaskClient, make_user: Any, session: Session
) -> None:
    responder, officer = make_user("responder"), make_user("privacy_officer")
    incident_id = _file(client, responder)
    target = _by_key(client, responder, incident_id)[("us-hipaa", "media", "")]["id"]
    assert client.post(f"/api/obligations/{target}/waive", json={"reason": "x"},
                       headers=bearer(responder)).status_code == 403
    empty = client.post(f"/api/obligations/{target}/waive", json={"reason": " "}, headers=bearer(officer))
    assert empty.status_code == 422 and empty.json["details"][0]["path"] == "reason"
    ok = client.post(f"/api/obligations/{target}/waive", json={"reason": "media notice replaced by regulator order"},
                     headers=bearer(officer))
    assert ok.status_code == 200 and ok.json["status"] == "waived"
    assert client.post(f"/api/incidents/{incident_id}/assess", headers=bearer(responder)).status_code == 200
    assert _by_key(client, responder, incident_id)[("us-hipaa", "media", "")]["status"] == "waived"
    again = client.post(f"/api/obligations/{target}/met", json={"reason": "x"}, headers=bearer(officer))
    assert again.status_code == 409
    actions = [e.action for e in session.exec(select(AuditEvent)).all()]
    assert "obligation.waived" in actions


def _hipaa_individuals(session: Session) -> ObligationRecord:
    session.expire_all()
    return session.exec(select(ObligationRecord).where(ObligationRecord.regime == "us-hipaa",
                                                       ObligationRecord.audience == "individuals")).one()


def _alerts(session: Session, obligation_id: int) -> list[str]:
    return sorted(a.kind for a in session.exec(select(ObligationAlert)
                                                .where(ObligationAlert.obligation_id == obligation_id)).all())


def test_reminders_fire_once_at_their_offsets_then_escalate(
    client: FlaskClient, make_user: Any, session: Session, clock: FixedClock
) -> None:
    _file(client, make_user("responder"))
    ob = _hipaa_individuals(session)
    assert ob.due_at is not None
    clock.set(ob.due_at - dt.timedelta(seconds=86401))
    assert (ob.id, "reminder:86400") not in sweep(session, clock=clock, offsets=OFFSETS).reminders
    clock.set(ob.due_at - dt.timedelta(seconds=86400))
    assert (ob.id, "reminder:86400") in sweep(session, clock=clock, offsets=OFFSETS).reminders
    assert (ob.id, "reminder:86400") not in sweep(session, clock=clock, offsets=OFFSETS).reminders
    clock.set(ob.due_at - dt.timedelta(hours=6))
    assert (ob.id, "reminder:21600") in sweep(session, clock=clock, offsets=OFFSETS).reminders
    clock.set(ob.due_at + dt.timedelta(seconds=1))
    assert ob.id in sweep(session, clock=clock, offsets=OFFSETS).escalations
    assert _hipaa_individuals(session).status == "overdue"
    assert _alerts(session, ob.id or 0) == ["overdue", "reminder:21600", "reminder:86400"]
    escalated = session.exec(select(AuditEvent).where(AuditEvent.action == "obligation.escalated",
                                                      AuditEvent.entity_id == str(ob.id))).one()
    assert json.loads(escalated.after)["late_seconds"] == 1
    assert audit.verify(session).ok


def test_restart_never_fires_twice(
    client: FlaskClient, make_user: Any, session: Session, clock: FixedClock, app: Flask
) -> None:
    _file(client, make_user("responder"))
    ob = _hipaa_individuals(session)
    assert ob.due_at is not None
    clock.set(ob.due_at - dt.timedelta(hours=20))
    first = create_app(dict(app.config, CLOCK=clock))  # a scheduler process ...
    assert sched.run_sweeps(first, "host-a:1")
    second = create_app(dict(app.config, CLOCK=clock))  # ... restarted after a crash
    clock.advance(3 * 60 * 60 + 1)  # lease of host-a:1 expired
    assert sched.run_sweeps(second, "host-a:2")
    assert _alerts(session, ob.id or 0) == ["reminder:86400"]


def test_late_scheduler_still_delivers_the_nearest_reminder(
    client: FlaskClient, make_user: Any, session: Session, clock: FixedClock
) -> None:
    _file(client, make_user("responder"))
    ob = _hipaa_individuals(session)
    assert ob.due_at is not None
    clock.set(ob.due_at - dt.timedelta(hours=5))  # down from 30 h to 5 h before the deadline
    report = sweep(session, clock=clock, offsets=OFFSETS)
    mine = [kind for oid, kind in report.reminders if oid == ob.id]
    assert mine == ["reminder:21600"]
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "obligation.reminder",
                                                  AuditEvent.entity_id == str(ob.id))).one()
    after = json.loads(event.after)
    assert after["late_seconds"] == 3600 and after["skipped"] == ["reminder:86400"]
    assert [k for oid, k in sweep(session, clock=clock, offsets=OFFSETS).reminders if oid == ob.id] == []


def test_deadline_hours_are_elapsed_time_across_a_dst_change(
    client: FlaskClient, make_user: Any, session: Session, clock: FixedClock
) -> None:
    doc = {"title": "Customer database exfiltrated", "aware_at": "2026-03-27T10:00:00+01:00",
           "controller": {"name": "Beispiel GmbH", "establishment": "DE"}, "cause": "hacking", "malicious": True,
           "confidentiality": {"affected": True, "recipients": "unknown", "exfiltrated": True},
           "data_categories": ["name", "contact", "financial_account"],
           "subjects": {"count": 1000, "by_jurisdiction": {"DE": 1000}}}
    _file(client, make_user("responder"), doc)
    session.expire_all()
    regulator = session.exec(select(ObligationRecord).where(ObligationRecord.regime == "eu-gdpr",
                                                            ObligationRecord.audience == "regulator",
                                                            ObligationRecord.part == "initial notification")).one()
    # 72 h after 09:00 UTC on 27 March is 09:00 UTC on 30 March (11:00 in Berlin after the clocks went forward)
    assert regulator.due_at == dt.datetime(2026, 3, 30, 9, 0, tzinfo=dt.UTC)
    clock.set(dt.datetime(2026, 3, 29, 8, 59, 59, tzinfo=dt.UTC))
    assert (regulator.id, "reminder:86400") not in sweep(session, clock=clock, offsets=OFFSETS).reminders
    clock.set(dt.datetime(2026, 3, 29, 9, 0, tzinfo=dt.UTC))
    assert (regulator.id, "reminder:86400") in sweep(session, clock=clock, offsets=OFFSETS).reminders


def test_lease_keeps_a_second_scheduler_idle(session: Session, clock: FixedClock) -> None:
    assert sched.acquire_lease(session, clock=clock, holder="a", ttl_seconds=180)
    assert not sched.acquire_lease(session, clock=clock, holder="b", ttl_seconds=180)
    assert sched.acquire_lease(session, clock=clock, holder="a", ttl_seconds=180)  # renewal
    clock.advance(181)
    assert sched.acquire_lease(session, clock=clock, holder="b", ttl_seconds=180)
    assert not sched.acquire_lease(session, clock=clock, holder="a", ttl_seconds=180)


def test_apscheduler_runs_a_missed_tick_and_delivers(
    client: FlaskClient, make_user: Any, session: Session, clock: FixedClock, app: Flask
) -> None:
    from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent

    _file(client, make_user("responder"))
    ob = _hipaa_individuals(session)
    assert ob.due_at is not None
    clock.set(ob.due_at - dt.timedelta(hours=23))
    # the tick was due 30 s ago on APScheduler's real clock (the process was suspended, say; less than one
    # 60 s interval, so it is the only one missed): whatever today's date is, APScheduler sees a misfire,
    # and without a grace limit it still runs it
    assert app.config["SWEEP_SECONDS"] == 60
    missed = SystemClock().now() - dt.timedelta(seconds=30)
    ran: list[JobExecutionEvent] = []
    scheduler = sched.build(app, blocking=False, first_run=missed)
    scheduler.add_listener(ran.append, EVENT_JOB_EXECUTED)
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _alerts(session, ob.id or 0):
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
    assert _alerts(session, ob.id or 0) == ["reminder:86400"]
    assert ran and ran[0].scheduled_run_time == missed


def test_scheduler_ticks_keep_a_calendar_day_deadline_across_the_autumn_clock_change(
    client: FlaskClient, make_user: Any, session: Session, clock: FixedClock, app: Flask
) -> None:
    """HIPAA's 60 calendar days (45 CFR 164.404(b)) run in America/New_York: from noon EDT on 15 October to
    noon EST on 14 December, which is 17:00 UTC, an hour later in UTC than 60 x 24 h (clocks went back on
    1 November). The scheduler's ticks remind and escalate on that instant, not an hour early."""
    clock.set(dt.datetime(2026, 10, 15, 17, 0, tzinfo=dt.UTC))  # filed an hour after its discovery
    _file(client, make_user("responder"), dict(LAPTOP, aware_at="2026-10-15T12:00:00-04:00"))
    ob = _hipaa_individuals(session)
    due = dt.datetime(2026, 12, 14, 17, 0, tzinfo=dt.UTC)
    assert ob.due_at == due

    def tick(at: dt.datetime) -> list[str]:
        clock.set(at)
        assert sched.run_sweeps(app, "host-a:1")
        return _alerts(session, ob.id or 0)

    assert tick(due - dt.timedelta(days=1, seconds=1)) == []
    assert tick(due - dt.timedelta(days=1)) == ["reminder:86400"]
    assert tick(due - dt.timedelta(hours=6)) == ["reminder:21600", "reminder:86400"]
    assert tick(dt.datetime(2026, 12, 14, 16, 0, 1, tzinfo=dt.UTC)) == ["reminder:21600", "reminder:86400"]
    assert tick(due + dt.timedelta(seconds=1)) == ["overdue", "reminder:21600", "reminder:86400"]


@pytest.mark.parametrize("role", ["reporter", "responder"])
def test_incident_page_shows_obligations_with_countdown(client: FlaskClient, make_user: Any, role: str) -> None:
    from tests.support import login

    user = make_user(role)
    incident_id = _file(client, make_user("responder"))
    login(client, user)
    html = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "us-hipaa" in html and "45 CFR 164.404" in html
    # why each duty is owed (reasons) and what it rests on (citations), as decided for the laptop
    for reason in ("600 residents of US-CA: &gt; 500 holds", "sensitive data: health",
                   "residents of a single jurisdiction &gt; 500: US-CA (residents: US-CA 600)",
                   "due 60 calendar days after discovery (aware_at), America/New_York [45 CFR 164.404(b)]"):
        assert reason in html, reason
    for citation in ("45 CFR 164.404(a); 45 CFR 164.404(b)", "45 CFR 164.406", "45 CFR 164.408(b)",
                     "Civ. Code §1798.82(a)", "Civ. Code §1798.82(f)"):
        assert f"<td>{citation}</td>" in html, citation
    assert "2026-05-31 16:00" in html  # HIPAA individual notice due, UTC
    assert "59 d 6 h 0 min" in html  # countdown from the test clock (2 April 10:00 UTC)
    assert ("Waive" in html) is False  # only privacy officers see the waiver form


def test_a_media_recipient_naming_every_state_is_stored(app: Flask, client: FlaskClient, make_user: Any,
                                                        session: Session) -> None:
    """HIPAA media notice goes to outlets serving each state with more than 500 residents affected
    (45 CFR 164.406): with people in every state the recipient is ~400 characters (PostgreSQL once refused it
    as VARCHAR(300))."""
    from app.obligations import service as obligations

    user = make_user("responder")
    incident_id = _file(client, user)
    states = ["AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "IA", "ID", "IL", "IN", "KS",
              "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS", "MT", "NC", "ND", "NE", "NH", "NJ", "NM", "NV",
              "NY", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VA", "VT", "WA", "WI", "WV", "WY"]
    with app.app_context():
        records = obligations.refresh(session, clock=FixedClock(AWARE), actor="t", incident_id=incident_id,
                                      playbooks=app.extensions["playbooks"],
                                      jurisdiction_counts={f"US-{s}": 600 for s in states})
    media = next(r for r in records if (r.regime, r.audience) == ("us-hipaa", "media"))
    assert len(media.recipient) > 300 and media.recipient.endswith("US-WY")
    session.expire_all()
    stored = session.get(ObligationRecord, media.id)
    assert stored is not None and stored.recipient == media.recipient


def test_cli_closes_an_obligation_with_a_reason(client: FlaskClient, make_user: Any, session: Session,
                                                app: Flask) -> None:
    user = make_user("responder")
    incident_id = _file(client, user)
    target = _by_key(client, user, incident_id)[("us-hipaa", "media", "")]["id"]
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["obligations", "list", str(incident_id)])
    assert f"{target}\tdue\t" in listed.output
    blank = runner.invoke(args=["obligations", "close", str(target), "--outcome", "met", "--reason", " "])
    assert blank.exit_code == 2 and "reason" in blank.output
    done = runner.invoke(args=["obligations", "close", str(target), "--outcome", "met",
                               "--reason", "press release sent to outlets in CA on 2026-04-20"])
    assert done.exit_code == 0 and done.output.strip() == f"obligation {target} met"
    again = runner.invoke(args=["obligations", "close", str(target), "--outcome", "met", "--reason", "x"])
    assert again.exit_code == 2 and "already" not in again.output.lower() and "is met" in again.output
    missing = runner.invoke(args=["obligations", "close", "9999", "--outcome", "met", "--reason", "x"])
    assert missing.exit_code == 2 and "9999" in missing.output
    session.expire_all()
    record = session.get(ObligationRecord, target)
    assert record is not None and record.status == "met" and record.closed_by and record.closed_by.startswith("cli:")
    assert record.close_reason == "press release sent to outlets in CA on 2026-04-20"
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "obligation.met")).one()
    assert event.entity_id == str(target) and event.actor.startswith("cli:")


def test_cli_waiver_needs_a_privacy_officer_who_proves_it(client: FlaskClient, make_user: Any, session: Session,
                                                          app: Flask) -> None:
    responder, officer = make_user("responder"), make_user("privacy_officer")
    target = _by_key(client, responder, _file(client, responder))[("us-hipaa", "media", "")]["id"]
    runner = app.test_cli_runner()
    waive = ["obligations", "close", str(target), "--outcome", "waived", "--reason", "regulator order 12"]
    unnamed = runner.invoke(args=waive)
    assert unnamed.exit_code == 2 and "a waiver needs a privacy officer" in unnamed.output and "--as" in unnamed.output
    low = runner.invoke(args=[*waive, "--as", responder.user.email], input=f"{responder.password}\n")
    assert low.exit_code == 2 and "a waiver needs privacy_officer or admin" in low.output
    wrong = runner.invoke(args=[*waive, "--as", officer.user.email], input="not-their-password\n")
    assert wrong.exit_code == 2 and "wrong password" in wrong.output
    met_as = runner.invoke(args=["obligations", "close", str(target), "--outcome", "met", "--reason", "x",
                                 "--as", officer.user.email])
    assert met_as.exit_code == 2 and "only with --outcome waived" in met_as.output
    session.expire_all()
    assert session.get(ObligationRecord, target).status == "due"  # type: ignore[union-attr]
    done = runner.invoke(args=[*waive, "--as", officer.user.email], input=f"{officer.password}\n")
    assert done.exit_code == 0 and done.output.strip().endswith(f"obligation {target} waived")
    session.expire_all()
    record = session.get(ObligationRecord, target)
    assert record is not None and record.closed_by == officer.user.actor
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "obligation.waived")).one()
    assert event.actor == officer.user.actor and event.entity_id == str(target)
