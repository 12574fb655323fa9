"""A report that quotes an approved individual notice (the California AG sample notice, the Florida notice
copy) quotes it as plain text, and the bundle carries the notice as its own readable PDF: pdftotext shows
the title and headings, never markup; the report PDF shows no HTML source either."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from app.clock import FixedClock
from app.reports.verify import verify_bytes
from tests.notices.notices_workflow_sample import LAPTOP, act, draft, put_facts
from tests.reports.reports_sample import approved_report, bundle, file_incident, members
from tests.support import AFTER_LAPTOP

HEADINGS = ("Notice of Data Breach", "What Happened", "What Information Was Involved", "What We Are Doing",
            "What You Can Do", "For More Information")
MARKUP = ("<!DOCTYPE", "<!doctype", "<style", "<html", "<h1", "<p>", "@page")


def pdf_text(pdf: bytes, tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout


def test_sample_notice_is_plain_text_and_its_own_pdf(client: FlaskClient, make_user: Any, tmp_path: Path,
                                                     clock: FixedClock) -> None:
    clock.set(AFTER_LAPTOP)  # the laptop case is filed after its discovery
    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = file_incident(client, drafter, {**LAPTOP, "subjects": {
        "count": 600, "count_is_estimate": False, "by_jurisdiction": {"US-CA": 400, "US-FL": 200}}})
    put_facts(client, drafter, incident_id)
    for letter in draft(client, drafter, incident_id, regimes=["us-ca", "us-fl"], channels=["letter"]):
        assert act(client, drafter, incident_id, letter["id"], "submit").status_code == 200
        assert act(client, approver, incident_id, letter["id"], "approve").status_code == 200, letter
    for regime, field, pdf_name in (("us-ca", "sample_notice", "sample-notice.pdf"),
                                    ("us-fl", "notice_copy", "notice-copy.pdf")):
        report = approved_report(client, drafter, approver, incident_id, regime)
        _meta, data = bundle(client, drafter, incident_id, report["id"])
        verified = verify_bytes(data, name="bundle.zip")
        assert verified.ok and pdf_name in verified.checked, verified.problems  # listed, hashed and signed
        files = members(data)
        exported = json.loads(files["report.json"])
        Draft202012Validator(json.loads(files["report.schema.json"])).validate(exported)
        quoted = exported["content"][field]
        assert quoted["channel"] == "letter" and quoted["text"].startswith("Example Clinic")
        for heading in HEADINGS:
            assert f"\n{heading}\n" in quoted["text"], heading
        assert not any(m in quoted["text"] for m in MARKUP), quoted["text"][:300]
        notice = pdf_text(files[pdf_name], tmp_path, pdf_name)
        for heading in HEADINGS:
            assert heading in notice, (regime, heading)
        assert not any(m in notice for m in MARKUP), notice[:300]
        info = subprocess.run(["pdfinfo", str(tmp_path / pdf_name)], check=True, capture_output=True, text=True)
        assert re.search(r"^Title:\s+Notice of Data Breach$", info.stdout, re.MULTILINE), info.stdout
        text = pdf_text(files["report.pdf"], tmp_path, f"report-{regime}.pdf")
        assert "Notice of Data Breach" in text and "What Happened" in text
        assert not any(m in text for m in MARKUP), text[:500]
