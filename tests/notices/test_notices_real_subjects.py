"""Preview and letters against real subjects of the incident (decrypted name and postal address)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient, FlaskCliRunner

from tests.notices.notices_workflow_sample import act, draft, file_incident, put_facts
from tests.support import bearer


def test_preview_and_letter_for_a_real_subject(client: FlaskClient, make_user: Any, runner: FlaskCliRunner,
                                               tmp_path: Path) -> None:
    drafter, officer = make_user("responder"), make_user("privacy_officer")
    incident_id = file_incident(client, drafter)
    people = tmp_path / "p.csv"
    people.write_text("external_id,full_name,email,address_line1,city,state,postal_code,country\n"
                      "1,Zoë Ødegård,zoe@example.org,12 Pine Rd,Fresno,CA,93650,US\n"
                      "2,Bo Berg,bo@example.org,9 Oak Ave,Irvine,CA,92602,US\n")
    assert runner.invoke(args=["subjects", "import", str(incident_id), str(people)]).exit_code == 0
    put_facts(client, drafter, incident_id)
    versions = {v["channel"]: v for v in draft(client, drafter, incident_id, regimes=["us-ca"],
                                                channels=["email", "letter"])}
    subject_ids = client.get(f"/api/incidents/{incident_id}/subjects", headers=bearer(drafter)).json
    assert subject_ids["total"] == 2
    preview = client.post(f"/api/incidents/{incident_id}/notices/{versions['email']['id']}/preview",
                          json={"subject_id": 1}, headers=bearer(drafter))
    assert preview.status_code == 200, preview.json
    assert "Zoë Ødegård" in preview.json["parts"]["text"] and "Bo Berg" not in preview.json["parts"]["text"]
    assert client.post(f"/api/incidents/{incident_id}/notices/{versions['email']['id']}/preview",
                       json={"subject_id": 999}, headers=bearer(drafter)).status_code == 404
    letter_id = versions["letter"]["id"]
    act(client, drafter, incident_id, letter_id, "submit")
    act(client, officer, incident_id, letter_id, "approve")
    pdf = client.post(f"/api/incidents/{incident_id}/notices/{letter_id}/letter", json={"subject_id": 1},
                      headers=bearer(drafter))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    (tmp_path / "l.pdf").write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", str(tmp_path / "l.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Zoë Ødegård" in text and "12 Pine Rd" in text and "FRESNO, CA 93650" in text
    assert "Notice of Data Breach" in text
