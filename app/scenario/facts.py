"""Notice facts for a rehearsed incident (what the notices say), derived from the incident file."""

from __future__ import annotations

import datetime as dt
from typing import Any

CATEGORY_WORDS = {"name": "Name", "postal_address": "Postal address", "date_of_birth": "Date of birth",
                  "health": "Health information", "insurance": "Health insurance information",
                  "government_id": "Government identification number", "contact": "Contact details",
                  "financial_account": "Financial account information", "payment_card": "Payment card information"}


def notice_facts(incident: dict[str, Any], *, discovered_on: dt.date) -> dict[str, Any]:
    """The body of ``PUT /api/incidents/<id>/notices/facts`` for a rehearsed incident."""
    organisation = incident["controller"]["name"]
    return {
        "facts": {
            "organisation_name": organisation,
            "what_happened": (incident.get("description") or incident["title"])[:1500],
            "data_involved": [CATEGORY_WORDS.get(c, c.replace("_", " ").capitalize())
                              for c in incident.get("data_categories", [])] or ["Name"],
            "likely_consequences": "Someone could use your details to get care or file claims in your name.",
            "measures_taken": incident.get("measures_taken") or "We secured our systems and are investigating.",
            "what_you_can_do": "Check the letters you get from your health plan. Tell us about care you did not get.",
            "remedies": [{"kind": "credit_monitoring", "description": "Free credit monitoring for 24 months.",
                          "enrolment_url": "https://enrol.example.com",
                          "enrol_by": (discovered_on + dt.timedelta(days=120)).isoformat()}],
            "contact": {"name": "Privacy Office", "toll_free_phone": "1-800-555-0100",
                        "hours": "Mon-Fri 8am-6pm", "email": "privacy@covered-entity.example",
                        "postal_address": "1 Main St, Springfield"},
            "breach_start": discovered_on.isoformat(),
            "discovered_on": discovered_on.isoformat(),
        },
        "sender_name": f"{organisation} Privacy Office"[:200],
        "sender_address": "privacy@covered-entity.example",
    }
