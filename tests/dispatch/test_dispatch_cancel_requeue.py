"""Cancel a run part-way and start another: everyone the cancelled run had not reached gets exactly one message
(their skipped deliveries move to the new run, attempt history kept), nobody reached before gets a second one,
and the plan counts them right. Per person across fallback chains: a person whose every delivery was skipped
is re-queued, anyone with another delivery stays out. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from app.audit.models import AuditEvent
from app.dispatch import runs
from app.dispatch.models import DELIVERED, FAILED_PERMANENT, SKIPPED, Delivery, DeliveryAttempt
from app.dispatch.outcomes import Policy, fail_permanently
from app.dispatch.wiring import make_worker, run_request
from app.dispatch.worker import WorkerOptions
from app.sandbox import SandboxPeers
from app.subjects.models import DataSubject
from tests.dispatch.dispatch_support import Person, approved_laptop_incident, dispatch_app, import_people


def _by_email(session: Session, run_id: int | None, people: list[Person]) -> dict[str, Delivery]:
    """The run's deliveries by the person's email address (one delivery per person here; subjects are
    imported in file order)."""
    session.expire_all()
    ids = session.exec(select(DataSubject.id).order_by(col(DataSubject.id))).all()
    assert len(ids) == len(people)
    email = dict(zip(ids, (p.email for p in people), strict=True))
    return {email[d.subject_id]: d for d in session.exec(select(Delivery).where(Delivery.run_id == run_id)).all()}


def test_cancelled_run_part_way_then_a_new_run_reaches_everyone_else_once(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    incident_id = approved_laptop_incident(client, make_user("privacy_officer"), make_user("privacy_officer"),
                                           channels=("email",))
    people = [Person(f"c-{i}", f"Cara {i}", email=f"cara{i}@example.org") for i in range(8)]
    import_people(app, session, tmp_path, incident_id, people)
    reached, retrying, waiting = people[:3], people[3:6], people[6:]
    with SandboxPeers() as peers:
        for p in retrying:
            peers.smtp.fail_recipient(p.email, 451)  # temporary: next try at least 30 min later
        live = dispatch_app(app, peers.settings(), DISPATCH_BACKOFF=3600)
        clock, request = live.extensions["clock"], run_request(live, chain="email")
        with live.app_context():
            first = runs.start(session, clock=clock, actor="test", incident_id=incident_id, request=request)
        later = clock.now() + dt.timedelta(hours=1)
        waiting_ids = [_by_email(session, first.id, people)[p.email].id for p in waiting]
        session.execute(update(Delivery).where(col(Delivery.id).in_(waiting_ids)).values(next_attempt_at=later))
        session.commit()
        with live.app_context():
            make_worker(live, WorkerOptions(once=True, poll=0.05)).run()
            runs.control(session, clock=clock, actor="test", run_id=first.id or 0, action="cancel")
        before = _by_email(session, first.id, people)
        assert Counter(d.state for d in before.values()) == {DELIVERED: 3, SKIPPED: 5}
        assert sorted(a for m in peers.smtp.messages for a in m.rcpt_tos) == sorted(p.email for p in reached)
        peers.smtp.clear()  # the 451s are over

        with live.app_context():
            doc = runs.plan(session, clock=clock, incident_id=incident_id, request=request)
            assert (doc["people"], doc["already_sent"], doc["requeued"]) == (5, 3, 5)
            assert doc["first_channel"] == {"email": 5} and doc["channels"]["email"]["messages"] == 5
            assert doc["warnings"][-2:] == [
                "3 people already have these notices from an earlier run (sent, delivered, failed or being sent); "
                "this run leaves them out",
                "5 people were not reached by a cancelled run (every delivery skipped): this run notifies them, "
                "queueing their skipped deliveries again"]
            second = runs.start(session, clock=clock, actor="test", incident_id=incident_id, request=request)
        moved = _by_email(session, second.id, people)
        assert {e: d.id for e, d in moved.items()} == {p.email: before[p.email].id for p in retrying + waiting}
        assert all((d.state, d.attempts, d.claimed_by, d.error) == ("queued", 0, None, None) for d in moved.values())
        assert sorted(_by_email(session, first.id, people)) == sorted(p.email for p in reached)
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "dispatch.started",
                                                      AuditEvent.entity_id == second.id)).one()
        after_start = json.loads(event.after)
        assert (after_start["deliveries"], after_start["requeued"]) == (5, 5)
        with live.app_context():
            make_worker(live, WorkerOptions(once=True, poll=0.05)).run()
        sent = Counter(a for m in peers.smtp.messages for a in m.rcpt_tos)
        assert sent == Counter({p.email: 1 for p in retrying + waiting})  # once each, nobody reached before

    after = _by_email(session, second.id, people)
    assert {d.state for d in after.values()} == {DELIVERED}
    note = f"re-queued by run {second.id} after run {first.id} was cancelled"
    history = session.exec(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == after[retrying[0].email].id)
                           .order_by(col(DeliveryAttempt.id))).all()
    assert [(a.outcome, a.error_message if a.outcome == "requeued" else None) for a in history] == [
        ("temporary_failure", None), ("requeued", note), ("accepted", None)]
    assert after[retrying[0].email].reason == f"first channel; {note}"
    assert after[waiting[0].email].attempts == 1


def test_per_person_over_fallback_chains(app: Flask, client: FlaskClient, make_user: Any, session: Session,
                                         tmp_path: Path) -> None:
    incident_id = approved_laptop_incident(client, make_user("privacy_officer"), make_user("privacy_officer"),
                                           channels=("email", "sms"))
    people = [Person(f"f-{i}", f"Fay {i}", email=f"fay{i}@example.org", phone=f"+1415555{2000 + i}")
              for i in range(3)]
    import_people(app, session, tmp_path, incident_id, people)
    clock = app.extensions["clock"]
    policy = Policy(3, 1.0, 1.0, ("email", "sms"), random.Random(0))

    def start(chain: str) -> Any:
        with app.app_context():
            return runs.start(session, clock=clock, actor="test", incident_id=incident_id,
                              request=run_request(app, chain=chain))

    def plan(chain: str) -> tuple[int, int, int]:
        with app.app_context():
            doc = runs.plan(session, clock=clock, incident_id=incident_id, request=run_request(app, chain=chain))
        return doc["people"], doc["already_sent"], doc["requeued"]

    def cancel(run_id: int | None) -> None:
        with app.app_context():
            runs.control(session, clock=clock, actor="test", run_id=run_id or 0, action="cancel")

    first = start("email,sms")
    fay0 = _by_email(session, first.id, people)[people[0].email]
    assert fail_permanently(session, fay0, why="failed permanently: 550", dead=False, policy=policy,
                            now=clock.now()) == "sms"
    session.commit()
    cancel(first.id)  # Fay 0: email failed + sms skipped (tried: stays out); Fay 1, 2: email skipped
    assert plan("sms,email") == (2, 1, 2)
    second = start("sms,email")  # their first channel is sms now: new rows, the skipped email rows stay
    assert sorted(d.channel for d in _by_email(session, second.id, people).values()) == ["sms", "sms"]
    cancel(second.id)  # Fay 1, 2: email skipped (run 1) and sms skipped (run 2): every delivery skipped
    assert plan("email,sms") == (2, 1, 2)
    third = start("email,sms")
    rows = _by_email(session, third.id, people)
    assert sorted(rows) == [people[1].email, people[2].email] and {d.channel for d in rows.values()} == {"email"}
    fay1 = rows[people[1].email]
    assert fay1.reason == f"first channel; re-queued by run {third.id} after run {first.id} was cancelled"
    # the fallback takes over Fay 1's sms row skipped by run 2 (inserting it again would break the unique key)
    assert fail_permanently(session, fay1, why="failed permanently: 550", dead=False, policy=policy,
                            now=clock.now()) == "sms"
    session.commit()
    rows = _by_email(session, third.id, people)
    assert sorted((d.channel, d.state) for d in session.exec(select(Delivery).where(
        Delivery.run_id == third.id, Delivery.subject_id == fay1.subject_id)).all()) == [
        ("email", FAILED_PERMANENT), ("sms", "queued")]
    sms = session.exec(select(Delivery).where(Delivery.run_id == third.id, Delivery.subject_id == fay1.subject_id,
                                              Delivery.channel == "sms")).one()
    assert sms.reason.startswith("fallback from email") and sms.reason.endswith(
        f"re-queued by run {third.id} after run {second.id} was cancelled")
    assert session.exec(select(Delivery).where(Delivery.subject_id == fay0.subject_id,
                                               Delivery.run_id != first.id)).all() == []
