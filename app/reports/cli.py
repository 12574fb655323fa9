"""``breach-notify reports ...`` (draft, submit, approve, list); ``breach-notify export ...`` is in
``app.reports.export_cli``."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.announcements.routes import decide as decide_substitute
from app.cli import cli_actor, fail, proven_approver, read_document
from app.clock import Clock
from app.db import get_session
from app.errors import BreachNotifyError
from app.reports import service as reports
from app.wording import plural


@click.group("reports")
def reports_group() -> None:
    """Regulator reports: draft, submit, approve, list."""


def _clock() -> Clock:
    clock: Clock = current_app.extensions["clock"]
    return clock


@reports_group.command("draft")
@click.argument("incident_id", type=int)
@click.option("--regime", required=True, help="e.g. eu-gdpr, us-hipaa, us-ca, us-tx, us-fl, cn-pipl")
@click.option("--phase", default="initial", type=click.Choice(["initial", "follow_up", "final"]))
@click.option("--extras", "extras_file", type=click.Path(exists=True, path_type=Path),
              help="YAML/JSON file with the regime extras")
@click.option("--reason-for-delay", default=None, help="required when the report is late")
@with_appcontext
def draft_command(incident_id: int, regime: str, phase: str, extras_file: Path | None,
                  reason_for_delay: str | None) -> None:
    """Draft the next report version of INCIDENT_ID for a regime."""
    try:
        report = reports.draft(get_session(), clock=_clock(), actor=cli_actor(),
                               incident_id=incident_id, regime=regime, phase=phase,
                               playbooks=current_app.extensions["playbooks"],
                               extras=read_document(extras_file) if extras_file else None,
                               reason_for_delay=reason_for_delay,
                               substitute=decide_substitute(incident_id, cli_actor()))
    except BreachNotifyError as exc:
        fail(exc)
    click.echo(f"report {report.id}: {report.label} drafted "
               f"({plural(len(report.diff), 'change')} from the previous version)")


@reports_group.command("submit")
@click.argument("report_id", type=int)
@with_appcontext
def submit_command(report_id: int) -> None:
    """Submit a draft for approval."""
    try:
        report = reports.submit(get_session(), clock=_clock(), actor=cli_actor(),
                                report_id=report_id)
    except BreachNotifyError as exc:
        fail(exc)
    click.echo(f"report {report.id}: submitted")


@reports_group.command("approve")
@click.argument("report_id", type=int)
@click.option("--as", "email", required=True,
              help="the approving privacy officer's email; asks for their password, or takes their API token "
                   "from BREACH_NOTIFY_APPROVER_TOKEN")
@click.option("--reason-for-delay", default=None)
@with_appcontext
def approve_command(report_id: int, email: str, reason_for_delay: str | None) -> None:
    """Approve a submitted report as a privacy officer (not its drafter or submitter), who proves it with
    their password or token."""
    session = get_session()
    user = proven_approver(email)
    try:
        report = reports.approve(session, clock=_clock(), actor=user.actor, report_id=report_id,
                                 reason_for_delay=reason_for_delay)
    except BreachNotifyError as exc:
        fail(exc)
    click.echo(f"report {report.id}: approved by {email}")


@reports_group.command("list")
@click.argument("incident_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@with_appcontext
def list_command(incident_id: int, fmt: str) -> None:
    """List an incident's report versions."""
    rows = reports.versions(get_session(), incident_id=incident_id)
    if fmt == "json":
        click.echo(json.dumps([reports.to_json(r) for r in rows], indent=2, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r.id}\t{r.label}\t{r.state}\tdue {r.due_at.isoformat() if r.due_at else '-'}")
