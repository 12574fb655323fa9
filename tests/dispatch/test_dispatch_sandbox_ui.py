"""The embedded default: sandbox channels record full messages in the outbox viewer instead of sending; the
plan warns loudly when the rates miss the deadline; pause, resume and cancel from the UI (with CSRF) and the
CLI; progress in the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from app import create_app
from app.dispatch.models import Delivery, SandboxMessage
from app.dispatch.wiring import make_worker
from app.dispatch.worker import WorkerOptions
from tests.dispatch.dispatch_support import FAST, Person, approved_laptop_incident, import_people
from tests.support import csrf_from, login


def _sandbox_app(app: Flask, **extra: Any) -> Flask:
    return create_app(dict(app.config, **{**FAST, **extra}))


def test_sandbox_records_full_messages_and_the_ui_controls_the_run(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    officer = make_user("privacy_officer")
    incident_id = approved_laptop_incident(client, officer, make_user("privacy_officer"), channels=("email", "sms"))
    people = [Person(f"x-{i}", f"Zoë {i}", email=f"zoe{i}@example.org", phone=f"+1415555{3000 + i}")
              for i in range(6)] + [Person("x-sms", "Sms Only", phone="+14155553999")]
    import_people(app, session, tmp_path, incident_id, people)
    sandbox = _sandbox_app(app, DISPATCH_RATES="email=0.0000001")  # a rate that cannot beat any deadline
    web = sandbox.test_client()
    login(web, officer)
    page = web.get(f"/incidents/{incident_id}/dispatch").get_data(as_text=True)
    assert "the plan does NOT beat it" in page and "WARNING: at the configured rates" in page
    web.post(f"/incidents/{incident_id}/dispatch/start", data={"csrf_token": csrf_from(page), "chain": "email,sms"})
    no_csrf = web.post(f"/incidents/{incident_id}/dispatch/1/pause")
    assert no_csrf.status_code == 400
    page = web.get(f"/incidents/{incident_id}/dispatch").get_data(as_text=True)
    assert 'id="dispatch-state">running<' in page
    run_id = session.exec(select(Delivery.run_id)).first()
    paused = web.post(f"/incidents/{incident_id}/dispatch/{run_id}/pause", data={"csrf_token": csrf_from(page)})
    assert paused.status_code == 302
    with sandbox.app_context():
        worker = make_worker(sandbox, WorkerOptions(once=True, poll=0.01))
    worker.run()  # paused: nothing is claimed
    assert session.exec(select(SandboxMessage)).all() == []
    runner = sandbox.test_cli_runner()
    assert "dispatch run 1 running" in runner.invoke(args=["dispatch", "resume", str(incident_id)]).output
    fast = create_app(dict(app.config, **FAST))
    with fast.app_context():
        make_worker(fast, WorkerOptions(once=True, poll=0.01)).run()
        make_worker(fast, WorkerOptions(once=True, poll=0.01)).run()  # the sweep marks the run done
    messages = session.exec(select(SandboxMessage)).all()
    assert sorted(m.channel for m in messages) == ["email"] * 6 + ["sms"]
    assert all("zoe" not in m.recipient_enc and "Zoë" not in m.content_enc for m in messages)  # encrypted
    outbox = web.get("/dispatch/outbox").get_data(as_text=True)
    assert "zoe0@example.org" in outbox and "Notice of Data Breach" in outbox
    email = next(m for m in messages if m.channel == "email")
    full = web.get(f"/dispatch/outbox/{email.id}").get_data(as_text=True)
    assert f"Message-ID: &lt;delivery-{email.delivery_id}@clinic.example&gt;" in full
    assert "/n/d" in full  # the personal link
    status = json.loads(runner.invoke(args=["dispatch", "status", str(incident_id), "--format", "json"]).output)
    assert status["state"] == "done" and status["totals"]["delivered"] == 7 and status["done_fraction"] == 1.0
    text = runner.invoke(args=["dispatch", "status", str(incident_id)]).output
    assert "100.0 %" in text and "email" in text and "ETA 0 s" in text
    cancel = runner.invoke(args=["dispatch", "cancel", str(incident_id)])
    assert cancel.exit_code == 2 and "is done; cannot cancel" in cancel.output


def test_cancel_skips_what_is_not_yet_sent(app: Flask, client: FlaskClient, make_user: Any, session: Session,
                                           tmp_path: Path) -> None:
    incident_id = approved_laptop_incident(client, make_user("privacy_officer"), make_user("privacy_officer"),
                                           channels=("email",))
    import_people(app, session, tmp_path, incident_id,
                  [Person(f"c-{i}", f"Cy {i}", email=f"cy{i}@example.org") for i in range(4)])
    runner = _sandbox_app(app).test_cli_runner()
    plan = runner.invoke(args=["dispatch", "plan", str(incident_id), "--format", "json"])
    assert json.loads(plan.output)["first_channel"] == {"email": 4}
    assert "dispatch run 1 started" in runner.invoke(args=["dispatch", "run", str(incident_id)]).output
    again = runner.invoke(args=["dispatch", "run", str(incident_id)])
    assert again.exit_code == 2 and "is running; cancel it first" in again.output
    assert "dispatch run 1 cancelled" in runner.invoke(args=["dispatch", "cancel", str(incident_id)]).output
    states = {d.state for d in session.exec(select(Delivery)).all()}
    assert states == {"skipped"}
