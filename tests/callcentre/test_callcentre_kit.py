"""The call-centre kit: script and FAQ per language from the approved notice's facts, HTML and PDF, from the CLI
and the pages."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session

from app.callcentre.kit import KitFacts, kit_facts, render_html, render_pdf
from app.errors import Conflict, NotFound
from app.notices.context import IncidentFacts
from tests.dispatch.dispatch_support import approved_laptop_incident
from tests.notices.notices_workflow_sample import FACTS, file_incident, put_facts
from tests.support import login

TODAY = dt.date(2026, 4, 2)
KIT = KitFacts(IncidentFacts.model_validate(FACTS["facts"]), "approved notice us-ca/individuals letter en v1", False)
# per language: headings of the script, questions of the FAQ and the locale's date of discovery
EXPECTED = {
    "en": (["What happened", "What information was involved", "Never on a call"], ["What should I do?"],
           "April 1, 2026"),
    "de": (["Was ist passiert", "Welche Daten betroffen sind", "Niemals am Telefon"], ["Was soll ich tun?"],
           "1. April 2026"),
    "fr": (["Ce qui s\u2019est passé", "Données concernées", "Jamais au téléphone"], ["Que dois-je faire ?"],
           "1 avril 2026"),
    "zh": (["发生了什么", "涉及哪些信息", "通话中绝不"], ["我应该怎么做\uff1f"], "2026年4月1日"),
}


@pytest.mark.parametrize("locale", sorted(EXPECTED))
def test_script_and_faq_say_what_the_notices_say(locale: str) -> None:
    headings, questions, discovered = EXPECTED[locale]
    facts = FACTS["facts"]
    script = render_html(KIT, locale=locale, document="script", today=TODAY)
    faq = render_html(KIT, locale=locale, document="faq", today=TODAY)
    for page in (script, faq):
        assert f'<html lang="{locale}">' in page and facts["organisation_name"] in page
        assert facts["what_happened"] in page and facts["measures_taken"] in page
        assert facts["likely_consequences"] in page and facts["what_you_can_do"] in page
        assert all(item in page for item in facts["data_involved"])
        assert "1-800-555-0100" in page and "Mon-Fri 8am-6pm Pacific" in page
        assert "https://enrol.example.com" in page and discovered in page
        assert KIT.source in page and "DRAFT" not in page and "草稿" not in page
    assert all(h in script for h in headings) and all(q in faq for q in questions)


def test_pdf_text_and_draft_banner(tmp_path: Path) -> None:
    draft = KitFacts(KIT.facts, "draft facts version 1", True)
    for locale, marker in (("en", "DRAFT"), ("zh", "草稿")):
        path = tmp_path / f"faq-{locale}.pdf"
        path.write_bytes(render_pdf(draft, locale=locale, document="faq", today=TODAY))
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
        assert marker in text and "1-800-555-0100" in text and "Example Clinic" in text
    with pytest.raises(NotFound):
        render_html(KIT, locale="es", document="faq", today=TODAY)
    with pytest.raises(NotFound):
        render_html(KIT, locale="en", document="memo", today=TODAY)


def test_kit_facts_come_from_the_approved_notice(client: FlaskClient, make_user: Any, session: Session) -> None:
    drafter = make_user("responder")
    incident_id = file_incident(client, drafter)
    with pytest.raises(Conflict):
        kit_facts(session, incident_id=incident_id)
    put_facts(client, drafter, incident_id)
    assert kit_facts(session, incident_id=incident_id).draft
    approved = approved_laptop_incident(client, make_user("privacy_officer"), make_user("privacy_officer"),
                                        channels=("letter",))
    kit = kit_facts(session, incident_id=approved)
    assert not kit.draft and kit.source.startswith("approved notice us-ca/individuals letter en v1")
    assert kit.facts.contact.toll_free_phone == "1-800-555-0100"


def test_cli_and_pages(client: FlaskClient, make_user: Any, runner: Any, tmp_path: Path) -> None:
    officer = make_user("privacy_officer")
    incident_id = approved_laptop_incident(client, officer, make_user("privacy_officer"), channels=("letter",))
    result = runner.invoke(args=["callcentre", "kit", str(incident_id), "--out", str(tmp_path / "kit"),
                                 "--locale", "de", "--locale", "zh"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "kit").iterdir()) == [
        "faq-de.html", "faq-de.pdf", "faq-zh.html", "faq-zh.pdf", "script-de.html", "script-de.pdf",
        "script-zh.html", "script-zh.pdf"]
    assert "Was ist passiert" in (tmp_path / "kit" / "script-de.html").read_text(encoding="utf-8")
    login(client, officer)
    page = client.get(f"/incidents/{incident_id}/callcentre").get_data(as_text=True)
    assert "approved notice us-ca/individuals" in page
    assert f"/incidents/{incident_id}/callcentre/fr/faq.pdf" in page
    html = client.get(f"/incidents/{incident_id}/callcentre/fr/script.html")
    assert html.status_code == 200 and "Ce qui s\u2019est passé" in html.get_data(as_text=True)
    pdf = client.get(f"/incidents/{incident_id}/callcentre/en/faq.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert client.get(f"/incidents/{incident_id}/callcentre/xx/faq.pdf").status_code == 404
    assert "call-centre" in client.get(f"/incidents/{incident_id}").get_data(as_text=True).lower()
