"""Command-line entry points: ``assess`` and ``playbooks validate``. Neither needs an app or a database.

The lead attaches ``assess_command`` and ``playbooks_group`` to the ``breach-notify`` CLI group.
Exit codes: 0 success; 1 broken playbooks; 2 invalid input (the message names the field).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml
from pydantic import ValidationError
from rich.console import Console

from app.clock import SystemClock, parse_utc
from app.incidents.schema import IncidentFile
from app.playbooks.engine import assess
from app.playbooks.errors import PlaybookError, describe_validation_error, field_path
from app.playbooks.loader import load_playbooks
from app.playbooks.render import assessment_document, print_table
from app.wording import plural


class IncidentFileError(ValueError):
    """An incident file cannot be read or does not match the contract; ``problems`` name each field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def read_incident_file(path: Path) -> IncidentFile:
    """Parse a YAML or JSON incident file (``../shared/contracts/incident-file.md``).

    Raises ``IncidentFileError`` with one ``"<file>: <field>: <reason>"`` line per problem.
    """
    try:
        text = path.read_text(encoding="utf-8")
        data: Any = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except OSError as exc:
        raise IncidentFileError([f"{path}: cannot read: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise IncidentFileError([f"{path}: not UTF-8 text"]) from exc
    except json.JSONDecodeError as exc:
        raise IncidentFileError([f"{path}:{exc.lineno}: invalid JSON: {exc.msg}"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise IncidentFileError([f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}"]) from exc
    if not isinstance(data, dict):
        raise IncidentFileError([f"{path}: (top level): must be a mapping of incident fields"])
    try:
        return IncidentFile.model_validate(data)
    except ValidationError as exc:
        problems = describe_validation_error(exc)
        raise IncidentFileError([f"{path}: {field_path(loc)}: {reason}" for loc, reason in problems]) from exc


def _fail(message: str, code: int) -> None:
    click.echo(message, err=True)
    click.get_current_context().exit(code)


@click.command("assess")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True)
@click.option("--at", "at", metavar="ISO8601", help="'Now' for deadline states, with offset (default: real clock).")
@click.option(
    "--playbooks",
    "playbooks_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Playbook directory (default: the repository's incident_playbooks/).",
)
def assess_command(file: Path, fmt: str, at: str | None, playbooks_dir: Path | None) -> None:
    """Decide who must be notified of the breach in FILE, by when, and why."""
    try:
        now = parse_utc(at) if at else SystemClock().now()
    except ValueError as exc:
        raise click.BadParameter(f"{at!r} is not an ISO 8601 time with offset ({exc})", param_hint="'--at'") from exc
    try:
        incident = read_incident_file(file)
    except IncidentFileError as exc:
        _fail("invalid incident file:\n" + "\n".join(f"  {p}" for p in exc.problems), 2)
        return
    try:
        playbooks = load_playbooks(playbooks_dir)
    except PlaybookError as exc:
        _fail("broken playbooks:\n" + "\n".join(f"  {p}" for p in exc.problems), 1)
        return
    result = assess(incident=incident, playbooks=playbooks, now=now)
    if fmt == "json":
        click.echo(json.dumps(assessment_document(result), indent=2, ensure_ascii=False))
    else:
        console = Console()
        print_table(result, console if console.is_terminal else Console(width=160))


@click.group("playbooks")
def playbooks_group() -> None:
    """Inspect and validate the breach-notification playbooks."""


@playbooks_group.command("validate")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Playbook directory (default: the repository's incident_playbooks/).",
)
def validate_command(directory: Path | None) -> None:
    """Check every playbook; print file, field and reason for each problem (exit 1 if any)."""
    try:
        playbooks = load_playbooks(directory)
    except PlaybookError as exc:
        _fail("playbook validation failed:\n" + "\n".join(f"  {p}" for p in exc.problems), 1)
        return
    click.echo(f"{plural(len(playbooks), 'playbook')} valid: {', '.join(sorted(playbooks))}")
