"""Helpers shared by the tests (import as ``tests.support``)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from app.accounts import service as accounts

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
AFTER_LAPTOP = dt.datetime(2026, 4, 2, 10, 0, tzinfo=dt.UTC)
"""The clock of the tests built on the laptop case (``tests.notices.notices_workflow_sample.LAPTOP``, discovered
2026-04-01 16:00 UTC): an incident is filed once someone knows of it, so never before its ``aware_at``."""


def bearer(new_user: accounts.NewUser) -> dict[str, str]:
    """Authorization header for a user made by ``make_user``."""
    return {"Authorization": f"Bearer {new_user.token}"}


def csrf_from(html: str) -> str:
    """The CSRF token embedded in a rendered page."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def sign_in(client: FlaskClient, email: str, password: str) -> Any:
    """Post the real login form (with its CSRF token); returns the response."""
    page = client.get("/login").get_data(as_text=True)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_from(page)})


def login(client: FlaskClient, new_user: accounts.NewUser) -> None:
    """Sign in through the real login form."""
    response = sign_in(client, new_user.user.email, new_user.password)
    assert response.status_code == 302, response.get_data(as_text=True)


def change_password(client: FlaskClient, current: str, new: str, confirm: str | None = None) -> Any:
    """Post the change-password form (with its CSRF token) as the signed-in user; returns the response."""
    page = client.get("/account/password").get_data(as_text=True)
    return client.post("/account/password", data={"current_password": current, "new_password": new,
                                                   "confirm": new if confirm is None else confirm,
                                                   "csrf_token": csrf_from(page)})


SHARED = Path(__file__).resolve().parents[2] / "shared"
EXAMPLE_INCIDENT: dict[str, Any] = {
    "title": "Ransomware on the billing file server",
    "aware_at": "2026-03-02T09:00:00+01:00",
    "controller": {"name": "Example Logistics GmbH", "establishment": "DE"},
    "cause": "ransomware",
    "malicious": True,
    "availability": {"affected": True, "outage_hours": 6, "backup_available": True},
    "data_categories": ["name", "contact"],
    "subjects": {"count": 40, "by_jurisdiction": {"DE": 38, "AT": 2}},
}


# A HIPAA covered clinic in California that lost an unencrypted laptop with patient records (the playbook
# case of tests/playbooks/test_us_cases.py, smaller): the incident file estimates 4 patients.
HIPAA_CLINIC: dict[str, Any] = {
    "title": "Unencrypted laptop with patient records lost",
    "aware_at": "2026-03-01T09:00:00-08:00",
    "controller": {"name": "Example Clinic", "establishment": "US-CA", "sector": "health",
                   "hipaa_covered_entity": True},
    "cause": "loss",
    "malicious": False,
    "confidentiality": {"affected": True, "recipients": "unknown", "exfiltrated": "unknown"},
    "protection": {"encrypted": False, "medium": "electronic"},
    "data_categories": ["name", "date_of_birth", "health", "insurance"],
    "subjects": {"count": 4, "by_jurisdiction": {"US-CA": 4}},
}


def merge_rows(rows: list[Any], keys: Any) -> tuple[list[Any], int]:
    """The import's own in-chunk merge over normalised rows: encrypt and index each row
    (``store.prepare``), then ``store.merge_groups``; returns ``(prepared subjects, rows merged away)``."""
    from app.subjects.store import merge_groups, prepare

    cipher, index = keys.cipher(), keys.blind_index()
    return merge_groups([prepare(row, cipher=cipher, index=index) for row in rows])
