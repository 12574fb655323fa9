"""The incident JSON API: filing, reading, changing, the lifecycle, and refusing bad input unchanged."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, func, select

from app.audit.models import AuditEvent
from app.incidents.models import Incident, TimelineEntry
from tests.support import EXAMPLE_INCIDENT, bearer


@pytest.fixture
def responder(make_user: Any) -> Any:
    return make_user("responder")


def _counts(session: Session) -> tuple[int, int, int]:
    session.expire_all()
    return tuple(session.exec(select(func.count()).select_from(m)).one()  # type: ignore[return-value]
                 for m in (Incident, TimelineEntry, AuditEvent))


def test_create_get_list(client: FlaskClient, responder: Any) -> None:
    response = client.post("/api/incidents", json=EXAMPLE_INCIDENT, headers=bearer(responder))
    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "detected"
    assert body["incident"]["aware_at"] == "2026-03-02T08:00:00Z"
    assert body["incident"]["subjects"]["by_jurisdiction"] == {"DE": 38, "AT": 2}
    assert body["incident"]["confidentiality"]["recipients"] == "none"  # defaults filled in
    shown = client.get(f"/api/incidents/{body['id']}", headers=bearer(responder)).json
    assert shown["incident"] == body["incident"]
    assert [e["kind"] for e in shown["timeline"]] == ["created", "obligations"]
    listed = client.get("/api/incidents", headers=bearer(responder)).json["incidents"]
    assert [i["id"] for i in listed] == [body["id"]]


def test_patch_deep_merges_and_revalidates(client: FlaskClient, responder: Any) -> None:
    incident_id = client.post("/api/incidents", json=EXAMPLE_INCIDENT, headers=bearer(responder)).json["id"]
    response = client.patch(f"/api/incidents/{incident_id}", headers=bearer(responder),
                            json={"confidentiality": {"affected": True, "exfiltrated": "unknown"},
                                  "note": "forensics found outbound traffic"})
    assert response.status_code == 200, response.json
    doc = response.json["incident"]
    assert doc["confidentiality"]["affected"] is True
    assert doc["confidentiality"]["exfiltrated"] == "unknown"
    assert doc["confidentiality"]["recipients"] == "none"  # untouched sibling kept
    assert doc["availability"]["outage_hours"] == 6
    timeline = client.get(f"/api/incidents/{incident_id}", headers=bearer(responder)).json["timeline"]
    assert [e["kind"] for e in timeline] == ["created", "obligations", "updated", "note", "obligations"]
    assert timeline[3]["text"] == "forensics found outbound traffic"


def test_lifecycle_walk_and_refused_transition(client: FlaskClient, responder: Any, session: Session) -> None:
    incident_id = client.post("/api/incidents", json=EXAMPLE_INCIDENT, headers=bearer(responder)).json["id"]
    for status in ("triaged", "contained", "notifying", "closed"):
        response = client.patch(f"/api/incidents/{incident_id}", json={"status": status}, headers=bearer(responder))
        assert response.status_code == 200 and response.json["status"] == status
    before = _counts(session)
    refused = client.patch(f"/api/incidents/{incident_id}", json={"status": "triaged"}, headers=bearer(responder))
    assert refused.status_code == 409
    assert "closed" in refused.json["message"] and "triaged" in refused.json["message"]
    assert _counts(session) == before


BAD_INPUTS = [
    ({"aware_at": "2026-13-45T99:00:00Z"}, "aware_at"),
    ({"aware_at": "2026-03-02T09:00:00"}, "aware_at"),
    ({"cause": "aliens"}, "cause"),
    ({"controller": {"name": "X", "sectr": "health"}}, "controller.sectr"),
    ({"surprise": 1}, "surprise"),
    ({"subjects": {"count": -1}}, "subjects.count"),
    ({"data_categories": ["name", "shoe_size"]}, "data_categories.1"),
    ({"subjects": {"count": 3, "by_jurisdiction": {"Germany!": 3}}}, "subjects.by_jurisdiction.Germany!"),
    ({"aware_at": "2026-03-02T12:00:00Z"}, "aware_at"),  # the test clock says 10:00 UTC
    ({"occurred_at": "2026-03-02T09:30:00+01:00"}, "occurred_at"),  # after aware_at (08:00 UTC)
    ({"occurred_at": "2026-03-03T00:00:00Z"}, "occurred_at"),  # in the future
    ({"aware_at": "9999-12-31T23:59:59-12:00"}, "aware_at"),  # no UTC time (was a 500)
    ({"title": "Lost\u0000laptop"}, "title"),  # PostgreSQL cannot store NUL
    ({"subjects": {"count": 3, "by_jurisdiction": {"ZZ": 3}}}, "subjects.by_jurisdiction.ZZ"),
    ({"subjects": {"count": 3, "by_jurisdiction": {"US-ZZ": 3}}}, "subjects.by_jurisdiction.US-ZZ"),
    ({"controller": {"name": "X", "establishment": "UK"}}, "controller.establishment"),
    ({"subjects": {"count": 8, "by_jurisdiction": {"us-ca": 3, "US-CA": 5}}}, "subjects.by_jurisdiction"),
]


@pytest.mark.parametrize(("change", "path"), BAD_INPUTS)
def test_invalid_input_names_field_and_changes_nothing(
    client: FlaskClient, responder: Any, session: Session, change: dict[str, Any], path: str
) -> None:
    incident_id = client.post("/api/incidents", json=EXAMPLE_INCIDENT, headers=bearer(responder)).json["id"]
    before = _counts(session)
    doc = copy.deepcopy(EXAMPLE_INCIDENT) | change
    created = client.post("/api/incidents", json=doc, headers=bearer(responder))
    assert created.status_code == 422
    assert path in [d["path"] for d in created.json["details"]], created.json
    patched = client.patch(f"/api/incidents/{incident_id}", json=change, headers=bearer(responder))
    assert patched.status_code == 422
    assert path in [d["path"] for d in patched.json["details"]]
    assert _counts(session) == before
    stored = client.get(f"/api/incidents/{incident_id}", headers=bearer(responder)).json
    assert stored["version"] == 1


def test_times_within_clock_skew_or_at_awareness_are_accepted(client: FlaskClient, responder: Any) -> None:
    doc = copy.deepcopy(EXAMPLE_INCIDENT) | {"aware_at": "2026-03-02T10:04:00Z", "occurred_at": "2026-03-02T10:04:00Z"}
    assert client.post("/api/incidents", json=doc, headers=bearer(responder)).status_code == 201
    late = client.post("/api/incidents", json={**doc, "aware_at": "2026-03-02T10:06:00Z"}, headers=bearer(responder))
    assert late.status_code == 422 and "in the future (now is 2026-03-02T10:00:00+00:00)" in late.json["message"]


def test_unknown_status_and_broken_json(client: FlaskClient, responder: Any, session: Session) -> None:
    incident_id = client.post("/api/incidents", json=EXAMPLE_INCIDENT, headers=bearer(responder)).json["id"]
    before = _counts(session)
    bad = client.patch(f"/api/incidents/{incident_id}", json={"status": "done"}, headers=bearer(responder))
    assert bad.status_code == 422 and bad.json["details"][0]["path"] == "status"
    broken = client.post("/api/incidents", data="{not json", content_type="application/json",
                         headers=bearer(responder))
    assert broken.status_code == 422 and "JSON" in broken.json["message"]
    assert _counts(session) == before


def test_body_over_the_limit_is_413_and_stores_nothing(client: FlaskClient, responder: Any, session: Session) -> None:
    doc = copy.deepcopy(EXAMPLE_INCIDENT) | {"description": "x" * 1_100_000}
    response = client.post("/api/incidents", data=json.dumps(doc), content_type="application/json",
                           headers=bearer(responder))
    assert response.status_code == 413
    assert response.json["error"] == "too_large"
    assert _counts(session)[0] == 0


def test_listing_by_an_unknown_status_is_refused(client: FlaskClient, responder: Any) -> None:
    refused = client.get("/api/incidents?status=bogus", headers=bearer(responder))
    assert refused.status_code == 422 and refused.json["details"] == [{"path": "status", "reason": "unknown status"}]
    assert client.get("/api/incidents?status=closed", headers=bearer(responder)).json == {"incidents": []}


def test_missing_incident_is_404(client: FlaskClient, responder: Any) -> None:
    response = client.get("/api/incidents/999", headers=bearer(responder))
    assert response.status_code == 404 and response.json["error"] == "not_found"
