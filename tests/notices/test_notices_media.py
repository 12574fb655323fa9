"""A HIPAA media notice (45 CFR 164.406) drafted from the announcement template as a press release, checked
for the same elements as the individual notice, and approved like any notice."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.notices.notices_workflow_sample import act, draft, file_incident, put_facts


def test_media_notice_draft_is_checked_and_approvable(client: FlaskClient, make_user: Any) -> None:
    drafter, officer = make_user("responder"), make_user("privacy_officer")
    incident_id = file_incident(client, drafter)
    put_facts(client, drafter, incident_id)
    (version,) = draft(client, drafter, incident_id, audience="media", regimes=["us-hipaa"],
                       channels=["announcement"])
    assert version["audience"] == "media" and version["checks"]["element_sets"] == ["us-hipaa"]
    assert version["checks"]["ok"] is True, version["checks"]
    assert act(client, drafter, incident_id, version["id"], "submit").status_code == 200
    approved = act(client, officer, incident_id, version["id"], "approve")
    assert approved.status_code == 200 and approved.json["state"] == "approved"
