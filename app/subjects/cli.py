"""``breach-notify subjects ...``: import, identify from evidence, counts."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from app.cli import cli_actor, fail
from app.db import get_session
from app.errors import BreachNotifyError
from app.incidents import flows
from app.subjects import evidence, service
from app.subjects.columns import load_mapping
from app.subjects.errors import SubjectFileError
from app.wording import plural

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group("subjects")
def subjects_group() -> None:
    """Affected data subjects."""


def _run_import(path: Path, incident_id: int | None, mapping: Path | None, default_country: str | None,
                processes: int | None, fmt: str) -> None:
    app = current_app
    try:
        columns = load_mapping(mapping) if mapping else None
    except SubjectFileError as exc:
        raise click.ClickException(str(exc)) from exc
    show = fmt == "table" and sys.stderr.isatty()
    with Progress(SpinnerColumn(), TextColumn("importing {task.description}"), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), disable=not show) as bar:
        task = bar.add_task(path.name, total=None)
        advance: Callable[[int], None] = lambda n: bar.advance(task, n)  # noqa: E731
        try:
            summary = service.import_file(
                get_session(), clock=app.extensions["clock"], actor=cli_actor(), path=path,
                keys=app.extensions["keys"], rejects_dir=Path(app.instance_path) / "imports", incident_id=incident_id,
                mapping=columns, default_country=default_country.upper() if default_country else None,
                processes=processes or service.worker_processes(app.config["IMPORT_PROCESSES"],
                                                                file_bytes=path.stat().st_size),
                progress=advance,
                cache_mib=app.config["IMPORT_CACHE_MIB"])
            if incident_id is not None:
                flows.reassess(get_session(), clock=app.extensions["clock"], actor=cli_actor(),
                               incident_id=incident_id, playbooks=app.extensions["playbooks"])
        except BreachNotifyError as exc:
            fail(exc)
    _print(summary.as_dict() | {"warnings_detail": "records kept with a value dropped, reinterpreted or doubtful: "
                                                   "see rejects_file (kind per column)"}, fmt)


def _print(data: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps({k: v for k, v in data.items() if k != "warnings_detail"}))
    else:
        for key, value in data.items():
            shown = (", ".join(value) or "none") if isinstance(value, list) else value
            click.echo(f"{key.replace('_', ' '):>18}: {shown}")


_OPTIONS = [
    click.option("--mapping", type=FILE, help="JSON/YAML {column: header in the file} overriding header matching."),
    click.option("--default-country", help="ISO country for national-format phone numbers without a country."),
    click.option("--processes", type=int, help="Worker processes for normalisation."),
    click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table"),
]


def _with_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


@subjects_group.command("import")
@click.argument("incident_id", type=int)
@click.argument("file", type=FILE)
@_with_options
@with_appcontext
def import_(incident_id: int, file: Path, mapping: Path | None, default_country: str | None, processes: int | None,
            fmt: str) -> None:
    """Import FILE (CSV/JSONL) into the registry and link its subjects to INCIDENT_ID."""
    _run_import(file, incident_id, mapping, default_country, processes, fmt)


@subjects_group.command("import-registry")
@click.argument("file", type=FILE)
@_with_options
@with_appcontext
def import_registry(file: Path, mapping: Path | None, default_country: str | None, processes: int | None,
                    fmt: str) -> None:
    """Import FILE into the registry only (identify per incident later)."""
    _run_import(file, None, mapping, default_country, processes, fmt)


@subjects_group.command("identify")
@click.argument("incident_id", type=int)
@click.argument("evidence_file", type=FILE, required=False)
@click.option("--key", type=click.Choice(evidence.KEYS), help="Which identifier the evidence lists.")
@click.option("--source-system", help="Alone: select every registry subject from this system. With EVIDENCE_FILE "
              "and --key external_id: the system whose ids the evidence lists (where a record names none).")
@click.option("--default-country", help="ISO country for national-format phone numbers.")
@with_appcontext
def identify(incident_id: int, evidence_file: Path | None, key: str | None, source_system: str | None,
             default_country: str | None) -> None:
    """Mark which registry subjects are affected: from EVIDENCE_FILE by --key, or all of --source-system."""
    app, session = current_app, get_session()
    try:
        if source_system and evidence_file is None:
            counts = evidence.select_source_system(session, clock=app.extensions["clock"], actor=cli_actor(),
                                                   incident_id=incident_id, source_system=source_system)
            click.echo(f"selected {plural(counts['selected'], 'subject')} from {source_system.strip()}: "
                       f"{counts['linked']} newly linked")
        elif evidence_file is not None and key:
            result = evidence.identify(session, clock=app.extensions["clock"], actor=cli_actor(),
                                       incident_id=incident_id, keys=app.extensions["keys"], path=evidence_file,
                                       key=key, default_country=default_country, source_system=source_system)
            click.echo(json.dumps(result.__dict__))
        else:
            raise click.UsageError("give EVIDENCE_FILE with --key, or --source-system")
        flows.reassess(session, clock=app.extensions["clock"], actor=cli_actor(), incident_id=incident_id,
                       playbooks=app.extensions["playbooks"])
    except BreachNotifyError as exc:
        fail(exc)


@subjects_group.command("summary")
@click.argument("incident_id", type=int)
@with_appcontext
def summary(incident_id: int) -> None:
    """Counts per jurisdiction and channel, and how many are unreachable (JSON)."""
    click.echo(json.dumps(service.reach(get_session(), incident_id=incident_id).__dict__))
