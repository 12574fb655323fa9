"""Helpers for the report tests (import as ``tests.reports.reports_sample``): incidents, the report workflow
through the API, the real HHS portal CSV, and bundle tampering."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from tests.support import bearer

HHS_CSV = Path(__file__).resolve().parents[3] / "shared/data/hhs-ocr-breach-portal-2009-10-to-2021-03.csv"

GDPR_INCIDENT: dict[str, Any] = {
    "title": "Customer database exfiltrated",
    "description": "An attacker used a stolen admin password to copy the customer table.",
    "aware_at": "2026-03-01T09:00:00+01:00",
    "controller": {"name": "Example Shop GmbH", "establishment": "DE",
                   "contact": {"name": "Data Protection Officer", "email": "dpo@example-shop.test",
                               "phone": "+49 30 1234567"}},
    "cause": "hacking",
    "malicious": True,
    "confidentiality": {"affected": True, "recipients": "unknown", "exfiltrated": True},
    "data_categories": ["name", "contact", "financial_account"],
    "subjects": {"count": 1200, "by_jurisdiction": {"DE": 1000, "AT": 200}},
    "measures_taken": "Passwords reset, admin accounts moved behind MFA.",
}


def hhs_rows() -> list[list[str]]:
    """Every record of the shared HHS portal CSV (header dropped)."""
    with HHS_CSV.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))[1:]


def file_incident(client: FlaskClient, user: Any, doc: dict[str, Any]) -> int:
    response = client.post("/api/incidents", json=doc, headers=bearer(user))
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def api(incident_id: int) -> str:
    return f"/api/incidents/{incident_id}/reports"


def draft(client: FlaskClient, user: Any, incident_id: int, regime: str, **body: Any) -> Any:
    return client.post(api(incident_id), json={"regime": regime, **body}, headers=bearer(user))


def approved_report(client: FlaskClient, drafter: Any, approver: Any, incident_id: int, regime: str,
                    **body: Any) -> dict[str, Any]:
    """Draft, submit and approve one report; returns the approved version's JSON."""
    drafted = draft(client, drafter, incident_id, regime, **body)
    assert drafted.status_code == 201, drafted.json
    report_id = drafted.json["id"]
    assert client.post(f"{api(incident_id)}/{report_id}/submit", headers=bearer(drafter)).status_code == 200
    approved = client.post(f"{api(incident_id)}/{report_id}/approve", headers=bearer(approver))
    assert approved.status_code == 200, approved.json
    return dict(approved.json)


def bundle(client: FlaskClient, user: Any, incident_id: int, report_id: int) -> tuple[dict[str, Any], bytes]:
    """Export a bundle and download it: ``(bundle JSON, zip bytes)``."""
    made = client.post(f"{api(incident_id)}/{report_id}/bundles", headers=bearer(user))
    assert made.status_code == 201, made.json
    data = client.get(f"{api(incident_id)}/bundles/{made.json['id']}", headers=bearer(user)).data
    return dict(made.json), data


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(files: dict[str, bytes]) -> bytes:
    """A valid zip of ``files`` (so a changed member is caught by the manifest, not by the zip CRC)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def flip(content: bytes, at: int | None = None) -> bytes:
    """``content`` with one byte changed (the middle one by default)."""
    index = len(content) // 2 if at is None else at
    return content[:index] + bytes([content[index] ^ 0x01]) + content[index + 1:]
