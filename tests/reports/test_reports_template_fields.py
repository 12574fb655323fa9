"""Report fields an audit found missing: EDPB common template sections 3 (reporting person), 9 (measures
before the breach), 11 (risk outcome) and 14 (other authorities) in the GDPR report (international.md §1);
the HHS form's individual-notice date, breach end date and the covered entity's address and contact
(us.md §1.6)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlmodel import Session

from app.clock import FixedClock
from app.dispatch.models import Delivery, DispatchRun
from app.notices.models import NoticeVersion
from app.subjects.models import IncidentSubject
from tests.reports.reports_sample import GDPR_INCIDENT, draft, file_incident
from tests.substitute_sample import approve_announcement, incident_with
from tests.support import AFTER_LAPTOP


def test_gdpr_report_has_the_edpb_sections_3_9_11_and_14(client: FlaskClient, make_user: Any) -> None:
    officer = make_user("privacy_officer")
    incident_id = file_incident(client, officer, {**GDPR_INCIDENT, "protection": {"encrypted": True,
                                                                                  "key_compromised": True}})
    content = draft(client, officer, incident_id, "eu-gdpr").json["content"]
    assert content["reporting_person"] is None  # section 3: until the extras name who files it
    assert content["measures_before_breach"] == ["encryption"]  # section 9 from the incident file
    assert content["risk"]["outcome"] == "high_risk" and "34(1)" in content["risk"]["method"]  # section 11
    assert content["other_authorities"] == []  # section 14
    extras = {"reporting_person": {"name": "Jana Roth", "email": "dpo@example-shop.test", "role": "dpo"},
              "measures_before_breach": ["encryption", "mfa", "logging"], "risk_outcome": "risk",
              "risk_method": "ENISA severity methodology",
              "other_authorities": [{"kind": "police", "name": "LKA Berlin", "case_id": "LKA-2026-0042",
                                     "notified_on": "2026-03-02"}]}
    follow_up = draft(client, officer, incident_id, "eu-gdpr", phase="follow_up", extras=extras)
    assert follow_up.status_code == 201, follow_up.json
    content = follow_up.json["content"]
    assert content["reporting_person"]["role"] == "dpo" and content["measures_before_breach"][1] == "mfa"
    assert content["risk"] == {"outcome": "risk", "method": "ENISA severity methodology"}
    assert content["other_authorities"][0]["case_id"] == "LKA-2026-0042"
    assert {c["path"] for c in follow_up.json["diff"]} >= {"reporting_person", "risk.outcome", "other_authorities"}
    bad = draft(client, officer, incident_id, "eu-gdpr", extras={"risk_outcome": "catastrophic"})
    assert bad.status_code == 422


def test_hhs_report_has_notice_date_breach_end_and_entity_address_and_contact(
    client: FlaskClient, make_user: Any, runner: FlaskCliRunner, tmp_path: Path, session: Session, clock: FixedClock
) -> None:
    clock.set(AFTER_LAPTOP)  # the laptop case is filed after its discovery
    drafter, officer = make_user("responder"), make_user("privacy_officer")
    incident_id = incident_with(client, runner, drafter, tmp_path, 12)
    content = draft(client, drafter, incident_id, "us-hipaa").json["content"]
    assert content["covered_entity"]["address"] is None and content["breach"]["ended_on"] is None
    assert content["covered_entity"]["contact"] == {"name": None, "email": None, "phone": None}
    assert content["notice"]["individual_notice_date"] is None  # nothing sent yet
    approve_announcement(client, drafter, officer, incident_id)
    version_id = session.execute(select(NoticeVersion.id).where(NoticeVersion.incident_id == incident_id)).scalar()
    subject_id = session.execute(select(IncidentSubject.subject_id).where(
        IncidentSubject.incident_id == incident_id)).scalar()
    sent = dt.datetime(2026, 4, 18, 23, 30, tzinfo=dt.UTC)
    run = DispatchRun(incident_id=incident_id, state="finished", regime="us-hipaa", channel_order=["email"],
                      versions={}, plan={}, created_by="test", created_at=sent, updated_at=sent)
    session.add(run)
    session.flush()
    session.add(Delivery(run_id=run.id or 0, notice_version_id=version_id or 0, subject_id=subject_id or 0,
                         channel="email", state="delivered", next_attempt_at=sent, created_at=sent, sent_at=sent))
    session.commit()
    content = draft(client, drafter, incident_id, "us-hipaa").json["content"]
    assert content["notice"]["individual_notice_date"] == "2026-04-18"  # the first notice sent (UTC day)
    extras = {"entity_address": "1 Main St, Springfield, CA 90000", "breach_end": "2026-03-30",
              "individual_notice_date": "2026-04-20",
              "entity_contact": {"name": "Privacy Office", "email": "privacy@clinic.example",
                                 "phone": "+1 800 555 0100"}}
    content = draft(client, drafter, incident_id, "us-hipaa", extras=extras).json["content"]
    assert content["covered_entity"]["address"].startswith("1 Main St")
    assert content["covered_entity"]["contact"]["email"] == "privacy@clinic.example"
    assert content["breach"]["ended_on"] == "2026-03-30"
    assert content["notice"]["individual_notice_date"] == "2026-04-20"
