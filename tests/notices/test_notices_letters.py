"""Postal letters as PDF, checked with ``pdftotext``."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session

from app.errors import InvalidInput
from app.notices import service
from app.notices.context import Recipient
from app.notices.elements import CALIFORNIA_HEADINGS
from app.notices.letters import letter_pdfs
from tests.notices.notices_workflow_sample import draft, file_incident, put_facts
from tests.support import T0, bearer

LINK = "https://notify.example.org/n/4711.tq3k1c.AbCdEfGhIjKlMnOpQrStUv"


def pdf_text(pdf: bytes, tmp_path: Path, name: str = "letter.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def _letter_version(client: FlaskClient, make_user: Any, session: Session) -> Any:
    user = make_user("responder")
    incident_id = file_incident(client, user)
    put_facts(client, user, incident_id)
    letter = draft(client, user, incident_id, regimes=["us-ca"], channels=["letter"])[0]
    return service.get_version(session, version_id=letter["id"]), user


def test_one_pdf_per_recipient_with_title_headings_and_address(
    client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    version, _ = _letter_version(client, make_user, session)
    recipients = [Recipient(full_name="Maria Example", personal_link=LINK, enrolment_code="ENR-77",
                            postal_address=("742 Evergreen Terrace", "Springfield, CA 90001")),
                  Recipient(full_name="John Sample", personal_link=LINK,
                            postal_address=("PO Box 12", "Fresno, CA 93650", "USA"))]
    pdfs = list(letter_pdfs(version, recipients, notice_date=T0.date()))
    assert [index for index, _ in pdfs] == [0, 1]
    first = pdf_text(pdfs[0][1], tmp_path, "first.pdf")
    for expected in ("Notice of Data Breach", *CALIFORNIA_HEADINGS, "Maria Example", "742 Evergreen Terrace",
                     "Springfield, CA 90001", "ENR-77", "Example Clinic"):
        assert expected in first, expected
    second = pdf_text(pdfs[1][1], tmp_path, "second.pdf")
    assert "John Sample" in second and "PO Box 12" in second and "Maria Example" not in second


def test_a_letter_needs_an_address_and_a_letter_version(
    client: FlaskClient, make_user: Any, session: Session
) -> None:
    version, user = _letter_version(client, make_user, session)
    with pytest.raises(InvalidInput, match="postal address"):
        list(letter_pdfs(version, [Recipient(full_name="No Address", personal_link=LINK)], notice_date=T0.date()))
    sms = draft(client, user, version.incident_id, regimes=["us-ca"], channels=["sms"])[0]
    with pytest.raises(InvalidInput, match="not a letter"):
        list(letter_pdfs(service.get_version(session, version_id=sms["id"]),
                         [Recipient(full_name="A", personal_link=LINK, postal_address=("x",))], notice_date=T0.date()))


def test_letter_api_returns_a_pdf(client: FlaskClient, make_user: Any, session: Session, tmp_path: Path) -> None:
    version, user = _letter_version(client, make_user, session)
    response = client.post(f"/api/incidents/{version.incident_id}/notices/{version.id}/letter", headers=bearer(user),
                           json={"full_name": "Maria Example", "personal_link": LINK,
                                 "postal_address": ["742 Evergreen Terrace", "Springfield, CA 90001"]})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data, tmp_path)
    assert "What Information Was Involved" in text and "742 Evergreen Terrace" in text


def test_cli_writes_one_letter_per_recipient(
    client: FlaskClient, make_user: Any, session: Session, runner: Any, tmp_path: Path
) -> None:
    version, _ = _letter_version(client, make_user, session)
    recipients = tmp_path / "recipients.yaml"
    recipients.write_text(
        f"- {{full_name: Maria Example, personal_link: '{LINK}', postal_address: [1 Elm St, Davis CA]}}\n"
        f"- {{full_name: John Sample, personal_link: '{LINK}', postal_address: [2 Oak St, Napa CA]}}\n")
    out = tmp_path / "out"
    result = runner.invoke(args=["notices", "letters", str(version.id), "--recipients", str(recipients),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [f"letter-{version.id}-1.pdf", f"letter-{version.id}-2.pdf"]
    assert "2 Oak St" in pdf_text((out / f"letter-{version.id}-2.pdf").read_bytes(), tmp_path)
