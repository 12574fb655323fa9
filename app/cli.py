"""The ``breach-notify`` command line."""

from __future__ import annotations

import functools
import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
import yaml
from flask import Flask, current_app
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext

from app import db
from app.errors import BreachNotifyError
from app.wording import plural

if TYPE_CHECKING:
    from app.accounts.models import User


def cli_actor() -> str:
    """How a CLI user is named in the audit trail."""
    return f"cli:{getpass.getuser()}"


def _clock() -> Any:
    return current_app.extensions["clock"]


F = TypeVar("F", bound=Callable[..., Any])
APPROVER_TOKEN_ENV = "BREACH_NOTIFY_APPROVER_TOKEN"  # noqa: S105 (the variable's name, not a secret)


def proven_approver(email: str, *, act: str = "approval") -> User:
    """The active privacy officer or admin ``email``, once they have shown it is them: their own API token in
    ``BREACH_NOTIFY_APPROVER_TOKEN``, else their password at a hidden prompt (read from stdin when piped).

    Four eyes means a second, named person approves (GDPR Art. 5(2) accountability: the audit trail must
    show who did); the same proof names the privacy officer who waives an obligation. Naming them with
    ``--as`` is not enough, and neither is a one-time password that whoever created the account has seen:
    that person must set their own first (web sign-in). ``act`` names what needs the role in the refusal
    (``approval``, ``a waiver``). Exits 2 with the reason when the proof fails, the account is disabled, or
    its role is below privacy officer.
    """
    from app.accounts import service as accounts
    from app.accounts.access import APPROVE
    from app.db import get_session

    session, wanted = get_session(), email.strip().lower()
    token = os.environ.get(APPROVER_TOKEN_ENV, "").strip()
    if token:
        user = accounts.user_for_token(session, clock=current_app.extensions["clock"], token=token)
        if user is None or user.email != wanted:
            _refuse(f"the token in {APPROVER_TOKEN_ENV} is not a live API token of {wanted}")
    else:
        password = click.prompt(f"password for {wanted}", hide_input=True, err=True, default="",
                                show_default=False)
        user = accounts.check_password(session, email=wanted, password=password)
        if user is None:
            _refuse(f"wrong password for {wanted}, or no active user {wanted}")
        if user.must_change_password:
            _refuse(f"{wanted} still has the one-time password they were given: they sign in once at /login "
                    "to set their own, then use it here")
    if user.role not in APPROVE:
        _refuse(f"{wanted} has role {user.role}; {act} needs privacy_officer or admin")
    return user


def _refuse(reason: str) -> NoReturn:
    click.echo(f"error: {reason}", err=True)
    sys.exit(2)


def fail(exc: BreachNotifyError) -> NoReturn:
    """Print a domain error to stderr and exit 2."""
    click.echo(f"error: {exc.message}", err=True)
    for detail in exc.details:
        click.echo(f"  {detail.get('path')}: {detail.get('reason')}", err=True)
    sys.exit(2)


def read_document(path: Path) -> Any:
    """Read a YAML or JSON file; exit 2 naming the file and line on a syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: cannot read: {exc}") from exc
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        click.echo(f"error: {path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}", err=True)
        sys.exit(2)


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply all migrations."""
    db.upgrade(db.engine_for(current_app))
    click.echo(f"database at revision {db.current_revision(db.engine_for(current_app))}")


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Show the database revision and the code's head."""
    click.echo(f"database: {db.current_revision(db.engine_for(current_app))}  code: {db.head_revision()}")


