"""The whole fallback chain email -> SMS -> voice -> letter -> substitute notice end to end (issue 11
acceptance): the app served on loopback with the real worker against the sandbox SMTP server and Twilio
Messages + Calls APIs, letters batched to a folder drop, returned mail imported; scripted failures at each
step, and each person's evidence (deliveries, attempts, reasons) shows every attempt in order."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections import Counter
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func
from sqlmodel import Session, col, select

from app import db
from app.audit import service as audit
from app.clock import FixedClock
from app.dispatch import runs
from app.dispatch.models import OPEN, QUEUED, Delivery, DeliveryAttempt, DispatchRun, SubstitutePoolEntry
from app.dispatch.sweeps import finish_runs
from app.dispatch.wiring import run_request
from app.letters import flows
from app.letters.scheduled import presume_delivered
from app.sandbox import SandboxPeers
from app.subjects.models import DataSubject
from tests.dispatch.dispatch_support import (
    FAST,
    Person,
    approved_laptop_incident,
    dispatch_app,
    import_people,
    running_worker,
    served,
)
from tests.dispatch.test_dispatch_voice import ALWAYS

GROUPS = ("email", "sms", "voice", "letter", "returned")
MOST = FAST["DISPATCH_MAX_ATTEMPTS"]


def _people() -> dict[str, list[Person]]:
    """Two people per group, each with an email address, a phone number and a postal address."""
    return {group: [Person(f"{group}-{n}", f"{group.title()} Person{n}", email=f"{group}{n}@example.org",
                           phone=f"+1415555{5000 + 10 * g + n}", address=f"{100 + 10 * g + n} Market Street",
                           city="San Francisco", postal_code="94105") for n in range(2)]
            for g, group in enumerate(GROUPS)}


def _script(peers: SandboxPeers, groups: dict[str, list[Person]]) -> None:
    for group in GROUPS[1:]:
        for p in groups[group]:
            peers.smtp.fail_recipient(p.email, 550)             # mailbox unknown -> sms
    for group in GROUPS[2:]:
        for p in groups[group]:
            peers.twilio.script(p.phone, 400, 21610)            # opted out of SMS -> voice
    for p in groups["letter"]:
        peers.twilio.calls.script(p.phone, "busy")              # busy up to the attempt limit -> letter
    for p in groups["returned"]:
        peers.twilio.calls.script(p.phone, "failed", error_code="13227")  # call failed -> letter


def _wait_for_letters(engine: Any, run_id: int, letters: int, timeout: float = 45.0) -> None:
    """Poll until every open delivery of the run is a queued letter, and there are ``letters`` of them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.session_scope(engine) as s:
            open_ = Counter(s.execute(select(Delivery.channel, Delivery.state).where(
                Delivery.run_id == run_id, col(Delivery.state).in_(OPEN))).all())
        if open_ == Counter({("letter", QUEUED): letters}):
            return
        time.sleep(0.2)
    raise AssertionError(f"run {run_id}: open deliveries after {timeout} s: {open_}")


def _evidence(session: Session, subject_id: int, run_id: int) -> list[tuple[str, str, str]]:
    """(channel, delivery state, attempt outcome) of every attempt of the person, in order."""
    return [(d.channel, d.state, a.outcome) for d, a in session.execute(
        select(Delivery, DeliveryAttempt).join(DeliveryAttempt, col(DeliveryAttempt.delivery_id) == col(Delivery.id))
        .where(Delivery.run_id == run_id, Delivery.subject_id == subject_id)
        .order_by(col(Delivery.id), col(DeliveryAttempt.id))).all()]


