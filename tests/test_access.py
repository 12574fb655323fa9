"""Fitness tests: every route demands authentication and the right role."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from app.accounts.access import PUBLIC_ENDPOINTS
from tests.support import bearer, login


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


def test_anonymous_requests_are_refused_everywhere(app: Flask, client: FlaskClient) -> None:
    checked = 0
    for endpoint, method, url in _routes(app):
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        response = client.open(url, method=method)
        if url.startswith("/api/"):
            assert response.status_code == 401, (method, url)
        elif method == "GET":
            assert response.status_code == 302 and "/login" in response.headers["Location"], (method, url)
        else:  # forms: CSRF or the login redirect stops them before any work
            assert response.status_code in (302, 400), (method, url)
        checked += 1
    assert checked >= 10


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
