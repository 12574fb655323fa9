"""An approved email goes out with the sender and Reply-To that were approved: editing the notice facts'
sender or Reply-To afterwards drafts a new version needing its own approval, and until then the email
sent through the loopback SMTP peer carries the approved version's snapshot, not the live facts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from app.dispatch import runs
from app.dispatch.wiring import make_worker, run_request
from app.dispatch.worker import WorkerOptions
from app.notices import service
from app.sandbox import SandboxPeers
from tests.dispatch.dispatch_support import Person, dispatch_app, import_people
from tests.notices.notices_workflow_sample import FACTS, act, draft, file_incident, put_facts

APPROVED = {**FACTS, "sender_name": "Example Clinic Privacy Office", "sender_address": "privacy@clinic.example",
            "reply_to": "help@clinic.example"}
EDITED = {**FACTS, "sender_name": "Somebody Unapproved", "sender_address": "other@evil.example",
          "reply_to": "attacker@evil.example"}


def test_email_carries_the_approved_sender_and_reply_to_after_the_facts_changed(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = file_incident(client, drafter)
    put_facts(client, drafter, incident_id, APPROVED)
    email = draft(client, drafter, incident_id, regimes=["us-ca"], channels=["email"])[0]
    act(client, drafter, incident_id, email["id"], "submit")
    assert act(client, approver, incident_id, email["id"], "approve").status_code == 200
    redrafted = put_facts(client, drafter, incident_id, EDITED)["redrafted"]
    assert [v["state"] for v in redrafted] == ["draft"]  # the edit waits for its own approval
    approved = service.current_approved(session, incident_id=incident_id, audience="individuals", regime="us-ca",
                                        channel="email", locale="en")
    assert approved is not None and approved.id == email["id"]
    import_people(app, session, tmp_path, incident_id, [Person("p-1", "Pat Doe", email="pat@example.org")])
    with SandboxPeers() as peers:
        live = dispatch_app(app, peers.settings())
        with live.app_context():
            runs.start(session, clock=live.extensions["clock"], actor="test", incident_id=incident_id,
                       request=run_request(live, chain="email"))
            make_worker(live, WorkerOptions(once=True, poll=0.05)).run()
        received = peers.smtp.messages
    assert len(received) == 1 and received[0].mail_from == "privacy@clinic.example"
    message = received[0].parsed()
    assert message["From"].addresses[0].display_name == "Example Clinic Privacy Office"
    assert message["From"].addresses[0].addr_spec == "privacy@clinic.example"
    assert [a.addr_spec for a in message["Reply-To"].addresses] == ["help@clinic.example"]
    assert b"evil.example" not in received[0].content and b"Unapproved" not in received[0].content
