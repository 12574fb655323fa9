"""``breach-notify notices ...``: draft, list, approve (without a browser) and render letters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli import cli_actor, fail, proven_approver, read_document
from app.db import get_session
from app.errors import BreachNotifyError, InvalidInput
from app.notices import service
from app.notices.context import Recipient
from app.notices.letters import letter_pdfs
from app.notices.routes import app_drafting
from app.wording import plural


@click.group("notices")
def notices_group() -> None:
    """Breach notices: facts, drafts and approval."""


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _print(rows: list[Any]) -> None:
    for v in rows:
        status = "ok" if v.checks["ok"] else plural(len(v.checks["blocking"]), "problem")
        click.echo(f"{v.id}\t{v.state}\t{v.regime}/{v.audience}\t{v.channel}\t{v.locale}\tv{v.number}\t{status}")


@notices_group.command("draft")
@click.argument("incident_id", type=int)
@click.option("--facts", "facts_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML/JSON: the PUT facts body, or the IncidentFacts alone (then --sender-* are needed).")
@click.option("--sender-name", default=None, help="Email sender name (when the file holds only the facts).")
@click.option("--sender-address", default=None, help="Email sender address (when the file holds only the facts).")
@click.option("--channels", default="email,sms,push,letter", show_default=True)
@click.option("--locales", default=None, help="Comma-separated BCP 47 tags (default: the facts' default locale).")
@click.option("--regimes", default=None, help="Comma-separated (default: regimes with a required notice).")
@click.option("--audience", default="individuals", show_default=True)
@with_appcontext
def draft(incident_id: int, facts_file: Path | None, sender_name: str | None, sender_address: str | None,
          channels: str, locales: str | None, regimes: str | None, audience: str) -> None:
    """Save the facts (when given) and draft versions; print one line per version."""
    session, clock, drafting = get_session(), current_app.extensions["clock"], app_drafting(current_app)
    try:
        if facts_file is not None:
            data = read_document(facts_file)
            if isinstance(data, dict) and "facts" not in data:
                data = {"facts": data, "sender_name": sender_name, "sender_address": sender_address}
            service.save_facts(session, clock=clock, actor=cli_actor(), incident_id=incident_id, data=data,
                               drafting=drafting)
        chosen = _csv(regimes) or service.required_regimes(session, incident_id=incident_id, audience=audience)
        rows = service.draft(session, clock=clock, actor=cli_actor(), incident_id=incident_id, audience=audience,
                             regimes=chosen, drafting=drafting, channels=_csv(channels), locales=_csv(locales))
    except BreachNotifyError as exc:
        fail(exc)
    _print(rows)


@notices_group.command("list")
@click.argument("incident_id", type=int)
@with_appcontext
def list_(incident_id: int) -> None:
    """One line per version: id, state, regime/audience, channel, locale, number, checks."""
    _print(service.versions(get_session(), incident_id=incident_id))


@notices_group.command("submit")
@click.argument("version_id", type=int)
@with_appcontext
def submit(version_id: int) -> None:
    """Submit a draft for approval."""
    try:
        version = service.submit(get_session(), clock=current_app.extensions["clock"], actor=cli_actor(),
                                 version_id=version_id)
    except BreachNotifyError as exc:
        fail(exc)
    _print([version])


@notices_group.command("approve")
@click.argument("version_id", type=int)
@click.option("--as", "as_email", required=True,
              help="Email of the approving privacy officer (not the drafter); asks for their password, or takes "
                   "their API token from BREACH_NOTIFY_APPROVER_TOKEN.")
@with_appcontext
def approve(version_id: int, as_email: str) -> None:
    """Approve a submitted version as the named privacy officer, who proves it with their password or token
    (a draft is submitted first by the CLI user)."""
    session, clock = get_session(), current_app.extensions["clock"]
    user = proven_approver(as_email)
    try:
        version = service.get_version(session, version_id=version_id)
        if version.state == "draft":
            service.submit(session, clock=clock, actor=cli_actor(), version_id=version_id)
        version = service.approve(session, clock=clock, actor=user.actor, version_id=version_id,
                                  drafting=app_drafting(current_app))
    except BreachNotifyError as exc:
        fail(exc)
    _print([version])


@notices_group.command("letters")
@click.argument("version_id", type=int)
@click.option("--recipients", "recipients_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML/JSON list of recipients (full_name, personal_link, postal_address, ...).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def letters(version_id: int, recipients_file: Path, out_dir: Path) -> None:
    """Render one PDF per recipient into ``--out`` (``letter-<version>-<n>.pdf``)."""
    data = read_document(recipients_file)
    try:
        if not isinstance(data, list):
            raise InvalidInput("the recipients file must hold a list", details=[{"path": "", "reason": "not a list"}])
        recipients = [Recipient.model_validate(item) for item in data]
        version = service.get_version(get_session(), version_id=version_id)
        out_dir.mkdir(parents=True, exist_ok=True)
        today = current_app.extensions["clock"].now().date()
        for index, pdf in letter_pdfs(version, recipients, notice_date=today):
            (out_dir / f"letter-{version_id}-{index + 1}.pdf").write_bytes(pdf)
    except BreachNotifyError as exc:
        fail(exc)
    except ValueError as exc:  # pydantic's ValidationError
        raise click.ClickException(f"{recipients_file}: {exc}") from exc
    click.echo(f"{plural(len(recipients), 'letter')} written to {out_dir}")
