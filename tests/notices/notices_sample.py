"""Shared sample data for the notices tests (plain helpers, not fixtures)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from app.notices.context import Contact, IncidentFacts, NoticeContext, Recipient, Remedy

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "notices"
LINK = "https://notify.example/n/4711.tq3k1c.AbCdEfGhIjKlMnOpQrStUv"


def facts(**changes: Any) -> IncidentFacts:
    """A complete set of incident facts; keyword arguments replace fields."""
    values: dict[str, Any] = {
        "organisation_name": "Acme Health, Inc.",
        "what_happened": "An unauthorised person got into one of our email accounts.\n\n"
                         "They could read messages that held patient details.",
        "cause": "A staff member answered a fake email and gave away a password.",
        "data_involved": ["Name", "Date of birth", "Social Security number", "Health insurance number"],
        "likely_consequences": "Someone could try to use your details to open credit in your name.",
        "measures_taken": "We locked the account, reset all passwords and hired outside experts.",
        "what_you_can_do": "Check your bank and insurance statements. Be careful with unexpected emails.",
        "remedies": [Remedy(kind="credit_monitoring",
                            description="Free credit monitoring for 24 months from IdentityWatch.",
                            duration_months=24, enrolment_url="https://enrol.example.com",
                            enrol_by=dt.date(2026, 6, 30))],
        "contact": Contact(name="Privacy Office", email="privacy@acme.example",
                           toll_free_phone="1-800-555-0100", hours="Mon-Fri 9am-5pm",
                           website="https://acme.example/incident",
                           postal_address="1 Main St, Springfield, CA 90000"),
        "breach_start": dt.date(2026, 3, 1),
        "breach_end": dt.date(2026, 3, 3),
        "discovered_on": dt.date(2026, 3, 4),
        "us_credit_bureaus": True,
    }
    values.update(changes)
    return IncidentFacts(**values)


def context(language: str | None = "en", *, full_name: str = "Siobhán O'Brien",
            **fact_changes: Any) -> NoticeContext:
    """A complete notice context for one recipient."""
    recipient = Recipient(full_name=full_name, preferred_language=language, personal_link=LINK,
                          enrolment_code="ENR-42")
    return NoticeContext(facts=facts(**fact_changes), recipient=recipient, notice_date=dt.date(2026, 3, 20))
