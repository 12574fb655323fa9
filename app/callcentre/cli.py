"""``breach-notify callcentre kit INCIDENT_ID --out DIR [--locale L ...] [--no-pdf]``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app import db
from app.callcentre.kit import LOCALES, kit_facts, write_kit
from app.cli import fail
from app.errors import BreachNotifyError
from app.wording import plural


@click.group("callcentre")
def callcentre_group() -> None:
    """The call-centre kit: script and FAQ per language from the notice facts."""


@callcentre_group.command("kit")
@click.argument("incident_id", type=int)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("callcentre-kit"),
              show_default=True)
@click.option("--locale", "locales", multiple=True, type=click.Choice(LOCALES), help="Default: every language.")
@click.option("--pdf/--no-pdf", default=True, show_default=True)
@with_appcontext
def kit_command(incident_id: int, out_dir: Path, locales: tuple[str, ...], pdf: bool) -> None:
    """Write script-<locale> and faq-<locale> as HTML (and PDF) into ``--out``."""
    try:
        kit = kit_facts(db.get_session(), incident_id=incident_id)
    except BreachNotifyError as exc:
        fail(exc)
    if kit.draft:
        click.secho("WARNING: no approved notice yet; the kit is marked DRAFT", fg="red", err=True)
    written = write_kit(kit, out_dir=out_dir, today=current_app.extensions["clock"].now().date(),
                        locales=locales or LOCALES, pdf=pdf)
    click.echo(f"{plural(len(written), 'file')} from {kit.source} written to {out_dir}")
