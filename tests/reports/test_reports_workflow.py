"""Report versions: four-eyes approval, the late-filing rule, phases with diffs, GDPR Art. 33(3) content
without subjects' contact data (JSON and PDF via pdftotext), published schemas, CLI."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlmodel import Session, select

from app.audit.models import AuditEvent
from app.clock import FixedClock
from app.reports.models import RegulatorReport
from app.reports.regimes import REPORT_TYPES, schema_for
from app.subjects import service as subjects
from tests.reports.reports_sample import (
    GDPR_INCIDENT,
    api,
    approved_report,
    bundle,
    draft,
    file_incident,
    members,
)
from tests.support import bearer

SCHEMAS = Path(__file__).resolve().parents[2] / "app" / "reports" / "schemas"


def test_drafter_cannot_approve_and_responder_cannot_either(client: FlaskClient, make_user: Any) -> None:
    officer, other, responder = make_user("privacy_officer"), make_user("privacy_officer"), make_user("responder")
    incident_id = file_incident(client, officer, GDPR_INCIDENT)
    report = draft(client, officer, incident_id, "eu-gdpr").json
    url = f"{api(incident_id)}/{report['id']}"
    assert client.post(f"{url}/approve", headers=bearer(other)).status_code == 409  # not submitted
    assert client.post(f"{url}/bundles", headers=bearer(officer)).status_code == 409  # not approved
    client.post(f"{url}/submit", headers=bearer(officer))
    own = client.post(f"{url}/approve", headers=bearer(officer))
    assert own.status_code == 403 and "other than its drafter" in own.json["message"]
    assert client.post(f"{url}/approve", headers=bearer(responder)).status_code == 403
    approved = client.post(f"{url}/approve", headers=bearer(other))
    assert approved.status_code == 200 and approved.json["approved_by"] == other.user.actor


def test_a_regime_without_a_report_format_says_how_to_notify_instead(client: FlaskClient, make_user: Any) -> None:
    officer = make_user("privacy_officer")
    incident_id = file_incident(client, officer, GDPR_INCIDENT)
    answer = draft(client, officer, incident_id, "us-ny")
    assert answer.status_code == 422
    assert answer.json["message"].startswith("breach-notify has no regulator report format for 'us-ny' (it drafts "
                                             "reports for ")
    assert "obligations close ID --outcome met" in answer.json["message"]
    assert answer.json["details"][0]["path"] == "regime"
    assert answer.json["details"][0]["reason"].startswith("no report format; one of ")


def test_late_report_needs_a_reason(client: FlaskClient, make_user: Any, clock: FixedClock) -> None:
    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = file_incident(client, drafter, GDPR_INCIDENT)  # aware 2026-03-01 08:00 UTC: due +72 h
    clock.set(dt.datetime(2026, 3, 5, 9, 0, tzinfo=dt.UTC))
    refused = draft(client, drafter, incident_id, "eu-gdpr")
    assert refused.status_code == 422 and "late" in refused.json["message"]
    assert refused.json["details"][0]["path"] == "reason_for_delay"
    report = approved_report(client, drafter, approver, incident_id, "eu-gdpr",
                             reason_for_delay="Forensic scoping of the copied table took four days.")
    assert report["late"] and report["due_at"].startswith("2026-03-04T08:00")
    assert report["reason_for_delay"].startswith("Forensic scoping")
    _meta, data = bundle(client, drafter, incident_id, report["id"])
    exported = json.loads(members(data)["report.json"])
    assert exported["late"] and exported["reason_for_delay"].startswith("Forensic")


def test_phases_carry_a_diff_and_stop_after_final(client: FlaskClient, make_user: Any, session: Session) -> None:
    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = file_incident(client, drafter, GDPR_INCIDENT)
    assert draft(client, drafter, incident_id, "eu-gdpr", phase="follow_up").status_code == 409
    first = approved_report(client, drafter, approver, incident_id, "eu-gdpr",
                            extras={"subject_categories": ["customers"]})
    assert first["number"] == 1 and first["diff"] == []
    client.patch(f"/api/incidents/{incident_id}", json={"subjects": {"count": 1500, "count_is_estimate": False,
                                                                     "by_jurisdiction": {"DE": 1300, "AT": 200}}},
                 headers=bearer(drafter))
    second = approved_report(client, drafter, approver, incident_id, "eu-gdpr", phase="follow_up",
                             extras={"measures_proposed": "Annual penetration test."})
    paths = {d["path"]: d for d in second["diff"]}
    assert paths["data_subjects.approximate_number"]["before"] == 1200
    assert paths["data_subjects.approximate_number"]["after"] == 1500
    assert paths["measures_proposed"]["after"] == "Annual penetration test."
    assert second["content"]["data_subjects"]["categories"] == ["customers"]  # extras carried over
    assert second["content"]["notification"]["type"] == "follow_up"
    approved_report(client, drafter, approver, incident_id, "eu-gdpr", phase="final")
    assert draft(client, drafter, incident_id, "eu-gdpr", phase="follow_up").status_code == 409
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "report.approved")).all()


def test_gdpr_report_has_art33_elements_and_no_subject_contact_data(
    client: FlaskClient, make_user: Any, app: Flask, session: Session, tmp_path: Path
) -> None:
    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = file_incident(client, drafter, GDPR_INCIDENT)
    emails = [f"person{i}.secret@example.org" for i in range(5)]
    path = tmp_path / "subjects.csv"
    path.write_text("email\n" + "\n".join(emails) + "\n")
    with app.app_context():
        summary = subjects.import_file(session, clock=app.extensions["clock"], actor="t", path=path,
                                       keys=app.extensions["keys"], rejects_dir=tmp_path / "rejects",
                                       incident_id=incident_id)
    assert summary.imported == 5, summary
    report = approved_report(client, drafter, approver, incident_id, "eu-gdpr")
    content = report["content"]
    assert content["nature"]["confidentiality"] and content["nature"]["cause_quadrant"] == "external/malicious"
    # 5 of the 1,200 the file estimates are imported: the report keeps the larger number, as an estimate
    assert (content["data_subjects"]["approximate_number"], content["data_subjects"]["number_type"]) == (
        1200, "approximate")
    assert content["counts"]["source"] == "subject_registry"
    assert content["counts"]["by_jurisdiction"] == {"AT": 200, "DE": 1000, "unknown": 5}  # estimate kept per place
    assert content["personal_data"]["categories"] == ["name", "contact", "financial_account"]
    assert content["contact_point"]["email"] == "dpo@example-shop.test"
    assert "confidentiality" in content["likely_consequences"]
    assert content["measures_taken"].startswith("Passwords reset")
    assert content["communication_to_subjects"]["available"] is True
    _meta, data = bundle(client, drafter, incident_id, report["id"])
    files = members(data)
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(files["report.pdf"])
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    for needle in ("GDPR Art. 33", "Contact point", "dpo@example-shop.test", "Likely consequences",
                   "Measures taken", "Passwords reset"):
        assert needle in text, needle
    blob = b"".join(files.values()).decode("utf-8", "replace") + text
    blob += json.dumps([e.after for e in session.exec(select(AuditEvent)).all()])
    for email in emails:
        assert email not in blob


def test_published_schemas_match_the_models_and_exports_validate(
    client: FlaskClient, make_user: Any
) -> None:
    for name in REPORT_TYPES:
        assert json.loads((SCHEMAS / f"{name}.schema.json").read_text()) == schema_for(name), name
    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = file_incident(client, drafter, {**GDPR_INCIDENT, "subjects": {
        "count": 900, "by_jurisdiction": {"US-TX": 300, "US-FL": 600}}, "controller": {
        "name": "Example Retail", "establishment": "US-TX"}})
    for regime in ("us-tx", "us-fl", "cn-pipl", "us-ca"):
        report = approved_report(client, drafter, approver, incident_id, regime)
        _meta, data = bundle(client, drafter, incident_id, report["id"])
        exported = json.loads(members(data)["report.json"])
        REPORT_TYPES[exported["report_type"]].document_model().model_validate(exported)
    tx = client.get(api(incident_id), headers=bearer(drafter)).json["reports"]
    by_regime = {r["regime"]: r["content"] for r in tx}
    assert by_regime["us-tx"]["texans_affected"] == 300 and by_regime["us-fl"]["floridians_affected"] == 600


def test_cli_draft_submit_approve_bundle(runner: FlaskCliRunner, client: FlaskClient, make_user: Any,
                                         session: Session, tmp_path: Path) -> None:
    officer = make_user("privacy_officer")
    incident_id = file_incident(client, officer, GDPR_INCIDENT)
    out = runner.invoke(args=["reports", "draft", str(incident_id), "--regime", "eu-gdpr"])
    assert out.exit_code == 0, out.output
    report_id = session.exec(select(RegulatorReport)).one().id
    assert runner.invoke(args=["reports", "submit", str(report_id)]).exit_code == 0
    guessed = runner.invoke(args=["reports", "approve", str(report_id), "--as", officer.user.email], input="guess\n")
    assert guessed.exit_code == 2 and "wrong password" in guessed.output
    approved = runner.invoke(args=["reports", "approve", str(report_id), "--as", officer.user.email],
                             input=f"{officer.password}\n")
    assert approved.exit_code == 0, approved.output
    made = runner.invoke(args=["export", "bundle", str(report_id), "--out", str(tmp_path / "out")])
    assert made.exit_code == 0, made.output
    zipped = next((tmp_path / "out").glob("*.zip"))
    assert runner.invoke(args=["export", "verify", str(zipped)]).exit_code == 0
