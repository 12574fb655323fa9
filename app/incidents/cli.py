"""``breach-notify incidents ...``"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli import cli_actor, fail, read_document
from app.db import get_session
from app.errors import BreachNotifyError
from app.incidents import flows, service


@click.group("incidents")
def incidents_group() -> None:
    """Incidents."""


@incidents_group.command("create")
@click.option("--file", "path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def create(path: Path) -> None:
    """File an incident from an incident file (YAML or JSON); prints its id."""
    try:
        incident = flows.file_incident(get_session(), clock=current_app.extensions["clock"], actor=cli_actor(),
                                       data=read_document(path), playbooks=current_app.extensions["playbooks"])
    except BreachNotifyError as exc:
        fail(exc)
    click.echo(f"incident {incident.id} filed: {incident.title}")


@incidents_group.command("list")
@click.option("--status", default=None)
@with_appcontext
def list_(status: str | None) -> None:
    """One line per incident: id, status, aware_at, title."""
    for i in service.list_all(get_session(), status=status):
        click.echo(f"{i.id}\t{i.status}\t{i.aware_at.isoformat()}\t{i.title}")


@incidents_group.command("show")
@click.argument("incident_id", type=int)
@with_appcontext
def show(incident_id: int) -> None:
    """The incident as JSON, with its timeline."""
    session = get_session()
    try:
        incident = service.get(session, incident_id=incident_id)
    except BreachNotifyError as exc:
        fail(exc)
    entries = [{"at": e.at.isoformat(), "actor": e.actor, "kind": e.kind, "text": e.text}
               for e in service.timeline(session, incident_id=incident_id)]
    click.echo(json.dumps({**service.to_json(incident), "timeline": entries}, indent=2, ensure_ascii=False))
