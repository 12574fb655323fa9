"""``breach-notify users ...``: accounts and API tokens. Secrets (passwords, tokens) are printed once."""

from __future__ import annotations

import json
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from app.accounts import service
from app.accounts.models import Role
from app.cli import cli_actor, fail
from app.db import get_session
from app.errors import BreachNotifyError
from app.wording import plural

ROLES = ", ".join(Role)


def _clock() -> Any:
    return current_app.extensions["clock"]


@click.group("users")
def users_group() -> None:
    """Accounts."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, help=f"One of {ROLES}.")
@click.option("--token/--no-token", default=False, help="Also issue an API token.")
@with_appcontext
def create(email: str, role: str, token: bool) -> None:
    """Create a user; prints a one-time password (and token). Neither is shown again."""
    try:
        new = service.create_user(get_session(), clock=_clock(), email=email, role=role, actor=cli_actor(),
                                  with_token=token)
    except BreachNotifyError as exc:
        fail(exc)
    click.echo(f"created {new.user.email} ({new.user.role})")
    click.echo(f"password: {new.password}  (one-time: to be changed at first sign-in)")
    if new.token:
        click.echo(f"api token: {new.token}")


@users_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@with_appcontext
def list_users(fmt: str) -> None:
    """Every user: email, role, active/disabled, created, last sign-in, live API tokens (tab-separated)."""
    rows = service.list_users(get_session())
    if fmt == "json":
        click.echo(json.dumps({"users": [row.to_json() for row in rows]}, indent=2))
        return
    for row in rows:
        state = ("active" if row.active else "disabled") + (" (must change password)"
                                                            if row.must_change_password else "")
        last = row.last_login_at.isoformat() if row.last_login_at else "-"
        click.echo(f"{row.email}\t{row.role}\t{state}\t{row.created_at.isoformat()}\t{last}\t"
                   f"{plural(row.live_tokens, 'token')}")


def _set_active(email: str, *, active: bool) -> None:
    try:
        changed = service.set_active(get_session(), clock=_clock(), email=email, active=active,
                                     actor=cli_actor())
    except BreachNotifyError as exc:
        fail(exc)
    state = "enabled" if active else "disabled"
    click.echo(f"{email.strip().lower()} {state}" if changed else f"{email.strip().lower()} was already {state}")


@users_group.command("disable")
@click.argument("email")
@with_appcontext
def disable(email: str) -> None:
    """Disable a user: no sign-in, open sessions end, API tokens answer 401. Refused for the last admin."""
    _set_active(email, active=False)


@users_group.command("enable")
@click.argument("email")
@with_appcontext
def enable(email: str) -> None:
    """Enable a disabled user again (their unrevoked API tokens work again)."""
    _set_active(email, active=True)


@users_group.command("reset-password")
@click.argument("email")
@with_appcontext
def reset_password(email: str) -> None:
    """Replace the password with a printed one-time password; the old one stops working at once."""
    try:
        password = service.reset_password(get_session(), clock=_clock(), email=email, actor=cli_actor())
    except BreachNotifyError as exc:
        fail(exc)
    click.echo(f"password: {password}  (one-time: to be changed at first sign-in)")


@users_group.command("token")
@click.argument("email")
@click.option("--name", default=None, help="Unique among the user's live tokens (default: cli, cli-2, ...).")
@with_appcontext
def token(email: str, name: str | None) -> None:
    """Issue an API token for an existing user; printed once."""
    try:
        issued = service.issue_named_token(get_session(), clock=_clock(), email=email, name=name,
                                           actor=cli_actor())
    except BreachNotifyError as exc:
        fail(exc)
    click.echo(f"token id {issued.id} named {issued.name}")
    click.echo(f"api token: {issued.token}")


@users_group.command("tokens")
@click.argument("email")
@with_appcontext
def tokens(email: str) -> None:
    """The user's live API tokens: id, name, prefix, created, last used (never the token)."""
    try:
        rows = service.live_tokens(get_session(), email=email)
    except BreachNotifyError as exc:
        fail(exc)
    for row in rows:
        used = row.last_used_at.isoformat() if row.last_used_at else "-"
        click.echo(f"{row.id}\t{row.name}\t{row.prefix}...\t{row.created_at.isoformat()}\t{used}")


@users_group.command("revoke-token")
@click.argument("email")
@click.option("--name", default=None, help="The token's name.")
@click.option("--id", "token_id", type=int, default=None, help="The token's id (see `users tokens EMAIL`).")
@with_appcontext
def revoke_token(email: str, name: str | None, token_id: int | None) -> None:
    """Revoke one of the user's API tokens by name or id; it answers 401 from now on."""
    try:
        row = service.revoke_token(get_session(), clock=_clock(), email=email, actor=cli_actor(), name=name,
                                   token_id=token_id)
    except BreachNotifyError as exc:
        fail(exc)
    click.echo(f"revoked token id {row.id} named {row.name}")
