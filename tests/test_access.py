"""Fitness tests: every route demands authentication and the right role."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from app import create_app
from app.accounts.access import ADMIN, APPROVE, PUBLIC_ENDPOINTS, READ, RESPOND
from app.accounts.models import Role
from tests.support import bearer, login

# Who may call each endpoint: "responder+" is a responder, privacy officer or admin; reporters file incidents.
POLICY = {
    "accounts.change_password": "anyone signed in",
    "accounts.logout": "anyone signed in",
    "announcements_api.api_decision": "reporter+",
    "announcements_api.api_publish": "privacy_officer+",
    "announcements_api.api_withdraw": "privacy_officer+",
    "announcements_ui.ui_publish": "privacy_officer+",
    "announcements_ui.ui_withdraw": "privacy_officer+",
    "audit.events": "privacy_officer+",
    "audit.verify": "privacy_officer+",
    "callcentre_ui.document": "reporter+",
    "callcentre_ui.page": "reporter+",
    "dispatch_api.api_control": "responder+",
    "dispatch_api.api_plan": "responder+",
    "dispatch_api.api_progress": "reporter+",
    "dispatch_api.api_start": "responder+",
    "dispatch_ui.control": "responder+",
    "dispatch_ui.outbox": "responder+",
    "dispatch_ui.outbox_message": "responder+",
    "dispatch_ui.page": "reporter+",
    "dispatch_ui.progress_json": "reporter+",
    "dispatch_ui.start": "responder+",
    "incidents_api.api_create": "reporter+",
    "incidents_api.api_list": "reporter+",
    "incidents_api.api_show": "reporter+",
    "incidents_api.api_update": "responder+",
    "incidents_ui.add_note": "responder+",
    "incidents_ui.change_status": "responder+",
    "incidents_ui.edit": "responder+",
    "incidents_ui.home": "reporter+",
    "incidents_ui.index": "reporter+",
    "incidents_ui.new": "reporter+",
    "incidents_ui.show": "reporter+",
    "intake_api.receive": "responder+",
    "letters_ui.make": "responder+",
    "letters_ui.page": "reporter+",
    "letters_ui.returns": "responder+",
    "notices_api.api_approve": "privacy_officer+",
    "notices_api.api_draft": "responder+",
    "notices_api.api_get_facts": "reporter+",
    "notices_api.api_letter": "responder+",
    "notices_api.api_preview": "responder+",
    "notices_api.api_put_facts": "responder+",
    "notices_api.api_submit": "responder+",
    "notices_api.api_version": "reporter+",
    "notices_api.api_versions": "reporter+",
    "notices_ui.approve": "privacy_officer+",
    "notices_ui.draft": "responder+",
    "notices_ui.index": "reporter+",
    "notices_ui.preview": "responder+",
    "notices_ui.save_facts": "responder+",
    "notices_ui.submit": "responder+",
    "notices_ui.version": "reporter+",
    "obligations_api.api_met": "responder+",
    "obligations_api.api_waive": "privacy_officer+",
    "obligations_api.list_": "reporter+",
    "obligations_api.reassess": "responder+",
    "obligations_ui.ui_met": "responder+",
    "obligations_ui.ui_waive": "privacy_officer+",
    "reports_api.api_approve": "privacy_officer+",
    "reports_api.api_bundle": "responder+",
    "reports_api.api_bundle_download": "responder+",
    "reports_api.api_draft": "responder+",
    "reports_api.api_get": "reporter+",
    "reports_api.api_grants": "privacy_officer+",
    "reports_api.api_list": "reporter+",
    "reports_api.api_revoke": "privacy_officer+",
    "reports_api.api_share": "privacy_officer+",
    "reports_api.api_submit": "responder+",
    "reports_regulator.regulator_download": "regulator",
    "reports_regulator.regulator_index": "regulator",
    "reports_ui.act": "responder+",
    "reports_ui.approve": "privacy_officer+",
    "reports_ui.download": "responder+",
    "reports_ui.draft": "responder+",
    "reports_ui.index": "reporter+",
    "reports_ui.report": "reporter+",
    "reports_ui.revoke": "privacy_officer+",
    "reports_ui.share": "privacy_officer+",
    "subjects_api.api_identify": "responder+",
    "subjects_api.api_import": "responder+",
    "subjects_api.api_reach": "reporter+",
    "subjects_ui.page": "reporter+",
    "subjects_ui.rejects": "reporter+",
    "subjects_api.api_rejects": "reporter+",
    "webhooks_api.api_change": "admin",
    "webhooks_api.api_create": "admin",
    "webhooks_api.api_deliveries": "admin",
    "webhooks_api.api_list": "admin",
    "webhooks_api.api_show": "admin",
    "webhooks_ui.index": "admin",
    "webhooks_ui.set_active": "admin",
    "webhooks_ui.show": "admin",
}


def _routes(app: Flask) -> list[tuple[str, str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        url = re.sub(r"<(?:int:)?[^>]+>", "1", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, url))
    return routes


def test_every_endpoint_is_marked_with_roles(app: Flask) -> None:
    unmarked = [endpoint for endpoint, view in app.view_functions.items()
                if endpoint not in PUBLIC_ENDPOINTS and not getattr(view, "required_roles", None)]
    assert unmarked == []
    assert len(app.view_functions) > len(PUBLIC_ENDPOINTS) + 5


@pytest.fixture
def open_app(engine: Any, database_url: str, clock: Any, tmp_path: Path) -> Flask:
    """The application with CSRF checks off, so that a form POST reaches the sign-in and role checks."""
    return create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "instance"),
                       "SECRET_KEY": "test-secret", "CLOCK": clock, "TESTING": True, "WTF_CSRF_ENABLED": False})


def test_anonymous_requests_are_refused_everywhere(open_app: Flask) -> None:
    client = open_app.test_client()
    checked = 0
    for endpoint, method, url in _routes(open_app):
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        response = client.open(url, method=method)
        if url.startswith("/api/"):
            assert response.status_code == 401, (method, url)
        else:  # pages and forms alike: the sign-in redirect, before any work
            assert response.status_code == 302 and "/login" in response.headers["Location"], (method, url)
        checked += 1
    assert checked >= 90


def test_forms_without_a_csrf_token_are_refused(app: Flask, client: FlaskClient) -> None:
    for endpoint, method, url in _routes(app):
        if endpoint not in PUBLIC_ENDPOINTS and method != "GET" and not url.startswith("/api/"):
            assert client.open(url, method=method).status_code == 400, (method, url)


def test_every_endpoint_allows_exactly_its_roles(app: Flask) -> None:
    """The access policy, one line per endpoint: changing who may do what means changing this table."""
    names = {READ: "reporter+", RESPOND: "responder+", APPROVE: "privacy_officer+", ADMIN: "admin",
             frozenset({"regulator"}): "regulator", frozenset(r.value for r in Role): "anyone signed in"}
    marked = {endpoint: names[view.required_roles] for endpoint, view in app.view_functions.items()
              if endpoint not in PUBLIC_ENDPOINTS}
    assert marked == POLICY


def test_every_other_role_is_refused(open_app: Flask, make_user: Any) -> None:
    """Each endpoint, called by every role outside its mark, answers 403 before doing anything."""
    users = {role.value: make_user(role.value) for role in Role}
    clients = {}
    for role, user in users.items():
        clients[role] = open_app.test_client()
        signed_in = clients[role].post("/login", data={"email": user.user.email, "password": user.password})
        assert signed_in.status_code == 302, role
    refused = 0
    for endpoint, method, url in _routes(open_app):
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        for role in sorted(set(users) - open_app.view_functions[endpoint].required_roles):
            if url.startswith("/api/"):
                response = open_app.test_client().open(url, method=method, headers=bearer(users[role]))
            else:
                response = clients[role].open(url, method=method)
            assert response.status_code == 403, (role, method, url, response.status_code)
            refused += 1
    assert refused >= 150


def test_regulator_cannot_use_staff_routes(app: Flask, client: FlaskClient, make_user: Any) -> None:
    regulator = make_user("regulator")
    for endpoint, method, url in _routes(app):
        if url.startswith("/api/") and endpoint not in PUBLIC_ENDPOINTS:  # the OpenAPI document is public
            assert client.open(url, method=method, headers=bearer(regulator)).status_code == 403, (method, url)


@pytest.mark.parametrize(("role", "status"), [("reporter", 403), ("responder", 422), ("admin", 422)])
def test_editing_needs_responder(client: FlaskClient, make_user: Any, role: str, status: int) -> None:
    user = make_user(role)
    assert client.patch("/api/incidents/1", json={"cause": "bad"}, headers=bearer(user)).status_code in (status, 404)


def test_audit_api_needs_privacy_officer(client: FlaskClient, make_user: Any) -> None:
    assert client.get("/api/audit/verify", headers=bearer(make_user("responder"))).status_code == 403
    assert client.get("/api/audit/verify", headers=bearer(make_user("privacy_officer"))).json["ok"] is True


def test_forged_and_revoked_tokens(client: FlaskClient, make_user: Any, session: Any, clock: Any) -> None:
    user = make_user("responder")
    assert client.get("/api/incidents", headers={"Authorization": "Bearer bn_forged"}).status_code == 401
    from app.accounts.models import ApiToken

    token = session.exec(select(ApiToken).where(ApiToken.user_id == user.user.id)).one()
    token.revoked_at = clock.now()
    session.commit()
    assert client.get("/api/incidents", headers=bearer(user)).status_code == 401


def test_session_cookie_does_not_authenticate_the_api(client: FlaskClient, make_user: Any) -> None:
    login(client, make_user("admin"))
    assert client.get("/incidents").status_code == 200
    assert client.get("/api/incidents").status_code == 401