def test_email_sms_voice_letter_then_substitute_notice_with_every_attempt_in_the_evidence(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    incident_id = approved_laptop_incident(client, make_user("privacy_officer"), make_user("privacy_officer"),
                                           channels=("email", "sms", "voice", "letter"))
    groups = _people()
    drop = tmp_path / "drop"
    # receipts and call outcomes come half a second after the send, as real ones do, so each attempt row
    # follows its send (a receipt overtaking the send's commit is test_dispatch_receipt_race's case)
    with SandboxPeers(receipt_delay=0.5) as peers:
        peers.twilio.calls.ring_seconds = 1.5  # a call's outcome well after its send's commit, even on a loaded machine
        import_people(app, session, tmp_path, incident_id, [p for g in GROUPS for p in groups[g]])
        _script(peers, groups)
        settings = {**peers.settings(), **ALWAYS, "LETTER_DROP": str(drop)}
        with served(lambda url: dispatch_app(app, settings, PUBLIC_URL=url)) as (_url, live):
            with live.app_context():
                run = runs.start(session, clock=live.extensions["clock"], actor="test", incident_id=incident_id,
                                 request=run_request(live, chain="email,sms,voice,letter"))
            with running_worker(live):
                _wait_for_letters(live.extensions["breach_notify_engine"], run.id or 0, letters=4)
        emails = Counter(a for m in peers.smtp.messages for a in m.rcpt_tos)
        texts = Counter(m.to for m in peers.twilio.messages)
        calls = Counter(c.to for c in peers.twilio.calls.calls)

    # at the peers: one message per channel tried (busy calls: one per attempt)
    assert emails == Counter(p.email for p in groups["email"])
    assert texts == Counter(p.phone for p in groups["sms"])
    assert calls == Counter({**{p.phone: 1 for g in ("voice", "returned") for p in groups[g]},
                             **{p.phone: MOST for p in groups["letter"]}})

    # the letters: one batch in the folder drop, its manifest lists the four waiting letters
    outcome = flows.batch(live, session, actor="test", incident_id=incident_id)
    assert outcome.error is None and outcome.failed == {} and outcome.batch is not None
    assert sorted(p.name for p in drop.iterdir()) == sorted([outcome.batch.pdf_name, outcome.batch.manifest_name])
    manifest = list(csv.DictReader(io.StringIO((drop / outcome.batch.manifest_name).read_text(encoding="utf-8"))))
    assert sorted(r["addressee"] for r in manifest) == sorted(p.full_name for g in ("letter", "returned")
                                                              for p in groups[g])
    subject_of = _subjects(live, session)
    letter_of = {subject_of[r["addressee"]]: int(r["delivery_id"]) for r in manifest}
    returned = "".join(f'{letter_of[subject_of[p.full_name]]},"Moved, left no address"\n' for p in groups["returned"])
    report = flows.returns(live, session, actor="test", incident_id=incident_id, text="delivery_id,reason\n" + returned)
    assert (report.returned, report.moved_to) == (2, {"substitute": 2})
    sent_at = session.get(Delivery, letter_of[subject_of[groups["letter"][0].full_name]]).sent_at  # type: ignore[union-attr]
    assert sent_at is not None
    days = int(live.config["LETTER_RETURN_DAYS"])
    assert presume_delivered(session, clock=FixedClock(sent_at + dt.timedelta(days=days + 1)), days=days) == 2
    assert finish_runs(session, clock=live.extensions["clock"]) == 1
    session.expire_all()
    assert session.get(DispatchRun, run.id).state == "done"  # type: ignore[union-attr]

    subjects = {g: [subject_of[p.full_name] for p in groups[g]] for g in GROUPS}
    _check_states(session, run.id or 0, pooled=subjects["returned"])
    _check_evidence(session, run.id or 0, subjects)
    assert audit.verify(session).ok


def _subjects(live: Flask, session: Session) -> dict[str, int]:
    cipher = live.extensions["keys"].cipher()
    return {cipher.decrypt(s.full_name_enc or ""): s.id or 0 for s in session.exec(select(DataSubject)).all()}


def _check_states(session: Session, run_id: int, *, pooled: list[int]) -> None:
    states = Counter(session.execute(select(Delivery.channel, Delivery.state, Delivery.provider_status)
                                     .where(Delivery.run_id == run_id)).all())
    assert states == Counter({("email", "delivered", "2.0.0"): 2, ("email", "failed_permanent", None): 8,
                              ("sms", "delivered", "delivered"): 2, ("sms", "failed_permanent", None): 6,
                              ("voice", "delivered", "completed"): 2, ("voice", "failed_permanent", "busy"): 2,
                              ("voice", "failed_permanent", "failed"): 2,
                              ("letter", "delivered", "handed_over"): 2,
                              ("letter", "failed_permanent", "handed_over"): 2}), states
    pool = session.exec(select(SubstitutePoolEntry).where(SubstitutePoolEntry.run_id == run_id)).all()
    assert sorted((e.subject_id, e.kind) for e in pool) == [(s, "exhausted") for s in sorted(pooled)]
    for entry in pool:
        assert entry.reason == "letter returned mail: Moved, left no address; no channel left: substitute notice"
    assert session.execute(select(func.count()).select_from(Delivery).where(
        Delivery.run_id == run_id, col(Delivery.state).in_(OPEN))).scalar_one() == 0


def _check_evidence(session: Session, run_id: int, subjects: dict[str, list[int]]) -> None:
    email_failed = [("email", "failed_permanent", "permanent_failure")]
    sms_failed = [("sms", "failed_permanent", "permanent_failure")]
    busy = [("voice", "failed_permanent", step) for _ in range(MOST)
            for step in ("accepted", "receipt:failed_temporary")]
    expected = {
        "email": [("email", "delivered", "accepted")],
        "sms": [*email_failed, ("sms", "delivered", "accepted"), ("sms", "delivered", "receipt:sent"),
                ("sms", "delivered", "receipt:delivered")],
        "voice": [*email_failed, *sms_failed, ("voice", "delivered", "accepted"),
                  ("voice", "delivered", "receipt:delivered")],
        "letter": [*email_failed, *sms_failed, *busy, ("letter", "delivered", "accepted"),
                   ("letter", "delivered", "no_return")],
        "returned": [*email_failed, *sms_failed, ("voice", "failed_permanent", "accepted"),
                     ("voice", "failed_permanent", "receipt:failed_permanent"),
                     ("letter", "failed_permanent", "accepted"), ("letter", "failed_permanent", "returned_mail")],
    }
    chain = ["first channel",
             "fallback from email; email permanent failure: SMTP RCPT rejected: 550 5.1.1 Mailbox unavailable"
             " (sandbox)",
             "fallback from sms; sms permanent failure: 21610: recipient opted out of messages from this sender"]
    reasons = {"email": chain[:1], "sms": chain[:2], "voice": chain,
               "letter": [*chain, f"fallback from voice; voice failed after {MOST} attempts (receipt busy)"],
               "returned": [*chain, "fallback from voice; voice receipt failed 13227"]}
    for group, ids in subjects.items():
        for subject_id in ids:
            assert _evidence(session, subject_id, run_id) == expected[group], (group, subject_id)
            assert [d.reason for d in session.exec(select(Delivery).where(
                Delivery.run_id == run_id, Delivery.subject_id == subject_id).order_by(col(Delivery.id))).all()
                    ] == reasons[group], (group, subject_id)
