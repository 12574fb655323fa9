"""Shared data and helpers for the notices workflow tests (plain helpers, not fixtures)."""

from __future__ import annotations

import copy
from typing import Any

from flask.testing import FlaskClient

from tests.support import bearer

LAPTOP: dict[str, Any] = {
    "title": "Unencrypted laptop with patient records lost",
    "aware_at": "2026-04-01T09:00:00-07:00",
    "controller": {"name": "Example Clinic", "establishment": "US-CA", "sector": "health",
                   "hipaa_covered_entity": True},
    "cause": "loss",
    "confidentiality": {"affected": True, "recipients": "unknown", "exfiltrated": "unknown"},
    "protection": {"encrypted": False, "medium": "electronic"},
    "data_categories": ["name", "date_of_birth", "health", "insurance"],
    "subjects": {"count": 600, "count_is_estimate": False, "by_jurisdiction": {"US-CA": 600}},
}
CONTACT = {"name": "Privacy Office", "toll_free_phone": "1-800-555-0100", "hours": "Mon-Fri 8am-6pm Pacific",
           "email": "privacy@clinic.example", "postal_address": "1 Main St, Springfield, CA 90000"}
FACTS: dict[str, Any] = {
    "facts": {
        "organisation_name": "Example Clinic",
        "what_happened": "On March 30, 2026 a staff laptop was stolen from a car. The laptop was not encrypted.",
        "cause": "Theft of an unencrypted laptop.",
        "data_involved": ["Name", "Date of birth", "Health information", "Health insurance information"],
        "likely_consequences": "Someone could use your details to get care or file claims in your name.",
        "measures_taken": "We told the police. We now lock all laptops with a code and trained our staff.",
        "what_you_can_do": "Check the letters you get from your health plan. Tell us about care you did not get.",
        "remedies": [{"kind": "credit_monitoring", "description": "Free credit monitoring for 24 months.",
                      "enrolment_url": "https://enrol.example.com", "enrol_by": "2026-07-31"}],
        "contact": CONTACT,
        "breach_start": "2026-03-30",
        "discovered_on": "2026-04-01",
    },
    "sender_name": "Example Clinic Privacy Office",
    "sender_address": "privacy@clinic.example",
}


def facts(**changes: Any) -> dict[str, Any]:
    """A copy of ``FACTS`` with ``facts`` fields replaced."""
    body = copy.deepcopy(FACTS)
    body["facts"].update(changes)
    return body


def file_incident(client: FlaskClient, user: Any, doc: dict[str, Any] = LAPTOP) -> int:
    response = client.post("/api/incidents", json=doc, headers=bearer(user))
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def put_facts(client: FlaskClient, user: Any, incident_id: int, body: dict[str, Any] | None = None) -> Any:
    response = client.put(f"/api/incidents/{incident_id}/notices/facts", json=body or FACTS, headers=bearer(user))
    assert response.status_code == 200, response.json
    return response.json


def draft(client: FlaskClient, user: Any, incident_id: int, **body: Any) -> list[dict[str, Any]]:
    response = client.post(f"/api/incidents/{incident_id}/notices/draft", json=body, headers=bearer(user))
    assert response.status_code == 201, response.json
    return list(response.json["versions"])


def act(client: FlaskClient, user: Any, incident_id: int, version_id: int, action: str) -> Any:
    return client.post(f"/api/incidents/{incident_id}/notices/{version_id}/{action}", headers=bearer(user))
