"""A dispatch run sends a regime's notices to the people that regime covers: a state law's notice reaches its
residents and people whose residence is unknown, never people known to live elsewhere (they used to get every
regime's notice: a German resident the California notice, Californians the GDPR one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from app.dispatch import runs
from app.dispatch.models import Delivery
from app.dispatch.wiring import run_request
from app.errors import Conflict
from app.subjects.models import DataSubject
from tests.dispatch.dispatch_support import Person, approved_laptop_incident, import_people


def test_a_state_law_run_leaves_out_people_known_to_live_elsewhere(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    incident_id = approved_laptop_incident(client, make_user("privacy_officer"), make_user("privacy_officer"),
                                           channels=("email",))
    import_people(app, session, tmp_path, incident_id, [
        Person("ca-1", "Ann Cal", email="ann@example.org"),
        Person("ca-2", "Bo Cal", email="bo@example.org"),
        Person("de-1", "Jan Jung", email="jan@example.de", country="DE", state="", language="de"),
        Person("nv-1", "Nia Vegas", email="nia@example.org", state="NV"),
        Person("xx-1", "Una Known", email="una@example.org", country="", state=""),
        Person("us-1", "Uma State", email="uma@example.org", state=""),  # a US resident, state unknown
    ])
    places = dict(session.exec(select(DataSubject.id, DataSubject.jurisdiction)).all())
    assert sorted(places.values(), key=str) == ["DE", None, "US", "US-CA", "US-CA", "US-NV"]
    clock, request = app.extensions["clock"], run_request(app, chain="email")
    with app.app_context():
        doc = runs.plan(session, clock=clock, incident_id=incident_id, request=request)
        assert (doc["regime"], doc["people"], doc["outside_scope"]) == ("us-ca", 4, 2)
        assert "2 people live outside us-ca's scope (US-CA): this run leaves them out; dispatch the notices of " \
               "the regime that covers them" in doc["warnings"]
        run = runs.start(session, clock=clock, actor="test", incident_id=incident_id, request=request)
    reached = {places[d.subject_id] for d in session.exec(select(Delivery).where(Delivery.run_id == run.id)).all()}
    assert reached == {"US-CA", "US", None}
    with app.app_context():
        runs.control(session, clock=clock, actor="test", run_id=run.id or 0, action="cancel")
    unscoped = runs.RunRequest(chain=request.chain, senders=request.senders, rates=request.rates)
    with app.app_context():  # without playbooks (no scope known) a run is for everyone, as before
        assert runs.plan(session, clock=clock, incident_id=incident_id, request=unscoped)["outside_scope"] == 0


def test_a_run_with_nobody_in_scope_is_refused(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    incident_id = approved_laptop_incident(client, make_user("privacy_officer"), make_user("privacy_officer"),
                                           channels=("email",))
    import_people(app, session, tmp_path, incident_id,
                  [Person("de-1", "Jan Jung", email="jan@example.de", country="DE", state="", language="de")])
    with app.app_context(), pytest.raises(Conflict, match=r"nobody in incident \d+ is in us-ca's scope: 1 person "
                                                        "lives elsewhere"):
        runs.start(session, clock=app.extensions["clock"], actor="test", incident_id=incident_id,
                   request=run_request(app, chain="email"))
    assert session.exec(select(Delivery)).all() == []


def test_the_dispatch_page_plans_and_starts_the_chosen_regime(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    from tests.notices.notices_workflow_sample import act, draft
    from tests.support import csrf_from, login

    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = approved_laptop_incident(client, drafter, approver, channels=("email",))
    for version in draft(client, drafter, incident_id, regimes=["us-hipaa"], channels=["email"]):
        assert act(client, drafter, incident_id, version["id"], "submit").status_code == 200
        assert act(client, approver, incident_id, version["id"], "approve").status_code == 200
    import_people(app, session, tmp_path, incident_id, [
        Person("ca-1", "Ann Cal", email="ann@example.org"),
        Person("de-1", "Jan Jung", email="jan@example.de", country="DE", state="", language="de")])
    login(client, drafter)
    page = client.get(f"/incidents/{incident_id}/dispatch").get_data(as_text=True)
    assert '<option value="us-ca" selected>' in page and '<option value="us-hipaa">' in page
    assert "1 person to notify in this run; notices of us-ca." in page
    hipaa = client.get(f"/incidents/{incident_id}/dispatch?regime=us-hipaa").get_data(as_text=True)
    assert '<option value="us-hipaa" selected>' in hipaa and "2 people to notify in this run" in hipaa
    assert '<input type="hidden" name="regime" value="us-hipaa">' in hipaa
    started = client.post(f"/incidents/{incident_id}/dispatch/start",
                          data={"csrf_token": csrf_from(hipaa), "chain": "email", "regime": "us-hipaa"})
    assert started.status_code == 302
    run = session.exec(select(runs.DispatchRun)).one()
    assert run.regime == "us-hipaa"  # HIPAA covers every individual, wherever they live (45 CFR 164.404(a)(1))
    assert len(session.exec(select(Delivery).where(Delivery.run_id == run.id)).all()) == 2


def test_a_false_positive_incident_sends_nothing_and_cannot_be_marked_so_mid_dispatch(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    from app.announcements import service as announcements
    from app.incidents import service as incidents

    incident_id = approved_laptop_incident(client, make_user("privacy_officer"), make_user("privacy_officer"),
                                           channels=("email",))
    import_people(app, session, tmp_path, incident_id, [Person("ca-1", "Ann Cal", email="ann@example.org")])
    clock, request = app.extensions["clock"], run_request(app, chain="email")
    with app.app_context():
        run = runs.start(session, clock=clock, actor="test", incident_id=incident_id, request=request)
        with pytest.raises(Conflict, match=rf"dispatch run {run.id} of incident {incident_id} is running: cancel it"):
            incidents.update(session, clock=clock, actor="test", incident_id=incident_id,
                             changes={"status": "false_positive"})
        assert incidents.get(session, incident_id=incident_id).status == "detected"
        runs.control(session, clock=clock, actor="test", run_id=run.id or 0, action="cancel")
        incidents.update(session, clock=clock, actor="test", incident_id=incident_id,
                         changes={"status": "false_positive"})
        with pytest.raises(Conflict, match=r"marked false_positive \(no personal data breach\): dispatch refused"):
            runs.start(session, clock=clock, actor="test", incident_id=incident_id, request=request)
        with pytest.raises(Conflict, match="publishing a public notice refused"):
            announcements.publish(session, clock=clock, actor="test", incident_id=incident_id, decision={})
    assert session.exec(select(runs.DispatchRun)).all() == [run]


def test_someone_one_run_could_not_reach_but_another_did_is_not_unreachable(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    from sqlalchemy import update

    from app.announcements.service import unreachable_count
    from app.dispatch.models import DELIVERED, SubstitutePoolEntry

    incident_id = approved_laptop_incident(client, make_user("privacy_officer"), make_user("privacy_officer"),
                                           channels=("email", "sms"))
    import_people(app, session, tmp_path, incident_id, [Person("ca-1", "Ann Cal", phone="+14155550101"),
                                                        Person("ca-2", "Bo Cal", email="bo@example.org")])
    clock = app.extensions["clock"]
    with app.app_context():
        first = runs.start(session, clock=clock, actor="test", incident_id=incident_id,
                           request=run_request(app, chain="email"))
        assert [p.kind for p in session.exec(select(SubstitutePoolEntry)).all()] == ["unreachable"]  # Ann: no email
        assert unreachable_count(session, incident_id=incident_id) == 1
        (email,) = session.exec(select(Delivery).where(Delivery.run_id == first.id)).all()  # Bo's
        session.execute(update(Delivery).where(Delivery.id == email.id).values(state=DELIVERED))  # type: ignore[arg-type]
        session.commit()
        runs.control(session, clock=clock, actor="test", run_id=first.id or 0, action="cancel")
        second = runs.start(session, clock=clock, actor="test", incident_id=incident_id,
                            request=run_request(app, chain="sms"))
    (sms,) = session.exec(select(Delivery).where(Delivery.run_id == second.id)).all()
    assert len(session.exec(select(SubstitutePoolEntry)).all()) == 2  # the SMS run pools Bo (no phone)...
    assert unreachable_count(session, incident_id=incident_id) == 1  # ...whom the email reached; Ann's SMS is queued
    session.execute(update(Delivery).where(Delivery.id == sms.id).values(state=DELIVERED))  # type: ignore[arg-type]
    session.commit()
    assert unreachable_count(session, incident_id=incident_id) == 0  # the SMS reached her
