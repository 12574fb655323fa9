"""A regulator report counts its own regime: the people that regime covers (everyone, or its residents:
``app.announcements.scope.scope_of``) and the deliveries of the runs that sent that regime's notices."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlmodel import Session

from app.clock import FixedClock
from app.dispatch.models import Delivery, DispatchRun
from app.notices.models import NoticeVersion
from app.subjects.models import DataSubject, IncidentSubject
from tests.notices.notices_workflow_sample import draft as draft_notices
from tests.notices.notices_workflow_sample import facts, put_facts
from tests.reports.reports_sample import GDPR_INCIDENT, draft, file_incident
from tests.substitute_sample import approve_announcement, incident_with
from tests.support import AFTER_LAPTOP, bearer

# 5 people: 3 living in the EU (DE, DE, AT), 2 in California.
PEOPLE = ("external_id,full_name,email,country,state\n"
          "e-1,Anna Berg,anna@example.org,DE,\n"
          "e-2,Jonas Kurz,jonas@example.org,DE,\n"
          "e-3,Eva Gruber,eva@example.org,AT,\n"
          "u-1,Mia Cole,mia@example.org,US,CA\n"
          "u-2,Leo Park,leo@example.org,US,CA\n")


def _with_people(client: FlaskClient, user: Any, establishment: str, people: str = PEOPLE,
                 estimate: int = 5, places: dict[str, int] | None = None) -> int:
    """The GDPR incident of a controller established in ``establishment``, ``people`` (CSV) imported; the
    file estimates ``estimate`` people (``places``: its ``by_jurisdiction``)."""
    incident_id = file_incident(client, user, {**GDPR_INCIDENT, "controller": {
        **GDPR_INCIDENT["controller"], "establishment": establishment},
        "subjects": {"count": estimate, "by_jurisdiction": places or {}}})
    imported = client.post(f"/api/incidents/{incident_id}/subjects/import", headers=bearer(user),
                           data={"file": (io.BytesIO(people.encode()), "people.csv")},
                           content_type="multipart/form-data")
    assert imported.status_code == 201 and imported.json["linked"] == people.count("\n") - 1, imported.json
    return incident_id


def test_gdpr_report_counts_eu_residents_when_the_controller_is_established_outside(
        client: FlaskClient, make_user: Any) -> None:
    officer = make_user("privacy_officer")
    outside = _with_people(client, officer, "US-CA")  # GDPR applies by Art. 3(2): to its EU residents only
    content = draft(client, officer, outside, "eu-gdpr").json["content"]
    assert content["data_subjects"]["approximate_number"] == 3
    assert content["data_subjects"]["who"] == "residents where eu-gdpr applies"
    assert content["personal_data"]["approximate_records"] == 3
    assert (content["counts"]["people"], content["counts"]["regime_people"]) == (5, 3)
    assert content["cross_border"] == {"AT": 1, "DE": 2, "US-CA": 2}  # the whole picture stays in the report

    established = _with_people(client, officer, "DE")  # Art. 3(1): everyone, wherever they live
    content = draft(client, officer, established, "eu-gdpr").json["content"]
    assert content["data_subjects"]["approximate_number"] == 5 and content["data_subjects"]["who"] == "people"
    assert content["counts"]["regime_people"] == 5 and content["data_subjects"]["number_type"] == "exact"


def test_a_partial_import_never_understates_the_number_reported(client: FlaskClient, make_user: Any) -> None:
    officer = make_user("privacy_officer")
    incident_id = _with_people(client, officer, "DE", estimate=1200)  # 5 of the 1,200 estimated imported so far
    content = draft(client, officer, incident_id, "eu-gdpr").json["content"]
    assert (content["data_subjects"]["approximate_number"], content["data_subjects"]["number_type"]) == (
        1200, "approximate")
    assert (content["counts"]["people"], content["counts"]["is_estimate"]) == (1200, True)
    # residents too: 3 EU residents imported of the 1,000 Germans the file estimates
    outside = _with_people(client, officer, "US-CA", estimate=1200, places={"DE": 1000, "US-CA": 200})
    content = draft(client, officer, outside, "eu-gdpr").json["content"]
    assert content["data_subjects"]["approximate_number"] == 1001  # DE 1000 (estimate) + AT 1 (imported)
    assert content["cross_border"] == {"AT": 1, "DE": 1000, "US-CA": 200}


def _run(session: Session, incident_id: int, regime: str, channel: str, sent: dt.datetime,
         only: set[int] | None = None) -> None:
    """A finished run of ``regime`` that delivered on ``channel`` to every person of the incident (``only``:
    those subject ids); the notice is any version of the incident (the report reads the run's regime)."""
    version_id = session.execute(select(NoticeVersion.id).where(NoticeVersion.incident_id == incident_id)).scalar()
    run = DispatchRun(incident_id=incident_id, state="finished", regime=regime, channel_order=[channel],
                      versions={}, plan={}, created_by="test", created_at=sent, updated_at=sent)
    session.add(run)
    session.flush()
    for subject_id in session.execute(select(IncidentSubject.subject_id).where(
            IncidentSubject.incident_id == incident_id)).scalars():
        if only is not None and subject_id not in only:
            continue
        session.add(Delivery(run_id=run.id or 0, notice_version_id=version_id or 0, subject_id=subject_id,
                             channel=channel, state="delivered", next_attempt_at=sent, created_at=sent, sent_at=sent))
    session.commit()


def test_hhs_report_counts_only_the_hipaa_notices_delivered(
        client: FlaskClient, make_user: Any, runner: FlaskCliRunner, tmp_path: Path, session: Session,
        clock: FixedClock) -> None:
    clock.set(AFTER_LAPTOP)  # the laptop case is filed after its discovery
    drafter, officer = make_user("responder"), make_user("privacy_officer")
    incident_id = incident_with(client, runner, drafter, tmp_path, 12)
    approve_announcement(client, drafter, officer, incident_id)
    _run(session, incident_id, "us-ca", "sms", dt.datetime(2026, 4, 10, 12, 0, tzinfo=dt.UTC))
    notice = draft(client, drafter, incident_id, "us-hipaa").json["content"]["notice"]
    assert notice["individual_notice"]["people_notified"] == 0  # California's notices are no HIPAA notice
    assert notice["individual_notice"]["by_channel"] == {} and notice["individual_notice_date"] is None

    _run(session, incident_id, "us-hipaa", "email", dt.datetime(2026, 4, 18, 23, 30, tzinfo=dt.UTC))
    notice = draft(client, drafter, incident_id, "us-hipaa").json["content"]["notice"]
    people = session.execute(select(IncidentSubject.subject_id).where(
        IncidentSubject.incident_id == incident_id)).scalars().all()
    assert notice["individual_notice"]["people_notified"] == len(people)
    assert notice["individual_notice"]["by_channel"] == {"email": {"delivered": len(people)}}
    assert notice["individual_notice_date"] == "2026-04-18"


def test_texas_report_counts_the_texans_its_notice_reached(
        client: FlaskClient, make_user: Any, session: Session) -> None:
    officer, drafter = make_user("privacy_officer"), make_user("responder")
    people = ("external_id,full_name,email,country,state\n"
              "t-1,Ava Reed,ava@example.org,US,TX\n"
              "t-2,Ben Hale,,US,TX\n"  # no contact: never reached
              "x-1,Cal Moss,cal@example.org,,\n")  # residence unknown: the Texas run sends to them too
    incident_id = _with_people(client, officer, "US-TX", people, estimate=3)
    ids = dict(session.execute(select(DataSubject.jurisdiction, DataSubject.id).join(
        IncidentSubject, IncidentSubject.subject_id == DataSubject.id).where(
        IncidentSubject.incident_id == incident_id, DataSubject.has_email)).all())
    put_facts(client, drafter, incident_id, facts(discovered_on="2026-03-01", breach_start="2026-02-28"))
    draft_notices(client, drafter, incident_id, channels=["email"], regimes=["us-tx"])
    _run(session, incident_id, "us-tx", "email", dt.datetime(2026, 3, 20, 9, 0, tzinfo=dt.UTC),
         only={ids["US-TX"], ids[None]})
    content = draft(client, officer, incident_id, "us-tx").json["content"]
    assert (content["texans_affected"], content["texans_notified"]) == (2, 1)
    assert content["communication_to_subjects"]["notified_by_jurisdiction"] == {"US-TX": 1, "unknown": 1}
