"""Issue 6 acceptance: the 600-patient laptop case dispatched over email, SMS and push against the real
sandbox peers, with scripted failures exercising every fallback step, and the UI showing the outcome."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from app.audit import service as audit
from app.dispatch import runs
from app.dispatch.models import Delivery, DeliveryAttempt, SubstitutePoolEntry
from app.dispatch.wiring import run_request
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
from tests.support import login

RECEIPT_TIMEOUT = 20  # seconds; receipts queue behind one another at the peer on a loaded machine
# group -> (size, email, phone, push): what each scripted group has
GROUPS = {"A": 480, "B": 40, "C": 20, "D": 10, "E": 10, "F": 10, "G": 10, "H": 10, "I": 10}


def _people(peers: SandboxPeers) -> tuple[list[Person], dict[str, list[Person]]]:
    everyone: list[Person] = []
    groups: dict[str, list[Person]] = {}
    n = 0
    for group, size in GROUPS.items():
        for _ in range(size):
            n += 1
            p = Person(f"p-{n}", f"Patient {n} Ødegård")
            if group not in ("G", "H"):
                p.email = f"patient{n}@example.org"
            if group in ("B", "C", "D", "E", "F", "I"):
                p.phone = f"+1415555{1000 + n}"
            if group in ("C", "D", "E", "F", "G"):
                p.push = peers.webpush.new_subscription()
            groups.setdefault(group, []).append(p)
            everyone.append(p)
    return everyone, groups


def _script(peers: SandboxPeers, groups: dict[str, list[Person]]) -> None:
    for group in ("B", "C", "D", "E", "F"):
        for p in groups[group]:
            peers.smtp.fail_recipient(p.email, 550)          # permanent: 5.1.1 -> next channel
    for p in groups["I"]:
        peers.smtp.fail_recipient(p.email, 451)              # temporary forever: retries, then next channel
    for p in groups["C"] + groups["D"]:
        peers.twilio.script(p.phone, 400, 21610)             # opted out -> push
    for p in groups["D"]:
        assert p.push is not None
        peers.webpush.fail(p.push, 410)                      # subscription gone -> letter (no sender) -> pool
    for p in groups["E"]:
        peers.twilio.receipt(p.phone, "undelivered", "30005")  # callback: unknown handset -> push
    for p in groups["F"]:
        peers.twilio.receipt(p.phone, "sent")                # never a final receipt -> receipt timeout -> push


def test_laptop_case_reaches_all_600_with_every_fallback_step(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = approved_laptop_incident(client, drafter, approver, channels=("email", "sms", "push", "letter"))
    with SandboxPeers(receipt_delay=0.05) as peers:
        everyone, groups = _people(peers)
        import_people(app, session, tmp_path, incident_id, everyone)
        _script(peers, groups)
        with served(lambda url: dispatch_app(app, peers.settings(), PUBLIC_URL=url,
                                             RECEIPT_TIMEOUTS=f"sms={RECEIPT_TIMEOUT}")) as (_url, live):
            with live.app_context():
                run = runs.start(session, clock=live.extensions["clock"], actor="test", incident_id=incident_id,
                                 request=run_request(live))
            assert run.plan["people"] == 600 and run.plan["first_channel"] == {"email": 580, "push": 10,
                                                                                "unreachable": 10}
            with running_worker(live):
                wait_for_run(live.extensions["breach_notify_engine"], run.id or 0)

            emails = Counter(address for m in peers.smtp.messages for address in m.rcpt_tos)
            sms = Counter(m.to for m in peers.twilio.messages)
            pushes = Counter(p.token for p in peers.webpush.pushes)
            assert emails == Counter({p.email: 1 for p in groups["A"]})
            assert sms == Counter({p.phone: 1 for g in "BEFI" for p in groups[g]})
            assert pushes == Counter({p.push["endpoint"].rsplit("/", 1)[1]: 1 for g in "CEFG" for p in groups[g]
                                      if p.push})
            _assert_evidence(session, run.id or 0, groups)
            _assert_ui(live, drafter, incident_id)
    assert audit.verify(session).ok


def _assert_evidence(session: Session, run_id: int, groups: dict[str, list[Person]]) -> None:
    session.expire_all()
    c = counts(session, run_id)
    assert (c["email", "delivered"], c["email", "failed_permanent"]) == (480, 100)
    assert (c["sms", "delivered"], c["sms", "failed_permanent"]) == (50, 50)
    assert (c["push", "delivered"], c["push", "failed_permanent"]) == (50, 10)
    pool = session.exec(select(SubstitutePoolEntry).where(SubstitutePoolEntry.run_id == run_id)).all()
    assert Counter(e.kind for e in pool) == {"exhausted": 10, "unreachable": 10}
    exhausted = next(e.reason for e in pool if e.kind == "exhausted")
    assert "push permanent failure" in exhausted and "letter skipped: no sender configured" in exhausted
    unreachable = next(e.reason for e in pool if e.kind == "unreachable")
    assert "email skipped: no usable email address" in unreachable
    reasons = [d.reason for d in session.exec(select(Delivery).where(Delivery.run_id == run_id)).all()]
    assert any(r.startswith(f"fallback from sms; sms no delivery receipt within {RECEIPT_TIMEOUT} s") for r in reasons)
    assert any("sms receipt undelivered 30005" in r for r in reasons)
    assert any("email failed after 3 attempts" in r for r in reasons)
    outcomes = Counter(a.outcome for a in session.exec(select(DeliveryAttempt)).all())
    assert outcomes["receipt_timeout"] == 10 and outcomes["temporary_failure"] == 30
    assert outcomes["receipt:delivered"] == 50
    for attempt in session.exec(select(DeliveryAttempt)).all():  # no contact data in the evidence
        assert "@example.org" not in (attempt.error_message or "") and "+1415" not in (attempt.error_message or "")


def _assert_ui(live: Flask, user: Any, incident_id: int) -> None:
    client = live.test_client()
    login(client, user)
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert 'id="dispatch"' in page and "100.0 %" in page and "<progress" in page
    assert '<th data-state="delivered">580</th>' in page and '<th data-state="failed_permanent">160</th>' in page
    detail = client.get(f"/incidents/{incident_id}/dispatch").get_data(as_text=True)
    assert 'id="dispatch-state">done<' in detail and "substitute notice pool: 10 exhausted 10 unreachable" in detail