@click.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Walk the hash chain; exit 1 naming the first broken event."""
    from app.audit import service

    report = service.verify(db.get_session())
    if report.ok:
        click.echo(f"audit chain ok: {plural(report.checked, 'event')}")
        return
    click.echo(f"audit chain BROKEN at event seq={report.broken_seq} (id={report.broken_id}): {report.reason}; "
               f"{plural(report.checked, 'event before it is', 'events before it are')} intact", err=True)
    sys.exit(1)


@click.command("config")
def config_command() -> None:
    """Print every environment variable with its default and meaning (Markdown)."""
    from app.config import markdown_table

    click.echo(markdown_table())


def register_cli(app: Flask) -> None:
    """Attach the command groups to ``flask``/``breach-notify``."""
    from app.accounts.cli import users_group
    from app.callcentre.cli import callcentre_group
    from app.dispatch.cli import dispatch_group, worker_command
    from app.incidents.cli import incidents_group
    from app.letters.cli import letters_group
    from app.notices.cli import notices_group
    from app.obligations.cli import obligations_group, scheduler_command
    from app.reports.cli import reports_group
    from app.reports.export_cli import export_group
    from app.serve import serve_command
    from app.subjects.cli import subjects_group
    from app.webhooks.cli import webhooks_group

    for command in (audit_group, users_group, incidents_group, obligations_group, scheduler_command,
                    subjects_group, notices_group, dispatch_group, worker_command,
                    reports_group, export_group, letters_group, callcentre_group, webhooks_group):
        app.cli.add_command(_needs_migrated_database(command))
    app.cli.add_command(db_group)
    app.cli.add_command(serve_command)  # migrates the database itself


def _needs_migrated_database(command: click.Command) -> click.Command:
    """Make every leaf command of ``command`` stop (exit 2, naming the command to run and the instance
    folder) when the database is not at the code's revision, instead of failing deep inside with a SQL
    error; ``--help`` still works, since a leaf's callback runs after its options are parsed."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _needs_migrated_database(sub)
        return command
    inner = command.callback
    if inner is None or getattr(inner, "_gated", False) or getattr(inner, "_no_database", False):
        return command

    @functools.wraps(inner)
    def callback(*args: Any, **kwargs: Any) -> Any:
        _require_migrated(click.get_current_context().ensure_object(ScriptInfo).load_app())
        return inner(*args, **kwargs)

    callback._gated = True  # type: ignore[attr-defined]
    command.callback = callback
    return command


def needs_no_database(callback: F) -> F:
    """Mark a command's function as needing no app or database (``export verify``), so that the migration
    gate leaves it alone. Goes below ``@group.command(...)``."""
    callback._no_database = True  # type: ignore[attr-defined]
    return callback


def _require_migrated(app: Flask) -> None:
    """Exit 2 with what to do when ``app``'s database is not at the code's migration head."""
    current, head = db.current_revision(db.engine_for(app)), db.head_revision()
    if current == head:
        return
    click.echo(f"error: the database is not migrated (it is at {current or 'no revision'}, this code needs "
               f"{head}): run `breach-notify db upgrade`.", err=True)
    click.echo(f"  instance folder: {app.instance_path} (run from the folder that holds your instance/, or set "
               "BREACH_NOTIFY_INSTANCE or DATABASE_URL)", err=True)
    sys.exit(2)


def _create_app() -> Flask:
    """The app for every command that needs one (``serve``, ``scheduler``, ...). A broken playbook stops it
    with one ``file:line: field: reason`` line per problem on stderr and exit status 1, not a traceback."""
    from app import create_app
    from app.playbooks.errors import PlaybookError

    try:
        return create_app()
    except PlaybookError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(1)


def main() -> None:
    """Entry point of the ``breach-notify`` console script."""
    group = FlaskGroup(create_app=_create_app, add_default_commands=True, load_dotenv=False,
                       help="breach-notify: personal data breach response and notification.")
    group.add_command(config_command)
    for name, command in _standalone_commands().items():
        group.add_command(command, name)
    group.main(prog_name="breach-notify")


def _standalone_commands() -> dict[str, click.Command]:
    """Commands that build their own app or need none (``assess``, ``playbooks``, ``scenario``, ``export``:
    its ``verify`` needs no app, so a regulator can run it anywhere; its ``bundle`` loads the app and is
    gated like the app's own commands)."""
    from app.playbooks.cli import assess_command, playbooks_group
    from app.reports.export_cli import export_group
    from app.scenario.cli import scenario_group

    return {"assess": assess_command, "playbooks": playbooks_group, "scenario": scenario_group,
            "export": _needs_migrated_database(export_group)}
