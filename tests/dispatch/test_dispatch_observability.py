"""Issue 10 parts 4 and 5 on a real dispatch against the sandbox peers: ``/metrics`` reports what the database and
the worker did (deliveries, outbox, retries, fallbacks, provider latency, obligations, imports), and the JSON
logs of the whole run carry request, incident and delivery ids but no email address, phone number or notice
text."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlmodel import Session

from app.dispatch import runs
from app.dispatch.wiring import run_request
from app.obligations.models import ObligationRecord
from app.ops.logs import configure_logging
from app.sandbox import SandboxPeers
from tests.dispatch.dispatch_support import (
    Person,
    approved_laptop_incident,
    counts,
    dispatch_app,
    import_people,
    running_worker,
    served,
    wait_for_run,
)
from tests.support import bearer

TOKEN = "metrics-token-0123456789"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z0-9.-]+")
PHONE = re.compile(r"\+?1?415555\d{4}")


def scrape(app: Flask) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``/metrics`` parsed: (sample name, sorted labels) -> value."""
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True)) for s in family.samples}


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _people(peers: SandboxPeers) -> list[Person]:
    people = [Person(f"ok-{n}", f"Ok Person {n}", email=f"ok{n}@example.org") for n in range(3)]
    people.append(Person("gone", "Gone Mailbox", email="gone@example.org", phone="+14155551001"))
    people.append(Person("busy", "Busy Mailbox", email="busy@example.org", phone="+14155551002"))
    people.append(Person("push", "Push Only", push=peers.webpush.new_subscription()))
    peers.smtp.fail_recipient("gone@example.org", 550)  # permanent: fallback to SMS
    peers.smtp.fail_recipient("busy@example.org", 451)  # temporary: 2 retries, then fallback to SMS
    return people


def test_metrics_and_logs_of_a_full_dispatch(app: Flask, client: FlaskClient, make_user: Any, session: Session,
                                             tmp_path: Path) -> None:
    logs = io.StringIO()
    configure_logging(level="DEBUG", fmt="json", stream=logs)
    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = approved_laptop_incident(client, drafter, approver, channels=("email", "sms", "push"))
    before = {"retries": counter("breach_notify_delivery_retries_total", channel="email"),
              "fallbacks": counter("breach_notify_delivery_fallbacks_total", from_channel="email", to_channel="sms"),
              "sent": counter("breach_notify_provider_send_seconds_count", channel="email", outcome="accepted")}
    with SandboxPeers(receipt_delay=0.05) as peers:
        import_people(app, session, tmp_path, incident_id, _people(peers))
        with served(lambda url: dispatch_app(app, peers.settings(), PUBLIC_URL=url, METRICS_TOKEN=TOKEN)) as (
                _url, live):
            configure_logging(level="DEBUG", fmt="json", stream=logs)  # create_app configured stderr
            with live.app_context():
                run = runs.start(session, clock=live.extensions["clock"], actor="test", incident_id=incident_id,
                                 request=run_request(live))
            queued = scrape(live)
            assert queued[("breach_notify_outbox_depth", (("channel", "email"),))] == 5
            assert queued[("breach_notify_outbox_oldest_queued_seconds", (("channel", "email"),))] >= 0
            assert queued[("breach_notify_deliveries", (("channel", "email"), ("state", "queued")))] == 5
            with running_worker(live):
                wait_for_run(live.extensions["breach_notify_engine"], run.id or 0)
            api = live.test_client().get(f"/api/incidents/{incident_id}/dispatch",
                                         headers={**bearer(drafter), "X-Request-ID": "req-observability-1"})
            assert api.status_code == 200 and api.headers["X-Request-ID"] == "req-observability-1"
            after = scrape(live)
        sms_bodies = [m.body for m in peers.twilio.messages]
        email_texts = [m.parsed().get_body(("plain",)).get_content() for m in peers.smtp.messages]
    _assert_metrics(session, run.id or 0, after, before)
    _assert_logs(logs.getvalue(), incident_id, sms_bodies, email_texts)


def _assert_metrics(session: Session, run_id: int, after: dict[Any, float], before: dict[str, float]) -> None:
    session.expire_all()
    c = counts(session, run_id)
    assert (c["email", "delivered"], c["email", "failed_permanent"], c["sms", "delivered"],
            c["push", "delivered"]) == (3, 2, 2, 1)
    for (channel, state), n in c.by.items():
        assert after[("breach_notify_deliveries", (("channel", channel), ("state", state)))] == n
    assert not [k for k in after if k[0] == "breach_notify_outbox_depth"]  # nothing left to send
    assert counter("breach_notify_delivery_retries_total", channel="email") - before["retries"] == 2
    assert counter("breach_notify_delivery_fallbacks_total", from_channel="email",
                   to_channel="sms") - before["fallbacks"] == 2
    assert counter("breach_notify_provider_send_seconds_count", channel="email",
                   outcome="accepted") - before["sent"] == 3
    assert after[("breach_notify_provider_send_seconds_count", (("channel", "sms"), ("outcome", "accepted")))] >= 2
    by_status = dict(session.execute(select(ObligationRecord.status, func.count())
                                     .group_by(ObligationRecord.status)).all())
    assert by_status and all(after[("breach_notify_obligations", (("status", s),))] == n for s, n in by_status.items())
    assert ("breach_notify_obligation_nearest_deadline_seconds", ()) in after
    assert after[("breach_notify_import_rows_total", ())] == 6
    assert after[("breach_notify_import_rejects_total", ())] == 0


def _assert_logs(text: str, incident_id: int, sms_bodies: list[str], email_texts: list[str]) -> None:
    records = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is JSON
    attempts = [r for r in records if r["event"] == "delivery attempt"]
    assert len(attempts) == 3 + 1 + 3 + 2 + 1  # ok, 550, 451 x3, two SMS, one push
    assert all(r["incident_id"] == incident_id and isinstance(r["delivery_id"], int) for r in attempts)
    requests = [r for r in records if r["event"] == "request" and r.get("request_id") == "req-observability-1"]
    assert requests and requests[0]["incident_id"] == incident_id
    assert requests[0]["route"] == "/api/incidents/<int:incident_id>/dispatch"
    assert not [line for line in text.splitlines() if EMAIL.search(line)], [
        line for line in text.splitlines() if EMAIL.search(line)][:3]
    assert not [line for line in text.splitlines() if PHONE.search(line)], [
        line for line in text.splitlines() if PHONE.search(line)][:3]
    assert sms_bodies and email_texts
    passages = {line.strip() for body in [*sms_bodies, *email_texts] for line in body.splitlines()
                if len(line.strip()) >= 30}
    assert passages
    leaked = [p for p in passages if p in text]
    assert not leaked, leaked[:3]
