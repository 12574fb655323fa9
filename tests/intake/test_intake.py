"""``POST /api/intake/<source>``: realistic TheHive 5 and DFIR-IRIS case JSON (``samples/``) become incidents
with the right fields; the same case twice updates instead of duplicating; bad payloads answer 422 naming the
field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from app import create_app
from app.audit import service as audit
from app.incidents.models import Incident
from app.intake.models import IncidentSource
from tests.support import bearer

SAMPLES = Path(__file__).resolve().parent / "samples"
THEHIVE: dict[str, Any] = json.loads((SAMPLES / "thehive_case.json").read_text())
IRIS: dict[str, Any] = json.loads((SAMPLES / "iris_case.json").read_text())


@pytest.fixture
def intake_client(app: Flask) -> FlaskClient:
    links = "thehive=https://thehive.example.org/,iris=https://iris.example.org"
    return create_app(dict(app.config, CLOCK=app.extensions["clock"], INTAKE_BASE_URLS=links)).test_client()


def _post(client: FlaskClient, user: Any, source: str, body: Any) -> Any:
    return client.post(f"/api/intake/{source}", json=body, headers=bearer(user))


def _incident(client: FlaskClient, user: Any, incident_id: int) -> dict[str, Any]:
    return dict(client.get(f"/api/incidents/{incident_id}", headers=bearer(user)).json)


def test_a_thehive_case_files_an_incident_with_the_right_fields(
    intake_client: FlaskClient, make_user: Any, session: Session
) -> None:
    bot = make_user("responder")
    response = _post(intake_client, bot, "thehive", THEHIVE)
    assert response.status_code == 201, response.json
    assert response.json["action"] == "created"
    assert response.json["external_id"] == "~41000264"
    assert response.json["url"] == "https://thehive.example.org/cases/~41000264/details"
    shown = _incident(intake_client, bot, response.json["incident_id"])
    doc = shown["incident"]
    assert doc["title"] == "Ransomware on the billing file server"
    assert doc["aware_at"] == "2026-03-02T07:40:00Z"  # the aware-at custom field, not startDate
    assert doc["controller"]["name"] == "Example Logistics GmbH"
    assert doc["controller"]["establishment"] == "DE"
    assert (doc["cause"], doc["malicious"]) == ("ransomware", True)
    assert doc["data_categories"] == ["name", "contact", "financial_account"]
    assert doc["subjects"]["count"] == 40
    assert doc["confidentiality"]["affected"] is True and doc["availability"]["affected"] is True
    assert doc["measures_taken"].startswith("Host isolated")
    assert doc["description"].startswith("LockBit note")
    assert shown["status"] == "detected"
    assert any(e["kind"] == "intake" and "~41000264" in e["text"] for e in shown["timeline"])
    obligations = intake_client.get(f"/api/incidents/{shown['id']}/obligations", headers=bearer(bot)).json
    assert any(o["regime"] == "eu-gdpr" for o in obligations["obligations"])
    assert audit.verify(session).ok


def test_the_same_case_twice_updates_instead_of_duplicating(
    intake_client: FlaskClient, make_user: Any, session: Session
) -> None:
    bot = make_user("responder")
    first = _post(intake_client, bot, "thehive", THEHIVE).json
    again = _post(intake_client, bot, "thehive", THEHIVE)
    assert again.status_code == 200
    assert (again.json["action"], again.json["incident_id"]) == ("unchanged", first["incident_id"])
    changed = copy.deepcopy(THEHIVE)
    changed["title"] = "Ransomware on the billing file server (LockBit 3.0)"
    next(f for f in changed["customFields"] if f["name"] == "affected-subjects")["value"] = 55
    envelope = {"operation": "Update", "objectType": "Case", "objectId": "~41000264", "object": changed}
    updated = _post(intake_client, bot, "thehive", envelope)
    assert updated.status_code == 200, updated.json
    assert updated.json["action"] == "updated"
    assert set(updated.json["changed"]) == {"title", "subjects.count"}
    assert len(session.exec(select(Incident)).all()) == 1
    link = session.exec(select(IncidentSource)).one()
    assert (link.source, link.external_id, link.received) == ("thehive", "~41000264", 3)
    doc = _incident(intake_client, bot, first["incident_id"])["incident"]
    assert doc["subjects"]["count"] == 55 and doc["title"].endswith("(LockBit 3.0)")


def test_an_update_keeps_what_responders_changed_in_fields_the_case_does_not_carry(
    intake_client: FlaskClient, make_user: Any
) -> None:
    bot = make_user("responder")
    bare = copy.deepcopy(THEHIVE)
    bare["customFields"] = [f for f in bare["customFields"] if f["name"] != "affected-subjects"]
    incident_id = _post(intake_client, bot, "thehive", bare).json["incident_id"]
    assert _incident(intake_client, bot, incident_id)["incident"]["subjects"]["count"] == 0  # the mapping default
    assert intake_client.patch(f"/api/incidents/{incident_id}", json={"subjects": {"count": 1200}},
                               headers=bearer(bot)).status_code == 200
    bare["description"] = "Exfiltration confirmed from firewall logs."
    assert _post(intake_client, bot, "thehive", bare).json["changed"] == ["description"]
    assert _incident(intake_client, bot, incident_id)["incident"]["subjects"]["count"] == 1200


def test_an_iris_case_files_an_incident_with_the_right_fields(intake_client: FlaskClient, make_user: Any) -> None:
    bot = make_user("responder")
    response = _post(intake_client, bot, "iris", IRIS)
    assert response.status_code == 201, response.json
    assert (response.json["external_id"], response.json["url"]) == ("12", "https://iris.example.org/case?cid=12")
    doc = _incident(intake_client, bot, response.json["incident_id"])["incident"]
    assert doc["title"] == "Phishing of the payroll mailbox"
    assert doc["aware_at"] == "2026-03-01T16:20:00Z"
    assert doc["occurred_at"] == "2026-02-26T07:45:00Z"
    assert doc["controller"] == {**doc["controller"], "name": "Exemple Paie SAS", "establishment": "FR"}
    assert (doc["cause"], doc["malicious"]) == ("phishing", True)
    assert doc["subjects"]["count"] == 312
    assert doc["data_categories"] == ["name", "contact", "financial_account", "employment"]
    assert doc["confidentiality"]["affected"] is True
    again = _post(intake_client, bot, "iris", IRIS["data"])  # the bare case object maps the same
    assert (again.status_code, again.json["action"]) == (200, "unchanged")


def _without(case: dict[str, Any], *names: str) -> dict[str, Any]:
    out = copy.deepcopy(case)
    for name in names:
        out.pop(name)
    return out


def _with_field(name: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(THEHIVE)
    next(f for f in out["customFields"] if f["name"] == name)["value"] = value
    return out


@pytest.mark.parametrize(("body", "path", "reason"), [
    (_without(THEHIVE, "title"), "case.title", "missing; required for incident field title"),
    (_without(THEHIVE, "_id"), "case._id", "case id is required"),
    (_with_field("aware-at", "last tuesday"), "case.customFields[name=aware-at].value", "aware_at"),
    (_with_field("affected-subjects", "forty"), "case.customFields[name=affected-subjects].value",
     "not a whole number"),
    (_with_field("affected-subjects", -5), "case.customFields[name=affected-subjects].value", "subjects.count"),
    (_with_field("controller-country", "Germany"), "case.customFields[name=controller-country].value",
     "ISO 3166"),
    ([1, 2], "case", "expected an object"),
])
def test_bad_payloads_answer_422_naming_the_field(
    intake_client: FlaskClient, make_user: Any, session: Session, body: Any, path: str, reason: str
) -> None:
    response = _post(intake_client, make_user("responder"), "thehive", body)
    assert response.status_code == 422, response.json
    assert response.json["details"][0]["path"] == path
    assert reason in response.json["details"][0]["reason"]
    assert session.exec(select(Incident)).all() == [] and session.exec(select(IncidentSource)).all() == []


GENERIC_RULES = {"source": "soar", "id": "ticket.key", "link": "{base}/browse/{id}",
                 "fields": {"title": {"from": "ticket.summary", "required": True},
                            "aware_at": {"from": "ticket.detected", "type": "datetime", "required": True},
                            "controller.name": {"from": "org", "required": True},
                            "subjects.count": {"from": "ticket.records", "type": "int", "default": 0},
                            "cause": {"from": "ticket.kind", "map": {"lost laptop": "loss"}, "default": "other"}}}
GENERIC_CASE = {"org": "Example Clinic LLP", "ticket": {"key": "SEC-88", "summary": "Laptop lost on train",
                                                       "detected": "2026-03-01T18:00:00+01:00", "records": 17,
                                                       "kind": "lost laptop"}}


def test_generic_json_with_a_mapping(intake_client: FlaskClient, make_user: Any) -> None:
    bot = make_user("responder")
    response = _post(intake_client, bot, "generic", {"mapping": GENERIC_RULES, "case": GENERIC_CASE})
    assert response.status_code == 201, response.json
    assert (response.json["source"], response.json["external_id"]) == ("generic:soar", "SEC-88")
    doc = _incident(intake_client, bot, response.json["incident_id"])["incident"]
    assert (doc["title"], doc["cause"], doc["subjects"]["count"]) == ("Laptop lost on train", "loss", 17)
    assert doc["aware_at"] == "2026-03-01T17:00:00Z"
    again = _post(intake_client, bot, "generic", {"mapping": GENERIC_RULES, "case": GENERIC_CASE})
    assert again.json["action"] == "unchanged"
    bad_rules = {**GENERIC_RULES, "fields": {"title": {"form": "ticket.summary"}}}
    bad = _post(intake_client, bot, "generic", {"mapping": bad_rules, "case": GENERIC_CASE})
    assert bad.status_code == 422
    assert {d["path"] for d in bad.json["details"]} >= {"mapping.fields.title.form"}
    assert _post(intake_client, bot, "generic", GENERIC_CASE).status_code == 422


def test_unknown_source_bad_json_and_roles(intake_client: FlaskClient, make_user: Any) -> None:
    bot = make_user("responder")
    assert _post(intake_client, bot, "splunk", THEHIVE).status_code == 404
    raw = intake_client.post("/api/intake/thehive", data="{not json", headers=bearer(bot))
    assert raw.status_code == 422
    assert _post(intake_client, make_user("reporter"), "thehive", THEHIVE).status_code == 403
    assert intake_client.post("/api/intake/thehive", json=THEHIVE).status_code == 401
