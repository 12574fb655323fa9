"""Twilio status callbacks at our webhook: a forged signature is refused with 403 and changes nothing; a
genuine one (signed by the peer, or by us with the auth token) moves the delivery."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, func, select
from twilio.request_validator import RequestValidator

from app.dispatch import runs
from app.dispatch.models import Delivery, DeliveryAttempt
from app.dispatch.wiring import run_request
from app.sandbox import SandboxPeers
from tests.dispatch.dispatch_support import (
    Person,
    approved_laptop_incident,
    dispatch_app,
    import_people,
    running_worker,
    served,
)


def _wait_sent(session: Session, n: int) -> list[Delivery]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        session.expire_all()
        rows = session.exec(select(Delivery).where(Delivery.state == "sent")).all()
        if len(rows) == n:
            return list(rows)
        time.sleep(0.1)
    raise AssertionError("SMS were not sent")


def test_forged_callback_is_refused_and_changes_nothing(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    incident_id = approved_laptop_incident(client, make_user("privacy_officer"), make_user("privacy_officer"),
                                           channels=("sms",))
    with SandboxPeers() as peers:
        people = [Person(f"s-{i}", f"Sam {i}", phone=f"+1415555{2000 + i}") for i in range(3)]
        import_people(app, session, tmp_path, incident_id, people)
        for p in people:
            peers.twilio.receipt(p.phone, "sent")  # the peer never reports a final state
        with served(lambda url: dispatch_app(app, peers.settings(), PUBLIC_URL=url,
                                             RECEIPT_TIMEOUTS="sms=600")) as (url, live):
            with live.app_context():
                runs.start(session, clock=live.extensions["clock"], actor="test", incident_id=incident_id,
                           request=run_request(live, chain="sms"))
            with running_worker(live):
                sent = _wait_sent(session, 3)
                assert len(peers.twilio.wait_for_callbacks(6, timeout=20)) == 6  # "sent" twice per message
                time.sleep(0.3)
                target = sent[0]
                path = f"/webhooks/twilio/status?ref={target.id}"
                params = {"MessageSid": target.provider_id or "", "MessageStatus": "delivered"}
                attempts = session.exec(select(func.count()).select_from(DeliveryAttempt)).one()
                web = live.test_client()
                forged = web.post(path, data=params, headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})
                assert forged.status_code == 403
                unsigned = web.post(path, data=params)
                assert unsigned.status_code == 403
                session.expire_all()
                assert session.get(Delivery, target.id).state == "sent"  # type: ignore[union-attr]
                assert session.exec(select(func.count()).select_from(DeliveryAttempt)).one() == attempts
                signature = RequestValidator(peers.twilio.auth_token).compute_signature(url + path, params)
                genuine = web.post(path, data=params, headers={"X-Twilio-Signature": signature})
                assert genuine.status_code == 204
                session.expire_all()
                row = session.get(Delivery, target.id)
                assert row is not None and row.state == "delivered" and row.delivered_at is not None
        # the peer's own signed callbacks ("sent") were all accepted by the webhook
        assert peers.twilio.callbacks and {c.answer for c in peers.twilio.callbacks} == {204}
