"""The dispatch JSON API: plan, start, progress, pause, resume and cancel with a bearer token; bad input is
422 naming the field, wrong states 409, reading roles cannot act."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from app.dispatch.models import Delivery, DispatchRun
from tests.dispatch.dispatch_support import Person, approved_laptop_incident, import_people
from tests.support import bearer


def test_plan_start_and_control_a_run_over_the_api(app: Flask, client: FlaskClient, make_user: Any,
                                                    session: Session, tmp_path: Path) -> None:
    officer = make_user("privacy_officer")
    incident_id = approved_laptop_incident(client, officer, make_user("privacy_officer"), channels=("email", "sms"))
    people = [Person(f"a-{i}", f"Ann {i}", email=f"ann{i}@example.org") for i in range(3)]
    people.append(Person("a-sms", "Sam Sms", phone="+14155553998"))
    import_people(app, session, tmp_path, incident_id, people)
    auth = bearer(officer)
    base = f"/api/incidents/{incident_id}/dispatch"

    assert client.get(base, headers=auth).status_code == 404  # no run yet
    plan = client.get(f"{base}/plan?chain=email,sms", headers=auth)
    assert plan.status_code == 200, plan.json
    assert plan.json["people"] == 4 and plan.json["first_channel"] == {"email": 3, "sms": 1}
    assert session.exec(select(DispatchRun)).all() == []  # planning writes nothing

    bad = client.post(base, json={"chain": "email,pigeon"}, headers=auth)
    assert bad.status_code == 422 and "pigeon" in bad.get_data(as_text=True)
    unknown = client.post(base, json={"chian": "email"}, headers=auth)
    assert unknown.status_code == 422 and unknown.json["details"] == [{"path": "chian", "reason": "unknown field"}]
    assert session.exec(select(DispatchRun)).all() == []

    started = client.post(base, json={"chain": "email,sms"}, headers=auth)
    assert started.status_code == 201, started.json
    run_id = started.json["run_id"]
    assert started.json["state"] == "running" and started.json["totals"]["queued"] == 4
    assert len(session.exec(select(Delivery).where(Delivery.run_id == run_id)).all()) == 4
    again = client.post(base, json={}, headers=auth)
    assert again.status_code == 409  # one live run per incident

    sent_now = session.exec(select(Delivery).where(Delivery.run_id == run_id)).all()[:2]
    for delivery in sent_now:  # two went out within the rate window: a running run would show an ETA
        delivery.state, delivery.sent_at = "sent", app.extensions["clock"].now()
        session.add(delivery)
    session.commit()
    assert client.get(base, headers=auth).json["eta_seconds"] > 0
    paused = client.post(f"{base}/{run_id}/pause", headers=auth)
    assert paused.status_code == 200 and paused.json["state"] == "paused"
    assert paused.json["rate"] > 0 and paused.json["eta_seconds"] is None  # a paused run has no ETA
    assert "ETA none while paused" in app.test_cli_runner().invoke(args=["dispatch", "status",
                                                                           str(incident_id)]).output
    assert client.post(f"{base}/{run_id}/pause", headers=auth).status_code == 409
    explode = client.post(f"{base}/{run_id}/explode", headers=auth)
    assert explode.status_code == 422
    assert explode.json["details"] == [{"path": "action", "reason": "pause|resume|cancel"}]
    assert client.post(f"/api/incidents/{incident_id + 99}/dispatch/{run_id}/resume", headers=auth).status_code == 404
    resumed = client.post(f"{base}/{run_id}/resume", headers=auth)
    assert resumed.status_code == 200 and resumed.json["state"] == "running"
    assert client.get(base, headers=auth).json["run_id"] == run_id

    reader = bearer(make_user("reporter"))
    assert client.get(base, headers=reader).status_code == 200
    assert client.post(f"{base}/{run_id}/cancel", headers=reader).status_code == 403
    assert client.get(f"{base}/plan", headers=reader).status_code == 403

    cancelled = client.post(f"{base}/{run_id}/cancel", headers=auth)
    assert cancelled.status_code == 200 and cancelled.json["state"] == "cancelled"
    assert cancelled.json["totals"]["skipped"] == 2 and cancelled.json["totals"]["queued"] == 0


def test_start_without_approved_notices_is_a_conflict(client: FlaskClient, make_user: Any) -> None:
    from tests.dispatch.dispatch_support import file_incident

    officer = make_user("privacy_officer")
    incident_id = file_incident(client, officer)
    answer = client.post(f"/api/incidents/{incident_id}/dispatch", json={}, headers=bearer(officer))
    assert answer.status_code == 409 and answer.json["message"] == f"incident {incident_id} has no notice facts"
    assert client.post("/api/incidents/999999/dispatch", json={}, headers=bearer(officer)).status_code == 404
    assert client.post(f"/api/incidents/{incident_id}/dispatch", data="[1]", content_type="application/json",
                       headers=bearer(officer)).status_code == 422


def test_unknown_channel_in_the_chain_is_named_by_cli_and_ui(app: Flask, client: FlaskClient, make_user: Any) -> None:
    """Before: a ValueError traceback (CLI) and a 500 page (UI form); now the reason, naming the channel."""
    from tests.support import csrf_from, login

    officer = make_user("privacy_officer")
    incident_id = approved_laptop_incident(client, officer, make_user("privacy_officer"), channels=("email",))
    result = app.test_cli_runner().invoke(args=["dispatch", "plan", str(incident_id), "--chain", "email,pigeon"])
    assert result.exit_code == 2 and "pigeon" in result.output and "Traceback" not in result.output
    web = app.test_client()
    login(web, officer)
    page = web.get(f"/incidents/{incident_id}/dispatch").get_data(as_text=True)
    answer = web.post(f"/incidents/{incident_id}/dispatch/start",
                      data={"csrf_token": csrf_from(page), "chain": "email,email"})
    assert answer.status_code == 422 and "email,email" in answer.get_data(as_text=True)
