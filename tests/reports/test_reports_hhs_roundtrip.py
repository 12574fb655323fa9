"""Acceptance: an incident built from a real HHS portal record exports that record's values in the portal's
column order and quoting style (every field double-quoted), through the whole workflow and the bundle."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.reports.exports import HHS_COLUMNS
from tests.reports.reports_sample import HHS_CSV, approved_report, bundle, file_incident, hhs_rows, members

# (name, submission date): comma-joined types and locations; an employee-email case; paper theft with an
# empty description; a business associate; a health plan's lost laptop; non-ASCII with line breaks; CRLFs.
PICKS = [
    ("PRN Medical Services, LLC dba Symbius Medical, LLC", "07/29/2014"),
    ("NRAD Medical Associates, P.C.", "06/20/2014"),
    ("Miracle - Ear", "02/19/2021"),  # two reports that day: the 900-person one (see _row)
    ("BeneSys, Inc.", "08/10/2020"),
    ("City of Philadelphia", "07/19/2019"),
    ("Peregrine Corporation d/b/a PSL Services", "02/14/2020"),
    ("California Health & Longevity Institute", "05/25/2016"),
]


def _row(name: str, date: str) -> list[str]:
    matches = [r for r in hhs_rows() if r[0] == name and r[4] == date]
    assert matches, (name, date)
    return matches[0]


def _quoted(row: list[str]) -> str:
    out = io.StringIO(newline="")
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(row)
    return out.getvalue()


def _incident(row: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Incident file and HHS extras from a portal row; the description goes into the incident when it
    survives whitespace stripping, else into the extras."""
    name, state, entity_type, individuals, submitted, types, locations, ba, description = row
    doc: dict[str, Any] = {
        "title": f"HHS record: {name}"[:300], "aware_at": "2026-02-20T09:00:00+00:00",
        "controller": {"name": name, "establishment": f"US-{state}", "sector": "health",
                       "hipaa_covered_entity": True},
        "cause": "other", "confidentiality": {"affected": True, "recipients": "unknown"},
        "data_categories": ["name", "health"],
        "subjects": {"count": int(individuals), "count_is_estimate": False,
                     "by_jurisdiction": {f"US-{state}": int(individuals)}}}
    extras: dict[str, Any] = {
        "covered_entity_type": entity_type, "type_of_breach": types.split(", "),
        "location": locations.split(", "), "business_associate_present": ba == "Yes",
        "submission_date": dt.datetime.strptime(submitted, "%m/%d/%Y").date().isoformat()}
    if description and description == description.strip():
        doc["description"] = description
    else:
        extras["web_description"] = description
    return doc, extras


def test_the_shared_csv_is_the_documented_file() -> None:
    assert HHS_CSV.stat().st_size == 2_537_821
    assert len(hhs_rows()) == 3793


@pytest.mark.parametrize(("name", "date"), PICKS)
def test_hhs_csv_export_reproduces_the_portal_record(client: FlaskClient, make_user: Any, name: str,
                                                     date: str) -> None:
    row = _row(name, date)
    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    doc, extras = _incident(row)
    incident_id = file_incident(client, drafter, doc)
    report = approved_report(client, drafter, approver, incident_id, "us-hipaa", extras=extras)
    _bundle, data = bundle(client, drafter, incident_id, report["id"])
    exported = members(data)["hhs-breach-portal.csv"].decode("utf-8")
    records = list(csv.reader(io.StringIO(exported, newline="")))
    assert tuple(records[0]) == HHS_COLUMNS
    assert len(records) == 2
    for column, got, want in zip(HHS_COLUMNS, records[1], row, strict=True):
        assert got == want, column
    record_text = exported.split("\n", 1)[1]
    assert record_text == _quoted(row)  # every field double-quoted, quotes doubled, LF record end
    assert record_text.encode() in HHS_CSV.read_bytes()  # byte for byte as the portal wrote it
