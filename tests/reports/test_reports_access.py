"""Regulator access: an expiring, revocable link or a regulator account downloads exactly the shared bundles;
every grant, download and revocation is audited; expired and revoked links are refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.clock import FixedClock
from tests.reports.reports_sample import GDPR_INCIDENT, api, approved_report, bundle, draft, file_incident
from tests.support import bearer, login


def _two_bundles(client: FlaskClient, make_user: Any) -> tuple[Any, int, list[int]]:
    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = file_incident(client, drafter, GDPR_INCIDENT)
    report = approved_report(client, drafter, approver, incident_id, "eu-gdpr")
    first, _ = bundle(client, drafter, incident_id, report["id"])
    second, _ = bundle(client, drafter, incident_id, report["id"])
    return approver, incident_id, [first["id"], second["id"]]


def _actions(session: Session) -> list[str]:
    return [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()]  # type: ignore[arg-type]


def test_link_downloads_exactly_the_shared_bundle_and_is_audited(
    client: FlaskClient, make_user: Any, session: Session, clock: FixedClock
) -> None:
    officer, incident_id, (shared, other) = _two_bundles(client, make_user)
    expires = (clock.now() + dt.timedelta(days=7)).isoformat()
    responder = make_user("responder")
    body = {"bundle_ids": [shared], "regulator_name": "BfDI", "expires_at": expires}
    assert client.post(f"{api(incident_id)}/grants", json=body, headers=bearer(responder)).status_code == 403
    made = client.post(f"{api(incident_id)}/grants", json=body, headers=bearer(officer))
    assert made.status_code == 201, made.json
    token = made.json["token"]
    assert made.json["url"].endswith(f"/r/{token}") and "token_hash" not in made.json["grant"]
    page = client.get(f"/r/{token}")
    assert page.status_code == 200 and f"/r/{token}/bundles/{shared}" in page.get_data(as_text=True)
    assert f"/bundles/{other}" not in page.get_data(as_text=True)
    got = client.get(f"/r/{token}/bundles/{shared}")
    assert got.status_code == 200 and got.data[:2] == b"PK"
    assert client.get(f"/r/{token}/bundles/{other}").status_code == 404
    assert client.get("/r/rg_not-a-token").status_code == 404
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "report.bundle.downloaded")).all()
    assert len(events) == 1 and token not in "".join(e.after for e in session.exec(select(AuditEvent)).all())
    assert audit.verify(session).ok

    grant_id = made.json["grant"]["id"]
    revoked = client.post(f"{api(incident_id)}/grants/{grant_id}/revoke", headers=bearer(officer))
    assert revoked.status_code == 200 and revoked.json["active"] is False
    assert client.get(f"/r/{token}").status_code == 403
    assert client.get(f"/r/{token}/bundles/{shared}").status_code == 403
    assert {"report.grant.created", "report.bundle.downloaded", "report.grant.revoked"} <= set(_actions(session))


def test_expired_link_is_refused(client: FlaskClient, make_user: Any, clock: FixedClock) -> None:
    officer, incident_id, (shared, _other) = _two_bundles(client, make_user)
    made = client.post(f"{api(incident_id)}/grants", headers=bearer(officer), json={
        "bundle_ids": [shared], "regulator_name": "HHS OCR",
        "expires_at": (clock.now() + dt.timedelta(hours=1)).isoformat()}).json
    assert client.get(f"/r/{made['token']}").status_code == 200
    clock.advance(3601)
    assert client.get(f"/r/{made['token']}").status_code == 403
    assert client.get(f"/r/{made['token']}/bundles/{shared}").status_code == 403
    past = client.post(f"{api(incident_id)}/grants", headers=bearer(officer), json={
        "bundle_ids": [shared], "regulator_name": "HHS OCR", "expires_at": clock.now().isoformat()})
    assert past.status_code == 422


def test_regulator_account_sees_only_its_grants(
    client: FlaskClient, make_user: Any, session: Session, clock: FixedClock
) -> None:
    officer, incident_id, (shared, other) = _two_bundles(client, make_user)
    regulator = make_user("regulator")
    made = client.post(f"{api(incident_id)}/grants", headers=bearer(officer), json={
        "bundle_ids": [shared], "regulator_name": "CNIL", "user_email": regulator.user.email,
        "expires_at": (clock.now() + dt.timedelta(days=3)).isoformat()})
    assert made.status_code == 201 and made.json["token"] is None and made.json["grant"]["via"] == "account"
    assert client.get(f"{api(incident_id)}", headers=bearer(regulator)).status_code == 403
    login(client, regulator)
    page = client.get("/regulator").get_data(as_text=True)
    assert f"/regulator/bundles/{shared}" in page and f"/regulator/bundles/{other}" not in page
    assert client.get(f"/regulator/bundles/{shared}").status_code == 200
    assert client.get(f"/regulator/bundles/{other}").status_code == 404
    assert client.get(f"/incidents/{incident_id}/reports").status_code == 403
    downloads = session.exec(select(AuditEvent).where(AuditEvent.action == "report.bundle.downloaded")).all()
    assert [e.actor for e in downloads] == [regulator.user.actor]


def test_staff_pages_show_the_report_section(client: FlaskClient, make_user: Any) -> None:
    officer, incident_id, _ids = _two_bundles(client, make_user)
    login(client, officer)
    assert "Regulator reports" in client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    index = client.get(f"/incidents/{incident_id}/reports").get_data(as_text=True)
    assert "eu-gdpr gdpr-art33 v1" in index and "Share selected bundles" in index
    report_id = client.get(api(incident_id), headers=bearer(officer)).json["reports"][0]["id"]
    detail = client.get(f"/incidents/{incident_id}/reports/{report_id}").get_data(as_text=True)
    assert "likely_consequences" in detail and "Export signed bundle" in detail


def test_the_report_page_offers_approval_only_to_someone_else(app: Flask, client: FlaskClient, make_user: Any) -> None:
    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = file_incident(client, drafter, GDPR_INCIDENT)
    report_id = draft(client, drafter, incident_id, "eu-gdpr").json["id"]
    assert client.post(f"{api(incident_id)}/{report_id}/submit", headers=bearer(drafter)).status_code == 200
    url = f"/incidents/{incident_id}/reports/{report_id}"
    login(client, drafter)
    own = client.get(url).get_data(as_text=True)
    assert "Approve (privacy officer" not in own and "another privacy officer approves it (four eyes)" in own
    other = app.test_client()
    login(other, approver)
    theirs = other.get(url).get_data(as_text=True)
    assert "Approve (privacy officer, not the drafter)" in theirs and "four eyes" not in theirs
    responder = app.test_client()
    login(responder, make_user("responder"))
    assert "Approve (privacy officer" not in responder.get(url).get_data(as_text=True)  # the role may not
