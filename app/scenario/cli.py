"""``breach-notify scenario hhs``: rehearse real HHS breach-portal records end to end in the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from app.errors import BreachNotifyError
from app.scenario import hhs
from app.scenario.run import Options, run
from app.wording import plural

DATABASE_HELP = "Default: a fresh SQLite file under OUT/instance. A named database must hold no incidents."
FORCE_HELP = "Replace an earlier rehearsal in OUT (its instance/, summaries, subject and reject files)."


@click.group("scenario")
def scenario_group() -> None:
    """Tabletop rehearsals against the sandbox protocol peers (nothing leaves this machine)."""


@scenario_group.command("hhs")
@click.option("--rows", default=5, show_default=True, help="How many portal records (a seeded, varied choice).")
@click.option("--index", "indices", multiple=True, type=int, help="Pick records by index instead (repeatable).")
@click.option("--max-subjects", default=2000, show_default=True, help="Synthetic people per incident at most.")
@click.option("--seed", default=1, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("scenario-out"),
              show_default=True)
@click.option("--data", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=hhs.DATA,
              help="Another export of the HHS breach portal (same columns).")
@click.option("--failure-rate", default=0.05, show_default=True, help="Share of sends the peers fail.")
@click.option("--database-url", default=None, help=DATABASE_HELP)
@click.option("--force", is_flag=True, help=FORCE_HELP)
def hhs_command(rows: int, indices: tuple[int, ...], max_subjects: int, seed: int, out: Path, data: Path,
                failure_rate: float, database_url: str | None, force: bool) -> None:
    """Incident, subjects, obligations, notices, dispatch, substitute notice, signed export, audit: per record."""
    options = Options(out=out, rows=rows, indices=list(indices) or None, max_subjects=max_subjects, seed=seed,
                      data=data, failure_rate=failure_rate, database_url=database_url, force=force)
    _report(_checked(lambda: run(options, progress=lambda message: click.echo(message, err=True))), out)


def _checked(go: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    from app.cli import fail

    try:
        return go()
    except BreachNotifyError as exc:
        fail(exc)
        raise  # fail() exits; this line only tells mypy so


def _report(result: dict[str, Any], out: Path) -> None:
    for item in result["incidents"]:
        d = item["deliveries"]
        click.echo(f"{item['entity']}: {plural(item['subjects']['imported'], 'subject')}, "
                   f"{plural(len(item['obligations']), 'obligation')}, dispatch {d['state']} "
                   f"({plural(d['fallbacks'], 'fallback')}), substitute notice "
                   f"{'published' if item['substitute_notice']['published'] else 'not published'}, "
                   f"export {'verified' if item['export_verified'] else 'NOT verified'}")
    click.echo(f"audit chain {'verified' if result['audit_verified'] else 'BROKEN'}; "
               f"summary: {out / 'summary.md'}")


@scenario_group.command("file")
@click.argument("incident_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("subjects_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("scenario-out"),
              show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option("--failure-rate", default=0.05, show_default=True, help="Share of sends the peers fail.")
@click.option("--database-url", default=None, help=DATABASE_HELP)
@click.option("--force", is_flag=True, help=FORCE_HELP)
def file_command(incident_file: Path, subjects_csv: Path, out: Path, seed: int, failure_rate: float,
                 database_url: str | None, force: bool) -> None:
    """Rehearse any incident: INCIDENT_FILE (YAML/JSON) with its SUBJECTS_CSV, end to end in the sandbox."""
    from app.cli import read_document
    from app.scenario.run import run_file

    options = Options(out=out, seed=seed, failure_rate=failure_rate, database_url=database_url, force=force)
    _report(_checked(lambda: run_file(options, incident=read_document(incident_file), people=subjects_csv)), out)
