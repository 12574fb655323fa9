"""The reports read the live substitute-notice decision: the HHS report's substitute-notice flag (45 CFR
164.404(d)(2)) and the GDPR report's public communication (Art. 34(3)(c)) in its communication section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask.testing import FlaskClient, FlaskCliRunner

from app.clock import FixedClock
from tests.reports.reports_sample import GDPR_INCIDENT, draft, file_incident
from tests.substitute_sample import approve_announcement, incident_with
from tests.support import AFTER_LAPTOP, bearer


def test_hhs_report_says_substitute_notice_is_required_with_twelve_unreachable(
    client: FlaskClient, make_user: Any, runner: FlaskCliRunner, tmp_path: Path, clock: FixedClock
) -> None:
    clock.set(AFTER_LAPTOP)  # the laptop case is filed after its discovery
    drafter, officer = make_user("responder"), make_user("privacy_officer")
    incident_id = incident_with(client, runner, drafter, tmp_path, 12)
    notice = draft(client, drafter, incident_id, "us-hipaa").json["content"]["notice"]
    assert notice["substitute_notice_required"] is True
    assert notice["substitute_notice"]["stands_for"] == 12 and notice["substitute_notice"]["published"] is False
    assert notice["substitute_notice"]["citation"].startswith("45 CFR 164.404(d)(2)")
    approve_announcement(client, drafter, officer, incident_id)
    published = client.post(f"/api/incidents/{incident_id}/public-notice", json={}, headers=bearer(officer))
    assert published.status_code == 201, published.json
    again = draft(client, drafter, incident_id, "us-hipaa").json["content"]["notice"]["substitute_notice"]
    assert again["published"] is True and again["url_path"] == f"/notices/{published.json['slug']}"


def test_hhs_report_says_not_required_with_nine_unreachable(
    client: FlaskClient, make_user: Any, runner: FlaskCliRunner, tmp_path: Path, clock: FixedClock
) -> None:
    clock.set(AFTER_LAPTOP)  # the laptop case is filed after its discovery
    drafter = make_user("responder")
    incident_id = incident_with(client, runner, drafter, tmp_path, 9)
    notice = draft(client, drafter, incident_id, "us-hipaa").json["content"]["notice"]
    assert notice["substitute_notice_required"] is False and notice["substitute_notice"] is None


def test_gdpr_report_carries_the_art_34_3_c_public_communication(
    client: FlaskClient, make_user: Any, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    officer = make_user("privacy_officer")
    incident_id = file_incident(client, officer, GDPR_INCIDENT)
    rows = [f"d{i},Kunde {i},d{i}@example.de,DE" for i in range(20)] + [f"n{i},Ohne Kontakt {i},,DE" for i in range(4)]
    people = tmp_path / "people.csv"
    people.write_text("external_id,full_name,email,country\n" + "\n".join(rows) + "\n")
    assert runner.invoke(args=["subjects", "import", str(incident_id), str(people)]).exit_code == 0
    drafted = draft(client, officer, incident_id, "eu-gdpr")
    assert drafted.status_code == 201, drafted.json
    public = drafted.json["content"]["communication_to_subjects"]["public_communication"]
    assert public["decided"] == "allowed" and public["basis"] == ["disproportionate_effort"]
    assert public["stands_for"] == 4 and "34(3)(c)" in public["citation"] and public["published"] is False
