"""``breach-notify users ...``: list, disable/enable (last-admin guard), reset-password, token, revoke-token,
and one clear error line for each failure."""

from __future__ import annotations

import json
import re
from typing import Any

from flask.testing import FlaskClient, FlaskCliRunner
from sqlmodel import Session, col, select

from app.audit.models import AuditEvent
from app.clock import FixedClock
from tests.support import T0, login, sign_in


def _run(runner: FlaskCliRunner, *args: str) -> Any:
    return runner.invoke(args=["users", *args])


def _fails(result: Any, line: str) -> None:
    """Exit 2 with ``line`` as the first line, and no traceback."""
    assert result.exit_code == 2, result.output
    assert result.output.splitlines()[0] == line
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def _actions(session: Session) -> list[str]:
    return list(session.exec(select(AuditEvent.action).order_by(col(AuditEvent.seq))).all())


def test_list_shows_state_last_login_and_live_tokens_but_no_secrets(
        runner: FlaskCliRunner, client: FlaskClient, make_user: Any, clock: FixedClock) -> None:
    admin = make_user("admin", email="admin@example.org")
    reporter = make_user("reporter", email="rita@example.org", must_change_password=True)
    assert _run(runner, "token", "admin@example.org", "--name", "ci").exit_code == 0
    assert _run(runner, "revoke-token", "admin@example.org", "--name", "cli").exit_code == 0
    assert _run(runner, "token", "rita@example.org").exit_code == 0
    assert _run(runner, "disable", "rita@example.org").exit_code == 0
    clock.advance(3600)
    login(client, admin)
    text = _run(runner, "list")
    assert text.exit_code == 0
    assert text.output.splitlines() == [
        f"admin@example.org\tadmin\tactive\t{T0.isoformat()}\t2026-03-02T11:00:00+00:00\t1 token",
        f"rita@example.org\treporter\tdisabled (must change password)\t{T0.isoformat()}\t-\t2 tokens",
    ]
    listed = json.loads(_run(runner, "list", "--format", "json").output)["users"]
    assert listed == [
        {"email": "admin@example.org", "role": "admin", "active": True, "must_change_password": False,
         "created_at": "2026-03-02T10:00:00+00:00", "last_login_at": "2026-03-02T11:00:00+00:00", "live_tokens": 1},
        {"email": "rita@example.org", "role": "reporter", "active": False, "must_change_password": True,
         "created_at": "2026-03-02T10:00:00+00:00", "last_login_at": None, "live_tokens": 2},
    ]
    for output in (text.output, json.dumps(listed)):
        assert "argon2" not in output and "bn_" not in output and str(reporter.token) not in output


def test_disable_and_enable_with_audit_and_clear_errors(runner: FlaskCliRunner, make_user: Any,
                                                         session: Session) -> None:
    make_user("admin", email="admin@example.org")
    make_user("responder", email="rosa@example.org")
    disabled = _run(runner, "disable", "Rosa@Example.org")
    assert disabled.exit_code == 0 and disabled.output == "rosa@example.org disabled\n"
    assert _run(runner, "disable", "rosa@example.org").output == "rosa@example.org was already disabled\n"
    assert _run(runner, "enable", "rosa@example.org").output == "rosa@example.org enabled\n"
    assert _actions(session).count("user.disabled") == 1 and _actions(session)[-1] == "user.enabled"
    _fails(_run(runner, "disable", "nobody@example.org"), "error: no user with email nobody@example.org")
    _fails(_run(runner, "enable", "nobody@example.org"), "error: no user with email nobody@example.org")


def test_the_last_active_admin_cannot_be_disabled(runner: FlaskCliRunner, make_user: Any) -> None:
    make_user("admin", email="ada@example.org")
    make_user("privacy_officer", email="paul@example.org")
    refusal = "error: ada@example.org is the last active admin; create or enable another admin first"
    _fails(_run(runner, "disable", "ada@example.org"), refusal)
    make_user("admin", email="bob@example.org")
    assert _run(runner, "disable", "bob@example.org").exit_code == 0
    _fails(_run(runner, "disable", "ada@example.org"), refusal)  # a disabled admin does not count
    assert _run(runner, "enable", "bob@example.org").exit_code == 0
    assert _run(runner, "disable", "ada@example.org").exit_code == 0
    assert _run(runner, "disable", "paul@example.org").exit_code == 0  # not an admin: no guard


