"""Disabled users, one-time passwords and the forced password change, and sessions ending when the
password changes."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlmodel import Session, select

from app.accounts.models import User
from tests.support import bearer, change_password, csrf_from, login, sign_in


def _signed_out_by(client: FlaskClient, runner: FlaskCliRunner, *command: str) -> None:
    """The client's open session works before ``users COMMAND`` and sends it to the login page after."""
    assert client.get("/incidents").status_code == 200
    assert runner.invoke(args=["users", *command]).exit_code == 0
    ended = client.get("/incidents")
    assert ended.status_code == 302 and ended.headers["Location"].startswith("/login")


def _user(session: Session, email: str) -> User:
    session.expire_all()
    return session.exec(select(User).where(User.email == email)).one()


def test_a_disabled_user_cannot_sign_in_loses_the_session_and_tokens_until_enabled(
        app: Flask, client: FlaskClient, runner: FlaskCliRunner, make_user: Any) -> None:
    make_user("admin")
    user = make_user("responder", email="rosa@example.org")
    login(client, user)
    _signed_out_by(client, runner, "disable", "rosa@example.org")
    refused = sign_in(app.test_client(), "rosa@example.org", user.password)
    assert refused.status_code == 200 and "Wrong email or password." in refused.get_data(as_text=True)
    api = client.get("/api/incidents", headers=bearer(user))
    assert api.status_code == 401 and api.json["error"] == "unauthenticated"
    assert runner.invoke(args=["users", "enable", "rosa@example.org"]).exit_code == 0
    assert client.get("/api/incidents", headers=bearer(user)).status_code == 200
    assert sign_in(app.test_client(), "rosa@example.org", user.password).status_code == 302


def test_a_one_time_password_leads_only_to_the_change_password_form(
        client: FlaskClient, make_user: Any, session: Session) -> None:
    user = make_user("responder", email="rosa@example.org", must_change_password=True)
    signed_in = sign_in(client, "rosa@example.org", user.password)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/account/password"
    for url in ("/", "/incidents", "/incidents/new"):
        page = client.get(url)
        assert page.status_code == 302 and page.headers["Location"] == "/account/password", url
    filed = client.post("/incidents/new", data={"csrf_token": csrf_from(client.get("/account/password").text)})
    assert filed.status_code == 302 and filed.headers["Location"] == "/account/password"
    script = client.get("/incidents/1/dispatch/progress.json", headers={"Accept": "application/json"})
    assert script.status_code == 403 and script.json["error"] == "password_change_required"
    assert "set your own password first" in script.json["message"]
    assert client.get("/api/incidents", headers=bearer(user)).status_code == 200  # tokens are unaffected
    form = client.get("/account/password")
    assert form.status_code == 200 and "You signed in with a one-time password" in form.text
    assert client.post("/account/password", data={"current_password": user.password, "new_password": "x" * 20,
                                                   "confirm": "x" * 20}).status_code == 400  # no CSRF token


def test_the_forced_change_checks_its_fields_then_frees_the_user(
        client: FlaskClient, make_user: Any, session: Session) -> None:
    user = make_user("responder", email="rosa@example.org", must_change_password=True)
    sign_in(client, "rosa@example.org", user.password)
    mine = "correct horse battery staple"
    for current, new, confirm, message in (
            ("wrong", mine, mine, "current_password: the current password is wrong"),
            (user.password, "short", "short", "new_password: use 12 to 256 characters"),
            (user.password, mine, mine + "!", "the two new passwords differ"),
            (user.password, user.password, user.password, "choose a password different from the current one")):
        refused = change_password(client, current, new, confirm)
        assert refused.status_code == 200 and message in refused.text, message
        assert _user(session, "rosa@example.org").must_change_password is True
    changed = change_password(client, user.password, mine)
    assert changed.status_code == 302 and changed.headers["Location"] == "/"
    assert client.get("/incidents").status_code == 200  # the session survives its own change
    assert _user(session, "rosa@example.org").must_change_password is False
    assert sign_in(FlaskClient(client.application), "rosa@example.org", user.password).status_code == 200
    assert sign_in(FlaskClient(client.application), "rosa@example.org", mine).headers["Location"] == "/"


def test_a_password_reset_ends_open_sessions(app: Flask, client: FlaskClient, runner: FlaskCliRunner,
                                             make_user: Any) -> None:
    user = make_user("responder", email="rosa@example.org")
    login(client, user)
    _signed_out_by(client, runner, "reset-password", "rosa@example.org")
    assert client.get("/api/incidents", headers=bearer(user)).status_code == 200


def test_any_signed_in_user_may_change_their_password(client: FlaskClient, make_user: Any) -> None:
    user = make_user("regulator")
    login(client, user)
    page = client.get("/account/password")
    assert page.status_code == 200 and "one-time password" not in page.text
    changed = change_password(client, user.password, "a brand new passphrase")
    assert changed.status_code == 302 and changed.headers["Location"] == "/regulator"
