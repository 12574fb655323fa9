"""Voice calls end to end: the app served on loopback, the real worker and the real ``twilio`` client against
the sandbox peer's Calls API, which fetches our TwiML, presses keys and posts signed call statuses."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, func, select
from twilio.request_validator import RequestValidator

from app import create_app
from app.audit import service as audit
from app.clock import FixedClock
from app.dispatch import runs
from app.dispatch.models import Delivery, DeliveryAttempt, DispatchRun, SubstitutePoolEntry
from app.dispatch.wiring import make_worker, run_request
from app.dispatch.worker import WorkerOptions
from app.sandbox import SandboxPeers
from tests.dispatch.dispatch_support import (
    FAST,
    Person,
    counts,
    dispatch_app,
    import_people,
    running_worker,
    served,
    wait_for_run,
)
from tests.notices.notices_workflow_sample import act, draft, file_incident, put_facts

ALWAYS = {"VOICE_QUIET_HOURS": "00:00-24:00"}
LANGUAGES = {"en": ("Polly.Joanna", "en-US", "important call from Example Clinic"),
             "de": ("Polly.Vicki", "de-DE", "wichtiger Anruf von Example Clinic"),
             "fr": ("Polly.Lea", "fr-FR", "appel important de Example Clinic"),
             "zh": ("Polly.Zhiyu", "cmn-CN", "这是Example Clinic关于您个人信息的重要来电")}


def approved_incident(client: FlaskClient, drafter: Any, approver: Any, channels: tuple[str, ...],
                      locales: tuple[str, ...] = ("en",)) -> int:
    """The laptop incident with us-ca individual notices approved for ``channels`` x ``locales``."""
    incident_id = file_incident(client, drafter)
    put_facts(client, drafter, incident_id)
    for version in draft(client, drafter, incident_id, regimes=["us-ca"], channels=list(channels),
                         locales=list(locales)):
        assert act(client, drafter, incident_id, version["id"], "submit").status_code == 200
        assert act(client, approver, incident_id, version["id"], "approve").status_code == 200
    return incident_id


@contextmanager
def dispatched(app: Flask, session: Session, peers: SandboxPeers, incident_id: int,
               chain: str) -> Iterator[tuple[str, Flask, DispatchRun]]:
    """Serve the app wired to ``peers`` (calls at any hour), run ``chain`` with a worker until the run is done;
    yields (public URL, app, run) while the app is still served."""
    with served(lambda url: dispatch_app(app, peers.settings(), PUBLIC_URL=url, **ALWAYS)) as (url, live):
        with live.app_context():
            run = runs.start(session, clock=live.extensions["clock"], actor="test", incident_id=incident_id,
                             request=run_request(live, chain=chain))
        with running_worker(live):
            wait_for_run(live.extensions["breach_notify_engine"], run.id or 0)
        yield url, live, run


def _attempts(session: Session, delivery_id: int) -> list[DeliveryAttempt]:
    return list(session.exec(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id)
                             .order_by(DeliveryAttempt.id)).all())


def test_calls_speak_each_language_and_send_the_link_on_2(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    incident_id = approved_incident(client, make_user("privacy_officer"), make_user("privacy_officer"),
                                    channels=("voice",), locales=tuple(LANGUAGES))
    people = [Person(f"v-{i}", f"Val {i}", phone=f"+1415555{3000 + i}", language=lang)
              for i, lang in enumerate(LANGUAGES)]
    with SandboxPeers() as peers:
        import_people(app, session, tmp_path, incident_id, people)
        peers.twilio.calls.script(people[0].phone, "human", digits="12")
        with dispatched(app, session, peers, incident_id, "voice") as (url, live, run):
            session.expire_all()
            deliveries = session.exec(select(Delivery).where(Delivery.run_id == run.id)).all()
            assert {(d.state, d.provider_status) for d in deliveries} == {("delivered", "completed")}
            calls = {c.to: c for c in peers.twilio.calls.calls}
            assert sorted(calls) == sorted(p.phone for p in people)
            documents = peers.twilio.calls.documents
            assert all(d.problems == () for d in documents), [d.problems for d in documents]
            for person in people:
                voice, language, phrase = LANGUAGES[person.language]
                answer = next(d for d in documents if d.sid == calls[person.phone].sid and d.step == "answer")
                assert {(v, lang) for _, v, lang in answer.says} == {(voice, language)}
                assert phrase in answer.says[0][0] and "1-800-555-0100" in answer.says[0][0]
                assert person.full_name in answer.says[0][0] and answer.gather_action is not None
                assert answer.gather_action.startswith(f"{url}/webhooks/twilio/voice/gather?ref=")
            steps = [d.step for d in documents if d.sid == calls[people[0].phone].sid]
            assert steps == ["answer", "gather:1", "gather:2"]
            link_sms = [m for m in peers.twilio.messages if m.to == people[0].phone]
            assert len(link_sms) == 1 and f"{url}/n/" in link_sms[0].body and len(peers.twilio.messages) == 1
            first = next(d for d in deliveries if d.provider_id == calls[people[0].phone].sid)
            link = [a for a in _attempts(session, first.id or 0) if a.outcome == "voice:link_sms"]
            assert len(link) == 1 and (link[0].provider_id or "").startswith("SM")
            # the person's link opens the full notice
            page = live.test_client().get(link_sms[0].body.rsplit(url, 1)[1])
            assert page.status_code == 200 and "Example Clinic" in page.get_data(as_text=True)
            _forged_changes_nothing(live, session, url, first, peers)


def _forged_changes_nothing(live: Flask, session: Session, url: str, delivery: Delivery, peers: SandboxPeers) -> None:
    web = live.test_client()
    before = session.exec(select(func.count()).select_from(DeliveryAttempt)).one()
    params = {"CallSid": delivery.provider_id or "", "CallStatus": "busy"}
    for path, form in ((f"/webhooks/twilio/voice/status?ref={delivery.id}", params),
                       (f"/webhooks/twilio/voice/gather?ref={delivery.id}", {**params, "Digits": "2"}),
                       (f"/webhooks/twilio/voice/answer?ref={delivery.id}", params)):
        assert web.post(path, data=form, headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}).status_code == 403
        assert web.post(path, data=form).status_code == 403
    session.expire_all()
    assert session.get(Delivery, delivery.id).state == "delivered"  # type: ignore[union-attr]
    assert session.exec(select(func.count()).select_from(DeliveryAttempt)).one() == before
    assert len(peers.twilio.messages) == 1  # the forged "press 2" sent no SMS
    path = f"/webhooks/twilio/voice/answer?ref={delivery.id}"
    signature = RequestValidator(peers.twilio.auth_token).compute_signature(url + path, params)
    genuine = web.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert genuine.status_code == 200 and genuine.mimetype == "application/xml" and b"<Gather" in genuine.data


def test_each_outcome_maps_to_its_state_and_busy_retries_then_falls_back(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    incident_id = approved_incident(client, make_user("privacy_officer"), make_user("privacy_officer"),
                                    channels=("voice", "email"))
    outcomes = ("human", "machine", "busy", "no-answer", "failed")
    people = {o: Person(f"o-{o}", f"Olu {o}", email=f"{o}@example.org", phone=f"+1415555{4000 + i}")
              for i, o in enumerate(outcomes)}
    with SandboxPeers() as peers:
        import_people(app, session, tmp_path, incident_id, list(people.values()))
        for outcome, person in people.items():
            peers.twilio.calls.script(person.phone, outcome, error_code="13227" if outcome == "failed" else None)
        with dispatched(app, session, peers, incident_id, "voice,email") as (_url, _live, run):
            pass
        session.expire_all()
        rows = session.exec(select(Delivery).where(Delivery.run_id == run.id)).all()
        calls = Counter(c.to for c in peers.twilio.calls.calls)
        number_of = {c.sid: c.to for c in peers.twilio.calls.calls}
        emails = sorted(a for m in peers.smtp.messages for a in m.rcpt_tos)
    voice = [d for d in rows if d.channel == "voice"]
    by_outcome = {o: next(d for d in voice if number_of[d.provider_id or ""] == p.phone) for o, p in people.items()}
    assert (by_outcome["human"].state, by_outcome["human"].provider_status) == ("delivered", "completed")
    assert (by_outcome["machine"].state, by_outcome["machine"].provider_status) == ("delivered", "voicemail")
    for retried in ("busy", "no-answer"):  # temporary: retried up to DISPATCH_MAX_ATTEMPTS, then the next channel
        d = by_outcome[retried]
        most = FAST["DISPATCH_MAX_ATTEMPTS"]
        assert (d.state, d.attempts, calls[people[retried].phone]) == ("failed_permanent", most, most)
        receipts = [a.outcome for a in _attempts(session, d.id or 0) if a.outcome.startswith("receipt:")]
        assert receipts == ["receipt:failed_temporary"] * FAST["DISPATCH_MAX_ATTEMPTS"]
    failed = by_outcome["failed"]
    assert (failed.state, failed.attempts, calls[people["failed"].phone]) == ("failed_permanent", 1, 1)
    assert emails == sorted(people[o].email for o in ("busy", "no-answer", "failed"))
    c = counts(session, run.id or 0)
    assert (c["voice", "delivered"], c["voice", "failed_permanent"], c["email", "delivered"]) == (2, 3, 3)
    fallback = [d.reason for d in rows if d.channel == "email"]
    assert any("voice failed after 3 attempts (receipt busy)" in r for r in fallback), fallback
    assert any("voice receipt failed 13227" in r for r in fallback), fallback
    for attempt in session.exec(select(DeliveryAttempt)).all():  # no contact data in the evidence
        assert "+1415" not in (attempt.error_message or "") and "@example.org" not in (attempt.error_message or "")


def test_a_call_due_at_2am_local_waits_until_the_window_opens(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path, clock: FixedClock
) -> None:
    clock.set(dt.datetime(2026, 4, 2, 9, 0, tzinfo=dt.UTC))  # 02:00 in California (PDT), 11:00 in Berlin (CEST)
    incident_id = approved_incident(client, make_user("privacy_officer"), make_user("privacy_officer"),
                                    channels=("voice",))
    people = [Person("q-ca", "Quinn Night", phone="+14155550188"),
              Person("q-de", "Quirin Tag", phone="+4915112345678", country="DE", state="")]
    with SandboxPeers() as peers:
        import_people(app, session, tmp_path, incident_id, people)
        with served(lambda url: create_app(dict(app.config, **peers.settings(), **FAST, PUBLIC_URL=url))) as (_u, live):
            assert live.extensions["clock"] is clock
            with live.app_context():
                # two time zones under one regime: the regime's scope (test_dispatch_scope.py) is not under test
                request = dataclasses.replace(run_request(live, chain="voice"), playbooks={})
                plan = runs.plan(session, clock=clock, incident_id=incident_id, request=request)
                run = runs.start(session, clock=clock, actor="test", incident_id=incident_id, request=request)
                worker = make_worker(live, WorkerOptions(once=True, sweep_every=0.2, poll=0.05))
            assert plan["quiet_hours"] == {"window": "08:00-21:00", "waiting": 1,
                                           "opens_at": "2026-04-02T15:00:00+00:00"}
            assert plan["channels"]["voice"]["seconds"] == 6 * 3600.0
            assert any("wait for the calling window" in w for w in plan["warnings"])
            worker.run()
            assert [c.to for c in peers.twilio.calls.calls] == ["+4915112345678"]  # Berlin: 11:00, called now
            session.expire_all()
            waiting = next(d for d in session.exec(select(Delivery).where(Delivery.run_id == run.id)).all()
                           if d.state != "sent" and d.state != "delivered")
            assert (waiting.state, waiting.attempts) == ("queued", 0)
            assert waiting.next_attempt_at == dt.datetime(2026, 4, 2, 15, 0, tzinfo=dt.UTC)  # 08:00 PDT
            deferred = _attempts(session, waiting.id or 0)
            assert [a.outcome for a in deferred] == ["deferred"]
            assert "America/Los_Angeles" in (deferred[0].error_message or "") and "08:00-21:00" in (
                deferred[0].error_message or "")
            clock.set(dt.datetime(2026, 4, 2, 14, 59, tzinfo=dt.UTC))  # 07:59 local: still waiting
            worker.run()
            assert len(peers.twilio.calls.calls) == 1
            clock.set(dt.datetime(2026, 4, 2, 15, 0, tzinfo=dt.UTC))  # 08:00 local: the window opens
            worker.run()
            assert [c.to for c in peers.twilio.calls.calls] == ["+4915112345678", "+14155550188"]
            assert len(peers.twilio.calls.wait_for_statuses(2, timeout=20)) == 2
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                session.expire_all()
                if session.get(Delivery, waiting.id).state == "delivered":  # type: ignore[union-attr]
                    break
                time.sleep(0.1)
            assert session.get(Delivery, waiting.id).state == "delivered"  # type: ignore[union-attr]
            assert session.get(Delivery, waiting.id).attempts == 1  # type: ignore[union-attr]


def test_fallback_chain_email_sms_voice_then_substitute_notice(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    incident_id = approved_incident(client, make_user("privacy_officer"), make_user("privacy_officer"),
                                    channels=("email", "sms", "voice", "letter"))
    person = Person("f-1", "Fay Failing", email="fay@example.org", phone="+14155550199")
    with SandboxPeers() as peers:
        import_people(app, session, tmp_path, incident_id, [person])
        peers.smtp.fail_recipient(person.email, 550)              # email: mailbox unknown -> sms
        peers.twilio.script(person.phone, 400, 21612)             # sms: not reachable by SMS -> voice
        peers.twilio.calls.script(person.phone, "failed")         # voice: call failed -> letter (no sender)
        with dispatched(app, session, peers, incident_id, "email,sms,voice,letter") as (_url, _live, run):
            pass
    session.expire_all()
    rows = session.exec(select(Delivery).where(Delivery.run_id == run.id).order_by(Delivery.id)).all()
    assert [(d.channel, d.state) for d in rows] == [("email", "failed_permanent"), ("sms", "failed_permanent"),
                                                    ("voice", "failed_permanent")]
    evidence = {d.channel: [a.outcome for a in _attempts(session, d.id or 0)] for d in rows}
    assert evidence == {"email": ["permanent_failure"], "sms": ["permanent_failure"],
                        "voice": ["accepted", "receipt:failed_permanent"]}
    assert rows[1].reason.startswith("fallback from email") and rows[2].reason.startswith("fallback from sms")
    pool = session.exec(select(SubstitutePoolEntry).where(SubstitutePoolEntry.run_id == run.id)).all()
    assert [e.kind for e in pool] == ["exhausted"]
    assert "voice receipt failed" in pool[0].reason and "letter skipped: no sender configured" in pool[0].reason
    assert audit.verify(session).ok
