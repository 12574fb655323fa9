"""Published JSON Schemas: each report type's schema is served at ``/schemas/reports/<type>.json`` without
signing in, its ``$id`` and the report's ``schema_id`` are that URL under the public URL, the bundle carries
it (in the manifest, so signed), and every report type's exported JSON validates against it with the
``jsonschema`` library (not the pydantic model that generated it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, ValidationError

from app.reports.regimes import REGIME_REPORT, REPORT_TYPES
from app.reports.verify import verify_bytes
from tests.reports.reports_sample import GDPR_INCIDENT, approved_report, bundle, file_incident, members

SCHEMAS = Path(__file__).resolve().parents[2] / "app" / "reports" / "schemas"
EVERY_REGIME_INCIDENT: dict[str, Any] = {
    **GDPR_INCIDENT,
    "controller": {"name": "Example Clinic", "establishment": "US-CA", "hipaa_covered_entity": True,
                   "contact": {"name": "Privacy Office", "email": "privacy@example-clinic.test"}},
    "subjects": {"count": 1500, "by_jurisdiction": {"US-CA": 500, "US-TX": 300, "US-FL": 300, "DE": 200,
                                                    "GB": 100, "CN": 100}}}


def test_every_report_type_validates_against_its_published_schema(client: FlaskClient, make_user: Any,
                                                                   app: Flask) -> None:
    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = file_incident(client, drafter, EVERY_REGIME_INCIDENT)
    checked = set()
    for regime, report_type in sorted(REGIME_REPORT.items()):
        report = approved_report(client, drafter, approver, incident_id, regime,
                                 reason_for_delay="Scoping took longer than the deadline allowed.")
        _meta, data = bundle(client, drafter, incident_id, report["id"])
        verified = verify_bytes(data, name="bundle.zip")
        assert verified.ok and "report.schema.json" in verified.checked, verified.problems
        files = members(data)
        document, schema = json.loads(files["report.json"]), json.loads(files["report.schema.json"])
        url = app.config["PUBLIC_URL"].rstrip("/") + f"/schemas/reports/{report_type}.json"
        assert document["report_type"] == report_type and document["schema_id"] == schema["$id"] == url
        served = client.get(f"/schemas/reports/{report_type}.json")  # anonymous
        assert served.status_code == 200 and served.mimetype == "application/schema+json"
        assert served.data == files["report.schema.json"]
        assert schema == {**json.loads((SCHEMAS / f"{report_type}.schema.json").read_text()), "$id": url}
        Draft202012Validator.check_schema(schema)
        validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        validator.validate(document)
        with pytest.raises(ValidationError):
            validator.validate({**document, "content": {**document["content"], "not_in_the_schema": 1}})
        checked.add(report_type)
    assert checked == set(REPORT_TYPES)
    assert client.get("/schemas/reports/no-such-type.json").status_code == 404
