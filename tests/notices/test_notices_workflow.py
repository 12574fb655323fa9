"""Notice facts, drafting, four-eyes approval and locking, through the API (issue 5 acceptance)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from app import create_app
from app.audit import service as audit
from app.audit.models import AuditEvent
from app.clock import FixedClock
from app.notices import service
from app.notices.models import LockedNoticeError, NoticeVersion
from tests.notices.notices_workflow_sample import CONTACT, act, draft, facts, file_incident, put_facts
from tests.support import AFTER_LAPTOP, EXAMPLE_INCIDENT, bearer

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "notices"


def test_laptop_case_drafts_every_channel_passing_hipaa_and_california(
    client: FlaskClient, make_user: Any
) -> None:
    responder = make_user("responder")
    incident_id = file_incident(client, responder)
    put_facts(client, responder, incident_id)
    versions = draft(client, responder, incident_id)  # regimes: the required individual notices
    keys = sorted((v["regime"], v["channel"]) for v in versions)
    assert keys == sorted((r, c) for r in ("us-ca", "us-hipaa") for c in ("email", "letter", "push", "sms"))
    for v in versions:
        assert v["state"] == "draft" and v["number"] == 1 and v["locale"] == "en"
        assert v["checks"]["ok"], (v["regime"], v["channel"], v["checks"]["blocking"])
        assert v["checks"]["element_sets"] == [v["regime"]]
    email_ca = next(v for v in versions if (v["regime"], v["channel"]) == ("us-ca", "email"))
    assert "ca.heading.what_happened" in email_ca["checks"]["elements"]
    sms = next(v for v in versions if v["channel"] == "sms")
    assert sms["checks"]["sms"]["segments"] == 1 and sms["checks"]["sms"]["encoding"] == "GSM-7"
    full = client.get(f"/api/incidents/{incident_id}/notices/{email_ca['id']}", headers=bearer(responder)).json
    assert full["rendered"]["text"].startswith("Notice of Data Breach")
    assert full["templates"]["text"]["name"] == "default/en/email/body.txt.j2"
    assert "What Happened" in full["template_sources"]["text"]
    again = draft(client, responder, incident_id)  # nothing changed: the same versions come back
    assert sorted(v["id"] for v in again) == sorted(v["id"] for v in versions)


def test_four_eyes_approval_locks_and_an_edit_needs_a_new_approval(
    client: FlaskClient, make_user: Any, session: Session
) -> None:
    drafter, second, responder = make_user("privacy_officer"), make_user("privacy_officer"), make_user("responder")
    incident_id = file_incident(client, drafter)
    put_facts(client, drafter, incident_id)
    email = draft(client, drafter, incident_id, regimes=["us-ca"], channels=["email"])[0]
    assert act(client, drafter, incident_id, email["id"], "approve").status_code == 409  # not submitted yet
    assert act(client, drafter, incident_id, email["id"], "submit").json["state"] == "submitted"
    own = act(client, drafter, incident_id, email["id"], "approve")
    assert own.status_code == 403 and "other than its drafter" in own.json["message"]
    assert act(client, responder, incident_id, email["id"], "approve").status_code == 403
    approved = act(client, second, incident_id, email["id"], "approve")
    assert approved.status_code == 200, approved.json
    assert approved.json["state"] == "approved" and approved.json["approved_by"] == second.user.actor
    assert act(client, second, incident_id, email["id"], "submit").status_code == 409

    edited = put_facts(client, drafter, incident_id, facts(what_you_can_do="Check every letter from your plan."))
    assert [(v["number"], v["state"]) for v in edited["redrafted"]] == [(2, "draft")]
    v1 = client.get(f"/api/incidents/{incident_id}/notices/{email['id']}", headers=bearer(drafter)).json
    assert v1["state"] == "approved" and v1["rendered_sha256"] == approved.json["rendered_sha256"]
    assert "Check every letter" not in v1["rendered"]["text"]
    current = service.current_approved(session, incident_id=incident_id, audience="individuals", regime="us-ca",
                                       channel="email", locale="en")
    assert current is not None and current.id == email["id"]

    v2 = edited["redrafted"][0]["id"]
    act(client, drafter, incident_id, v2, "submit")
    assert act(client, second, incident_id, v2, "approve").status_code == 200
    states = {v["number"]: v["state"] for v in client.get(f"/api/incidents/{incident_id}/notices",
                                                          headers=bearer(drafter)).json["versions"]}
    assert states == {1: "superseded", 2: "approved"}
    session.expire_all()
    current = service.current_approved(session, incident_id=incident_id, audience="individuals", regime="us-ca",
                                       channel="email", locale="en")
    assert current is not None and current.number == 2

    assert audit.verify(session).ok
    events = session.exec(select(AuditEvent).where(AuditEvent.action.startswith("notice."))).all()  # type: ignore[attr-defined]
    assert [e.action for e in events].count("notice.approved") == 2
    for event in events:  # hashes and ids only: no contact data, no notice text
        for forbidden in (CONTACT["email"], CONTACT["toll_free_phone"], "Notice of Data Breach", "laptop"):
            assert forbidden not in event.before + event.after
    timeline = client.get(f"/api/incidents/{incident_id}", headers=bearer(drafter)).json["timeline"]
    assert any(e["text"] == "Notice approved and locked: us-ca/individuals email en v1" for e in timeline)


def test_an_approved_version_cannot_be_changed(client: FlaskClient, make_user: Any, session: Session) -> None:
    drafter, second = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = file_incident(client, drafter)
    put_facts(client, drafter, incident_id)
    sms = draft(client, drafter, incident_id, regimes=["us-hipaa"], channels=["sms"])[0]
    act(client, drafter, incident_id, sms["id"], "submit")
    assert act(client, second, incident_id, sms["id"], "approve").status_code == 200
    row = session.get(NoticeVersion, sms["id"])
    assert row is not None
    row.rendered = {"text": "something else"}
    session.add(row)
    with pytest.raises(LockedNoticeError):
        session.commit()
    session.rollback()


def _app_with_templates(app: Flask, root: Path) -> FlaskClient:
    return create_app(dict(app.config, NOTICE_TEMPLATES_DIR=str(root))).test_client()


def test_removing_a_heading_makes_approval_fail_naming_it(
    app: Flask, make_user: Any, tmp_path: Path
) -> None:
    shutil.copytree(TEMPLATES, tmp_path / "notices")
    body = tmp_path / "notices/default/en/email/body.txt.j2"
    body.write_text(body.read_text().replace("What We Are Doing\n", "Our response\n"))
    client = _app_with_templates(app, tmp_path / "notices")
    drafter, second = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = file_incident(client, drafter)
    put_facts(client, drafter, incident_id)
    versions = draft(client, drafter, incident_id, channels=["email"])
    by_regime = {v["regime"]: v for v in versions}
    assert by_regime["us-hipaa"]["checks"]["ok"]  # HIPAA has no heading rule
    email = by_regime["us-ca"]
    assert email["checks"]["blocking"] == [
        'missing heading "What We Are Doing" in text (Cal. Civ. Code 1798.82(d)(1))']
    act(client, drafter, incident_id, email["id"], "submit")
    refused = act(client, second, incident_id, email["id"], "approve")
    assert refused.status_code == 409
    assert 'missing heading "What We Are Doing" in text (Cal. Civ. Code 1798.82(d)(1))' in refused.json["message"]
    assert [d["reason"] for d in refused.json["details"]] == email["checks"]["blocking"]


def test_breached_values_in_the_facts_block_approval(client: FlaskClient, make_user: Any) -> None:
    drafter, second = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = file_incident(client, drafter)
    put_facts(client, drafter, incident_id,
              facts(what_happened="A laptop was stolen. It held the record of SSN 123-45-6789 among others."))
    letter = draft(client, drafter, incident_id, regimes=["us-hipaa"], channels=["letter"])[0]
    assert not letter["checks"]["ok"]
    assert {f["kind"] for f in letter["checks"]["forbidden"]} == {"ssn"}
    assert all("123-45" not in f["excerpt"] for f in letter["checks"]["forbidden"])
    act(client, drafter, incident_id, letter["id"], "submit")
    refused = act(client, second, incident_id, letter["id"], "approve")
    assert refused.status_code == 409 and "forbidden ssn" in refused.json["message"]


def test_a_labelled_password_or_account_number_blocks_approval_without_echoing_it(
    client: FlaskClient, make_user: Any, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    drafter, second = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = file_incident(client, drafter)
    put_facts(client, drafter, incident_id, facts(
        what_happened="A laptop was stolen. A note in its bag read: account number 00123456 and password hunter2!"))
    email = draft(client, drafter, incident_id, regimes=["us-ca"], channels=["email"])[0]
    assert not email["checks"]["ok"]
    assert "forbidden password in text: ***" in email["checks"]["blocking"]
    assert "forbidden account-number in text: ***3456" in email["checks"]["blocking"]
    act(client, drafter, incident_id, email["id"], "submit")
    with caplog.at_level("DEBUG"):
        refused = act(client, second, incident_id, email["id"], "approve")
    assert refused.status_code == 409 and "notices_api.api_approve" in caplog.text  # the request log is seen
    assert "forbidden password in text: ***" in refused.json["message"]
    assert "forbidden account-number in html: ***3456" in refused.json["message"]
    events = session.exec(select(AuditEvent).where(AuditEvent.entity == "notice_version")).all()
    for shown in (refused.get_data(as_text=True), json.dumps(email["checks"]), caplog.text,
                  *(e.before + e.after for e in events)):
        assert "hunter2" not in shown and "00123456" not in shown
    advice = facts(what_you_can_do="Change your password. Your account number was involved, not your PIN.")
    put_facts(client, drafter, incident_id, advice)
    assert draft(client, drafter, incident_id, regimes=["us-ca"], channels=["email"])[0]["checks"]["ok"]


def test_german_version_passes_gdpr_and_fails_california(client: FlaskClient, make_user: Any) -> None:
    user = make_user("responder")
    incident_id = file_incident(client, user, EXAMPLE_INCIDENT)
    put_facts(client, user, incident_id, facts(default_locale="de", organisation_name="Example Logistics GmbH"))
    gdpr = draft(client, user, incident_id, regimes=["eu-gdpr"], channels=["email", "letter"])
    assert {(v["locale"], v["template_locale"], v["checks"]["ok"]) for v in gdpr} == {("de", "de", True)}
    full = client.get(f"/api/incidents/{incident_id}/notices/{gdpr[0]['id']}", headers=bearer(user)).json
    assert full["templates"]["html"]["name"].startswith("default/de/")
    california = draft(client, user, incident_id, regimes=["us-ca"], channels=["letter"], locales=["de"])[0]
    assert 'missing title "Notice of Data Breach" in html (Cal. Civ. Code 1798.82(d)(1))' in \
        california["checks"]["blocking"]
    french = draft(client, user, incident_id, regimes=["eu-gdpr"], channels=["sms"], locales=["pt-BR"])[0]
    assert french["template_locale"] == "de" and "rendered in 'de'" in french["checks"]["warnings"][0]


def test_preview_renders_for_a_recipient_with_sms_segments(client: FlaskClient, make_user: Any) -> None:
    user = make_user("responder")
    incident_id = file_incident(client, user)
    put_facts(client, user, incident_id)
    sms = draft(client, user, incident_id, regimes=["us-ca"], channels=["sms"])[0]
    recipient = {"full_name": "Zoë Ω", "preferred_language": "en", "enrolment_code": "ENR-1",
                 "personal_link": "https://notify.example.org/n/" + "x" * 150}
    preview = client.post(f"/api/incidents/{incident_id}/notices/{sms['id']}/preview", json=recipient,
                          headers=bearer(user))
    assert preview.status_code == 200, preview.json
    assert "x" * 150 in preview.json["parts"]["text"]
    assert preview.json["sms"]["segments"] == 2 and preview.json["blocking"] == []
    bad = client.post(f"/api/incidents/{incident_id}/notices/{sms['id']}/preview", json={"full_name": "A"},
                      headers=bearer(user))
    assert bad.status_code == 422 and bad.json["details"][0]["path"] == "recipient.personal_link"


def test_invalid_input_is_named(client: FlaskClient, make_user: Any, clock: FixedClock) -> None:
    user = make_user("responder")
    incident_id = file_incident(client, user)
    no_facts = client.post(f"/api/incidents/{incident_id}/notices/draft", json={}, headers=bearer(user))
    assert no_facts.status_code == 409
    bad = client.put(f"/api/incidents/{incident_id}/notices/facts", headers=bearer(user),
                     json=facts(contact={"name": "Privacy Office"}, extra=1))
    assert bad.status_code == 422
    assert {d["path"] for d in bad.json["details"]} == {"facts.contact", "facts.extra"}
    unsafe = client.put(f"/api/incidents/{incident_id}/notices/facts", headers=bearer(user), json=facts(
        contact={"name": "Privacy Office", "website": "javascript:alert(1)"},
        remedies=[{"kind": "credit_monitoring", "description": "Two years", "enrolment_url": "enrol.example.com"}]))
    assert unsafe.status_code == 422  # both become links in the HTML notices
    assert {d["path"] for d in unsafe.json["details"]} == {"facts.contact.website", "facts.remedies.0.enrolment_url"}
    # the test clock says 2026-04-02
    dated = client.put(f"/api/incidents/{incident_id}/notices/facts", headers=bearer(user), json=facts(
        discovered_on="2026-04-04", remedies=[{"kind": "credit_monitoring", "description": "Two years",
                                               "enrol_by": "2026-04-01"}]))
    assert dated.status_code == 422 and dated.json["details"] == [
        {"path": "facts.discovered_on", "reason": "is after today (2026-04-02)"},
        {"path": "facts.remedies.0.enrol_by",
         "reason": "has passed (today is 2026-04-02): give a date people can still enrol by"}]
    assert client.get(f"/api/incidents/{incident_id}/notices/facts", headers=bearer(user)).status_code == 404
    late = client.put(f"/api/incidents/{incident_id}/notices/facts", headers=bearer(user),
                      json=facts(discovered_on="2026-03-29"))  # before breach_start (2026-03-30)
    assert late.status_code == 422 and late.json["details"][0]["path"] == "facts"
    put_facts(client, user, incident_id)
    clock.set(dt.datetime(2026, 8, 15, 12, 0, tzinfo=dt.UTC))  # the remedy's enrol_by (31 July) has passed
    expired = client.post(f"/api/incidents/{incident_id}/notices/draft", json={}, headers=bearer(user))
    assert expired.status_code == 422 and expired.json["details"][0]["path"] == "facts.remedies.0.enrol_by"
    clock.set(AFTER_LAPTOP)
    for body, path in (({"channels": ["fax"]}, "channels"), ({"regimes": ["xx"]}, "regimes"),
                       ({"locales": ["../x"]}, "locales"), ({"audience": "press"}, "audience")):
        response = client.post(f"/api/incidents/{incident_id}/notices/draft", json=body, headers=bearer(user))
        assert response.status_code == 422 and response.json["details"][0]["path"] == path, body
    assert client.get(f"/api/incidents/{incident_id}/notices/999", headers=bearer(user)).status_code == 404
    assert json.loads(json.dumps(client.get(f"/api/incidents/{incident_id}/notices/facts",
                                            headers=bearer(user)).json))["version"] == 1
