"""Every event type is emitted by its flow, in the state change's transaction, queued once per subscriber,
and carries ids and counts only (never contact data)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlmodel import Session, col, select

from app.clock import FixedClock
from app.dispatch import runs
from app.dispatch.sweeps import finish_runs
from app.dispatch.wiring import run_request
from app.obligations.models import ObligationRecord
from app.obligations.scheduled import sweep
from app.webhooks.events import EVENT_TYPES, check_data, emit
from app.webhooks.jobs import progress_sweep
from app.webhooks.models import WebhookDelivery, WebhookEvent
from tests.dispatch.dispatch_support import Person, approved_laptop_incident, import_people
from tests.notices.notices_workflow_sample import LAPTOP
from tests.reports.reports_sample import GDPR_INCIDENT, approved_report, bundle, file_incident
from tests.support import T0, bearer

PUBLIC = "https://93.184.215.14/hook"  # an address literal: no DNS lookup, and public


def _subscribe(client: FlaskClient, admin: Any, events: list[str] | tuple[str, ...] = EVENT_TYPES) -> int:
    response = client.post("/api/webhooks", json={"url": PUBLIC, "events": list(events)}, headers=bearer(admin))
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def _events(session: Session, event_type: str) -> list[dict[str, Any]]:
    session.expire_all()
    rows = session.exec(select(WebhookEvent).where(WebhookEvent.type == event_type)
                        .order_by(col(WebhookEvent.id))).all()
    return [dict(r.payload["data"]) for r in rows]


def _no_contact_data(session: Session) -> None:
    for event in session.exec(select(WebhookEvent)).all():
        text = json.dumps(event.payload)
        assert "@" not in text, text
        check_data(event.payload["data"])


def test_obligation_events_fire_with_the_deadline_sweep(
    client: FlaskClient, make_user: Any, session: Session, clock: FixedClock
) -> None:
    _subscribe(client, make_user("admin"), ["obligation.due_soon", "obligation.overdue"])
    _subscribe(client, make_user("admin"), ["obligation.overdue"])
    assert client.post("/api/incidents", json=LAPTOP, headers=bearer(make_user("responder"))).status_code == 201
    ob = session.exec(select(ObligationRecord).where(ObligationRecord.regime == "us-hipaa",
                                                     ObligationRecord.audience == "individuals")).one()
    assert ob.due_at is not None
    clock.set(ob.due_at - dt.timedelta(hours=6))
    sweep(session, clock=clock, offsets=(86400, 21600))
    soon = [e for e in _events(session, "obligation.due_soon") if e["obligation_id"] == ob.id]
    assert soon == [{"incident_id": ob.incident_id, "obligation_id": ob.id, "regime": "us-hipaa",
                     "audience": "individuals", "due_at": ob.due_at.isoformat(), "seconds_left": 21600}]
    clock.set(ob.due_at + dt.timedelta(seconds=1))
    sweep(session, clock=clock, offsets=(86400, 21600))
    overdue = [e for e in _events(session, "obligation.overdue") if e["obligation_id"] == ob.id]
    assert len(overdue) == 1 and overdue[0]["seconds_left"] == -1
    event = session.exec(select(WebhookEvent).where(WebhookEvent.type == "obligation.overdue")).first()
    assert event is not None
    per_event = session.exec(select(WebhookDelivery).where(WebhookDelivery.event_id == event.id)).all()
    assert len(per_event) == 2  # one outbox row per subscription


def test_notice_dispatch_events_carry_ids_and_counts_only(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    _subscribe(client, make_user("admin"))
    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = approved_laptop_incident(client, drafter, approver, channels=("email", "sms"))
    approved = _events(session, "notice.approved")
    assert sorted(e["channel"] for e in approved) == ["email", "sms"]
    assert {(e["incident_id"], e["regime"], e["audience"]) for e in approved} == {
        (incident_id, "us-ca", "individuals")}
    people = [Person(f"p{i}", f"Person {i}", email=f"p{i}@example.net", phone=f"+1415555{i:04d}") for i in range(3)]
    import_people(app, session, tmp_path, incident_id, people)
    with app.app_context():
        request = run_request(app)
    run = runs.start(session, clock=clock, actor="test", incident_id=incident_id, request=request)
    started = _events(session, "dispatch.progress")
    assert started == [{"incident_id": incident_id, "run_id": run.id, "state": "running",
                        "totals": {"queued": 3}, "total": 3, "done_fraction": 0.0, "substitute": {}}]
    assert progress_sweep(session, clock=clock) == 0  # nothing moved since the last progress event
    runs.control(session, clock=clock, actor="test", run_id=run.id or 0, action="cancel")
    completed = _events(session, "dispatch.completed")
    assert completed[0]["state"] == "cancelled" and completed[0]["totals"] == {"skipped": 3}
    assert finish_runs(session, clock=clock) == 0
    _no_contact_data(session)
    text = json.dumps([e.payload for e in session.exec(select(WebhookEvent)).all()])
    assert "Person" not in text and "+1415555" not in text


def test_report_exported_and_incident_events(client: FlaskClient, make_user: Any, session: Session,
                                            clock: FixedClock) -> None:
    clock.set(T0)  # the GDPR case's report is on time (aware 1 March, due 4 March)
    _subscribe(client, make_user("admin"), ["report.exported", "incident.created"])
    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = file_incident(client, drafter, GDPR_INCIDENT)
    report = approved_report(client, drafter, approver, incident_id, "eu-gdpr")
    meta, _data = bundle(client, drafter, incident_id, report["id"])
    exported = _events(session, "report.exported")
    assert exported == [{"incident_id": incident_id, "report_id": report["id"], "bundle_id": meta["id"],
                         "regime": "eu-gdpr", "phase": report["phase"], "number": report["number"],
                         "sha256": meta["sha256"]}]
    assert _events(session, "incident.created") == [{"incident_id": incident_id, "status": "detected"}]
    _no_contact_data(session)  # the incident names a DPO email and phone: none of it travels


def test_a_failed_state_change_leaves_no_event(client: FlaskClient, make_user: Any, session: Session) -> None:
    admin = make_user("admin")
    _subscribe(client, admin, ["incident.status_changed"])
    incident_id = client.post("/api/incidents", json=LAPTOP, headers=bearer(admin)).json["id"]
    refused = client.patch(f"/api/incidents/{incident_id}", json={"status": "closed", "cause": "nonsense"},
                           headers=bearer(admin))
    assert refused.status_code == 422
    assert _events(session, "incident.status_changed") == []


@pytest.mark.parametrize("data", [{"to": "someone@example.org"}, {"nested": {"phone": "+44 20 7946 0958"}}])
def test_contact_like_data_is_refused(session: Session, clock: FixedClock, data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="contact data"):
        emit(session, clock=clock, event_type="incident.created", data=data)
    with pytest.raises(ValueError, match="unknown webhook event"):
        emit(session, clock=clock, event_type="incident.deleted", data={})


def test_cli_add_list_pause_and_log(runner: FlaskCliRunner) -> None:
    added = runner.invoke(args=["webhooks", "add", "--url", PUBLIC, "--events", "incident.created,report.exported"])
    assert added.exit_code == 0, added.output
    assert "secret: whsec_" in added.output
    assert PUBLIC in runner.invoke(args=["webhooks", "list"]).output
    assert "paused" in runner.invoke(args=["webhooks", "pause", "1"]).output
    assert "paused" in runner.invoke(args=["webhooks", "list"]).output
    assert runner.invoke(args=["webhooks", "log", "1"]).exit_code == 0
    refused = runner.invoke(args=["webhooks", "add", "--url", "https://192.168.0.10/x", "--events", "incident.created"])
    assert refused.exit_code == 2 and "192.168.0.10" in refused.output
    assert "re-queued 0" in runner.invoke(args=["webhooks", "deliver"]).output
