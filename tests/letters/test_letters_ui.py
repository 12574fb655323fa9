"""The letters page: counts, making a batch with the CSRF-protected form, returned mail with bad rows named."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from app.letters.models import LetterBatch
from tests.letters.letters_support import deliveries, letters_setup
from tests.support import csrf_from, login


def test_letters_page_makes_a_batch_and_reports_bad_returns(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    setup = letters_setup(app, client, make_user, session, tmp_path, {"LETTER_DROP": str(tmp_path / "drop")})
    browser = setup.app.test_client()
    user = make_user("responder")
    login(browser, user)
    url = f"/incidents/{setup.incident_id}/letters"
    page = browser.get(url).get_data(as_text=True)
    assert "<strong>5</strong> letters waiting" in page and f"folder:{tmp_path / 'drop'}" in page
    made = browser.post(f"{url}/batch", data={"csrf_token": csrf_from(page)})
    body = made.get_data(as_text=True)
    batch = session.exec(select(LetterBatch)).one()
    assert made.status_code == 200 and f"Batch {batch.reference} handed over" in body and batch.pdf_sha256 in body
    assert "<strong>0</strong> letters waiting" in body and "<strong>5</strong> handed over" in body
    letter = deliveries(session, setup.run.id or 0, "letter")[0]
    bad = browser.post(f"{url}/returns", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(body), "file": (io.BytesIO(f"delivery_id,reason\n{letter.id},\nx,moved\n".encode()),
                                                "returns.csv")})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "line 2.reason" in text and "line 3.delivery_id" in text
    assert {d.state for d in deliveries(session, setup.run.id or 0, "letter")} == {"sent"}
    good = browser.post(f"{url}/returns", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(body), "file": (io.BytesIO(f"delivery_id,reason\n{letter.id},refused\n".encode()),
                                                "returns.csv")})
    assert good.status_code == 200 and "1 letter returned" in good.get_data(as_text=True)
    assert "Letters by post" in browser.get(f"/incidents/{setup.incident_id}").get_data(as_text=True)
