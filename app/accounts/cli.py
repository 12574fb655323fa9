"""``breach-notify users ...``"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app.accounts import service
from app.accounts.models import Role
from app.cli import cli_actor, fail
from app.db import get_session
from app.errors import BreachNotifyError


@click.group("users")
def users_group() -> None:
    """Accounts."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--token/--no-token", default=False, help="Also issue an API token.")
@with_appcontext
def create(email: str, role: str, token: bool) -> None:
    """Create a user; prints a one-time password (and token). Neither is shown again."""
    try:
        new = service.create_user(get_session(), clock=current_app.extensions["clock"], email=email, role=role,
                                  actor=cli_actor(), with_token=token)
    except BreachNotifyError as exc:
        fail(exc)
    click.echo(f"created {new.user.email} ({new.user.role})")
    click.echo(f"password: {new.password}")
    if new.token:
        click.echo(f"api token: {new.token}")
