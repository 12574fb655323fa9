"""``breach-notify letters batch|list|returns INCIDENT_ID``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app import db
from app.cli import cli_actor, fail
from app.errors import BreachNotifyError
from app.letters import flows
from app.letters.batches import batches
from app.wording import plural


@click.group("letters")
def letters_group() -> None:
    """Letters by post: print-and-post batches and returned mail."""


@letters_group.command("batch")
@click.argument("incident_id", type=int)
@with_appcontext
def batch_command(incident_id: int) -> None:
    """Hand the incident's waiting letters to the letter drop as one batch (merged PDF + manifest CSV)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        outcome = flows.batch(app, db.get_session(), actor=cli_actor(), incident_id=incident_id)
    except BreachNotifyError as exc:
        fail(exc)
    for delivery_id, reason in outcome.failed.items():
        click.echo(f"letter {delivery_id} not printable: {reason}", err=True)
    if outcome.error:
        click.echo(f"error: hand-over failed, letters will be retried: {outcome.error}", err=True)
        sys.exit(1)
    if outcome.batch is None:
        click.echo("no letters waiting")
        return
    b = outcome.batch
    click.echo(f"batch {b.reference}: {plural(b.letters, 'letter')}, {plural(b.pages, 'page')}, "
               f"USD {b.cost:.2f} -> {b.destination}")
    click.echo(f"  {b.pdf_name} sha256 {b.pdf_sha256}")
    click.echo(f"  {b.manifest_name} sha256 {b.manifest_sha256}")


@letters_group.command("list")
@click.argument("incident_id", type=int)
@with_appcontext
def list_command(incident_id: int) -> None:
    """The incident's batches and how many letters wait."""
    session = db.get_session()
    counts = flows.letter_counts(session, incident_id=incident_id)
    click.echo(f"{plural(counts['waiting'], 'letter')} waiting, {counts['sent']} handed over")
    for b in batches(session, incident_id=incident_id):
        click.echo(f"{b.reference}  {b.created_at:%Y-%m-%d %H:%M} UTC  {plural(b.letters, 'letter')}  "
                   f"{plural(b.pages, 'page')}  "
                   f"USD {b.cost:.2f}  {b.destination}  pdf {b.pdf_sha256[:16]}")


@letters_group.command("returns")
@click.argument("incident_id", type=int)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def returns_command(incident_id: int, path: Path) -> None:
    """Import returned mail (CSV: delivery_id,reason): the letters fail and their people move on."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        report = flows.returns(app, db.get_session(), actor=cli_actor(), incident_id=incident_id,
                               text=path.read_text(encoding="utf-8-sig"))
    except BreachNotifyError as exc:
        fail(exc)
    moved = ", ".join(f"{n} to {k}" for k, n in sorted(report.moved_to.items()))
    click.echo(f"{plural(report.returned, 'letter')} returned; people moved: {moved}")
