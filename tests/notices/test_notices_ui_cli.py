"""Notice pages (facts form, drafting, version page, submit/approve with CSRF) and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.notices.form import FIELDS, document_from_form, form_values
from tests.notices.notices_workflow_sample import FACTS, file_incident
from tests.support import bearer, csrf_from, login


def _form(body: dict[str, Any]) -> dict[str, Any]:
    values = form_values(body)
    return {k: v for k, v in values.items() if v is not False}


def test_form_round_trips_the_facts() -> None:
    doc = document_from_form({k: ("on" if v is True else v) for k, v in _form(FACTS).items()})
    assert doc["facts"]["remedies"][0]["enrolment_url"] == FACTS["facts"]["remedies"][0]["enrolment_url"]
    assert doc["facts"]["data_involved"] == FACTS["facts"]["data_involved"]
    assert doc["facts"]["law_enforcement_delay"] is False and "reply_to" not in doc
    assert {f.path for f in FIELDS} >= {"facts.contact.toll_free_phone", "sender_address"}


def test_pages_draft_submit_and_approve_with_four_eyes(app: Flask, make_user: Any) -> None:
    drafter, second = make_user("privacy_officer"), make_user("privacy_officer")
    client = app.test_client()
    incident_id = file_incident(client, drafter)
    login(client, drafter)
    page = client.get(f"/incidents/{incident_id}/notices")
    assert page.status_code == 200 and "Save facts" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    bad = client.post(f"/incidents/{incident_id}/notices/facts", data={"csrf_token": token})
    assert bad.status_code == 422 and "facts.organisation_name" in bad.get_data(as_text=True)
    saved = client.post(f"/incidents/{incident_id}/notices/facts",
                        data={"csrf_token": token, **{k: ("on" if v is True else v) for k, v in _form(FACTS).items()}})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    drafted = client.post(f"/incidents/{incident_id}/notices/draft",
                          data={"csrf_token": token, "regimes": ["us-ca"], "channels": ["email"], "locales": "en"})
    assert drafted.status_code == 302
    versions = client.get(f"/api/incidents/{incident_id}/notices", headers=bearer(drafter)).json["versions"]
    version_id = versions[0]["id"]
    detail = client.get(f"/incidents/{incident_id}")
    assert "1 draft" in detail.get_data(as_text=True)
    url = f"/incidents/{incident_id}/notices/{version_id}"
    page = client.get(url).get_data(as_text=True)
    assert "Notice of Data Breach" in page and "Submit for approval" in page
    assert client.post(f"{url}/submit", data={"csrf_token": token}).status_code == 302
    assert client.post(f"{url}/submit", data={}).status_code == 400  # CSRF
    own = client.get(url).get_data(as_text=True)  # the submitter is offered no button the rule would refuse
    assert "Approve and lock" not in own and "another privacy officer approves it (four eyes)" in own
    refused = client.post(f"{url}/approve", data={"csrf_token": token})
    assert refused.status_code == 403 and "other than its drafter" in refused.get_data(as_text=True)
    preview = client.post(f"{url}/preview", data={"csrf_token": token, "full_name": "Maria Example",
                                                  "postal_address": "1 Elm St\nDavis CA"})
    assert preview.status_code == 200 and "Dear Maria Example" in preview.get_data(as_text=True)

    other = app.test_client()
    login(other, second)
    theirs = other.get(url).get_data(as_text=True)
    assert "Approve and lock" in theirs and "four eyes" not in theirs
    other_token = csrf_from(theirs)
    assert other.post(f"{url}/approve", data={"csrf_token": other_token}).status_code == 302
    assert "approved" in other.get(url).get_data(as_text=True)


def test_cli_drafts_lists_and_approves(app: Flask, client: FlaskClient, make_user: Any, runner: Any,
                                       tmp_path: Path) -> None:
    officer, responder = make_user("privacy_officer"), make_user("responder")
    incident_id = file_incident(client, officer)
    result = _cli_draft(runner, incident_id, tmp_path, "email,letter")
    lines = [line.split("\t") for line in result.output.strip().splitlines()]
    assert sorted((row[2], row[3]) for row in lines) == [
        ("us-ca/individuals", "email"), ("us-ca/individuals", "letter"), ("us-hipaa/individuals", "email"),
        ("us-hipaa/individuals", "letter")]
    assert all(row[1] == "draft" and row[6] == "ok" for row in lines)
    listed = runner.invoke(args=["notices", "list", str(incident_id)])
    assert listed.exit_code == 0 and len(listed.output.strip().splitlines()) == 4
    version_id = lines[0][0]
    denied = runner.invoke(args=["notices", "approve", version_id, "--as", responder.user.email],
                           input=f"{responder.password}\n")
    assert denied.exit_code == 2 and "privacy_officer" in denied.output
    named_only = runner.invoke(args=["notices", "approve", version_id, "--as", officer.user.email],
                               input="not-their-password\n")
    assert named_only.exit_code == 2 and "wrong password" in named_only.output
    assert _state(runner, incident_id, version_id) == "draft"
    approved = runner.invoke(args=["notices", "approve", version_id, "--as", officer.user.email],
                             input=f"{officer.password}\n")
    assert approved.exit_code == 0, approved.output
    assert approved.output.strip().splitlines()[-1].split("\t")[1] == "approved"


def _cli_draft(runner: Any, incident_id: int, folder: Path, channels: str) -> Any:
    """``notices draft`` from the sample facts; asserts it worked and returns the CLI result."""
    facts_file = folder / "facts.json"
    facts_file.write_text(json.dumps(FACTS["facts"]))
    result = runner.invoke(args=["notices", "draft", str(incident_id), "--facts", str(facts_file),
                                 "--sender-name", "Clinic", "--sender-address", "privacy@clinic.example",
                                 "--channels", channels])
    assert result.exit_code == 0, result.output
    return result


def _state(runner: Any, incident_id: int, version_id: str) -> str:
    rows = [line.split("\t") for line in runner.invoke(args=["notices", "list", str(incident_id)]).output.splitlines()]
    return next(row[1] for row in rows if row[0] == version_id)


def test_cli_approval_needs_the_approvers_own_proof(client: FlaskClient, make_user: Any, runner: Any,
                                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Naming a privacy officer is not approving as them: a one-time password (seen by whoever created the
    account) and someone else's token are refused; their own token in BREACH_NOTIFY_APPROVER_TOKEN works."""
    drafter = make_user("privacy_officer")
    fresh = make_user("privacy_officer", must_change_password=True)
    officer = make_user("privacy_officer")
    incident_id = file_incident(client, drafter)
    drafted = _cli_draft(runner, incident_id, tmp_path, "email")
    version_id = drafted.output.splitlines()[0].split("\t")[0]
    one_time = runner.invoke(args=["notices", "approve", version_id, "--as", fresh.user.email],
                             input=f"{fresh.password}\n")
    assert one_time.exit_code == 2 and "one-time password" in one_time.output
    monkeypatch.setenv("BREACH_NOTIFY_APPROVER_TOKEN", drafter.token or "")
    borrowed = runner.invoke(args=["notices", "approve", version_id, "--as", officer.user.email])
    assert borrowed.exit_code == 2 and "not a live API token" in borrowed.output
    assert _state(runner, incident_id, version_id) == "draft"
    monkeypatch.setenv("BREACH_NOTIFY_APPROVER_TOKEN", officer.token or "")
    approved = runner.invoke(args=["notices", "approve", version_id, "--as", officer.user.email.upper()])
    assert approved.exit_code == 0, approved.output
    assert _state(runner, incident_id, version_id) == "approved"
