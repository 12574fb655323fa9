"""The incident pages: sign in, file through the form, walk the lifecycle, see the timeline."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient, FlaskCliRunner
from sqlmodel import Session, func, select

from app.incidents.models import Incident
from tests.support import change_password, csrf_from, login

FORM = {
    "title": "Laptop stolen from car", "aware_at": "2026-03-01T18:30+01:00", "controller.name": "Clinic Ltd",
    "controller.sector": "health", "controller.hipaa_covered_entity": "on", "cause": "theft",
    "confidentiality.affected": "on", "confidentiality.recipients": "unknown", "confidentiality.exfiltrated": "unknown",
    "protection.medium": "electronic", "data_categories": ["name", "health"], "subjects.count": "600",
    "subjects.count_is_estimate": "on", "subjects.by_jurisdiction": "US-CA:600", "integrity.recoverable": "on",
}


def _post(client: FlaskClient, url: str, page_url: str, data: dict[str, Any]) -> Any:
    token = csrf_from(client.get(page_url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


def test_cli_user_files_and_walks_an_incident(client: FlaskClient, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["users", "create", "--email", "Responder@Example.org", "--role", "responder"])
    assert result.exit_code == 0, result.output
    password = re.search(r"password: (\S+)", result.output).group(1)  # type: ignore[union-attr]
    page = client.get("/login").get_data(as_text=True)
    signed_in = client.post("/login", data={"email": "responder@example.org", "password": password,
                                            "csrf_token": csrf_from(page)})
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/account/password"
    assert change_password(client, password, "a long passphrase of mine").status_code == 302
    created = _post(client, "/incidents/new", "/incidents/new", FORM)
    assert created.status_code == 302
    detail_url = created.headers["Location"]
    for status in ("triaged", "contained", "notifying"):
        moved = _post(client, detail_url + "/status", detail_url, {"status": status, "note": f"now {status}"})
        assert moved.status_code == 302
    html = client.get(detail_url).get_data(as_text=True)
    assert "Laptop stolen from car" in html and ">notifying<" in html
    for text in ("Incident filed", "Status detected -&gt; triaged", "Status contained -&gt; notifying", "now triaged"):
        assert text in html
    listing = client.get("/incidents").get_data(as_text=True)
    assert "Laptop stolen from car" in listing and "notifying" in listing


def test_form_errors_rerender_with_field_paths(client: FlaskClient, make_user: Any, session: Session) -> None:
    login(client, make_user("reporter"))
    bad = dict(FORM, aware_at="yesterday", **{"subjects.count": "many"})
    response = _post(client, "/incidents/new", "/incidents/new", bad)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="aware_at-error"' in html and 'id="subjects.count-error"' in html
    assert 'aria-invalid="true" aria-describedby="aware_at-error"' in html  # the error is tied to its field
    assert 'value="Laptop stolen from car"' in html  # what the user typed is kept
    assert session.exec(select(func.count()).select_from(Incident)).one() == 0


def test_edit_form_round_trips_every_field(client: FlaskClient, make_user: Any) -> None:
    login(client, make_user("responder"))
    detail_url = _post(client, "/incidents/new", "/incidents/new", FORM).headers["Location"]
    edit_url = detail_url + "/edit"
    edit_page = client.get(edit_url).get_data(as_text=True)
    assert 'value="US-CA:600"' in edit_page and 'value="health" checked' in edit_page
    saved = _post(client, edit_url, edit_url, dict(FORM, title="Laptop stolen (updated)"))
    assert saved.status_code == 302
    html = client.get(detail_url).get_data(as_text=True)
    assert "Laptop stolen (updated)" in html and "Changed: title" in html


def test_disallowed_transition_page_names_both_states(client: FlaskClient, make_user: Any) -> None:
    login(client, make_user("responder"))
    detail_url = _post(client, "/incidents/new", "/incidents/new", FORM).headers["Location"]
    response = _post(client, detail_url + "/status", detail_url, {"status": "closed"})
    assert response.status_code == 409
    assert "from detected to closed" in response.get_data(as_text=True)


def test_form_without_csrf_token_is_refused(client: FlaskClient, make_user: Any, session: Session) -> None:
    login(client, make_user("responder"))
    response = client.post("/incidents/new", data=FORM)
    assert response.status_code == 400
    assert session.exec(select(func.count()).select_from(Incident)).one() == 0


def test_wrong_password_and_offsite_next(client: FlaskClient, make_user: Any) -> None:
    user = make_user("reporter")
    page = client.get("/login").get_data(as_text=True)
    wrong = client.post("/login", data={"email": user.user.email, "password": "nope", "csrf_token": csrf_from(page)})
    assert wrong.status_code == 200 and "Wrong email or password" in wrong.get_data(as_text=True)
    page = client.get("/login").get_data(as_text=True)
    ok = client.post("/login?next=https://evil.example/", data={"email": user.user.email, "password": user.password,
                                                               "csrf_token": csrf_from(page)})
    assert ok.headers["Location"] == "/"  # the dashboard, never the offsite target