def test_reset_password_prints_a_one_time_password_and_the_old_one_stops_working(
        runner: FlaskCliRunner, client: FlaskClient, make_user: Any, session: Session) -> None:
    user = make_user("responder", email="rosa@example.org")
    reset = _run(runner, "reset-password", "rosa@example.org")
    assert reset.exit_code == 0
    password = re.fullmatch(r"password: (\S+)  \(one-time: to be changed at first sign-in\)\n",
                            reset.output).group(1)  # type: ignore[union-attr]
    assert password != user.password and len(password) >= 16
    old = sign_in(client, "rosa@example.org", user.password)
    assert old.status_code == 200 and "Wrong email or password." in old.get_data(as_text=True)
    new = sign_in(client, "rosa@example.org", password)
    assert new.status_code == 302 and new.headers["Location"] == "/account/password"
    assert _actions(session)[-1] == "user.password_reset"
    _fails(_run(runner, "reset-password", "nobody@example.org"), "error: no user with email nobody@example.org")


def test_token_issues_names_and_is_refused_for_unknown_or_disabled_users(
        runner: FlaskCliRunner, client: FlaskClient, make_user: Any) -> None:
    make_user("admin", email="admin@example.org")
    make_user("responder", email="rosa@example.org")  # already holds a live token named "cli"
    first = _run(runner, "token", "rosa@example.org")
    assert first.exit_code == 0
    token = re.search(r"^api token: (bn_\S+)$", first.output, re.M).group(1)  # type: ignore[union-attr]
    assert re.match(r"token id \d+ named cli-2\n", first.output)
    assert client.get("/api/incidents", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert "named deploy" in _run(runner, "token", "rosa@example.org", "--name", "deploy").output
    _fails(_run(runner, "token", "rosa@example.org", "--name", "deploy"),
           "error: rosa@example.org already has a live token named 'deploy'; revoke it or choose another name")
    _fails(_run(runner, "token", "nobody@example.org"), "error: no user with email nobody@example.org")
    assert _run(runner, "disable", "rosa@example.org").exit_code == 0
    _fails(_run(runner, "token", "rosa@example.org"), "error: rosa@example.org is disabled; enable the user first")


def test_revoke_token_by_name_or_id(runner: FlaskCliRunner, client: FlaskClient, make_user: Any,
                                    session: Session) -> None:
    user = make_user("responder", email="rosa@example.org")
    issued = _run(runner, "token", "rosa@example.org", "--name", "ci").output
    token_id = re.search(r"token id (\d+)", issued).group(1)  # type: ignore[union-attr]
    token = re.search(r"api token: (\S+)", issued).group(1)  # type: ignore[union-attr]
    listed = _run(runner, "tokens", "rosa@example.org").output.splitlines()
    assert [line.split("\t")[1] for line in listed] == ["cli", "ci"] and token not in "".join(listed)
    by_name = _run(runner, "revoke-token", "rosa@example.org", "--name", "cli")
    assert by_name.exit_code == 0 and "named cli" in by_name.output
    assert client.get("/api/incidents", headers={"Authorization": f"Bearer {user.token}"}).status_code == 401
    assert client.get("/api/incidents", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert _run(runner, "revoke-token", "rosa@example.org", "--id", token_id).exit_code == 0
    assert client.get("/api/incidents", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert _actions(session)[-2:] == ["token.revoked", "token.revoked"]
    _fails(_run(runner, "revoke-token", "rosa@example.org", "--name", "cli"),
           "error: rosa@example.org has no live API token named 'cli'")
    _fails(_run(runner, "revoke-token", "rosa@example.org"), "error: token: give either a token name or a token id")
    _fails(_run(runner, "revoke-token", "nobody@example.org", "--id", "1"),
           "error: no user with email nobody@example.org")


def test_create_with_a_bad_role_fails_in_one_clear_line(runner: FlaskCliRunner) -> None:
    _fails(_run(runner, "create", "--email", "x@example.org", "--role", "boss"),
           "error: role: unknown role 'boss'; one of reporter, responder, privacy_officer, admin, regulator")
    assert _run(runner, "list").output == ""
