"""``breach-notify reports ...`` (draft, submit, approve, list) and ``breach-notify export ...`` (bundle,
verify). ``export verify`` needs no database: it reads only the bundle (and ``--key``)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.announcements.routes import decide as decide_substitute
from app.cli import cli_actor, fail, proven_approver, read_document
from app.clock import Clock
from app.db import get_session
from app.errors import BreachNotifyError
from app.reports import bundles
from app.reports import service as reports
from app.reports.routes import app_signing_key
from app.reports.verify import report_lines, verify_bundle
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


@click.group("export")
def export_group() -> None:
    """Signed export bundles: make one, verify one."""


@export_group.command("bundle")
@click.argument("report_id", type=int)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def bundle_command(report_id: int, out_dir: Path) -> None:
    """Export an approved report as a signed bundle and copy it to --out."""
    instance = Path(current_app.instance_path)
    try:
        bundle = bundles.create(get_session(), clock=_clock(), actor=cli_actor(),
                                report_id=report_id, key=app_signing_key(current_app._get_current_object()),  # type: ignore[attr-defined]
                                instance=instance)
    except BreachNotifyError as exc:
        fail(exc)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / bundles.file_name(bundle)
    shutil.copyfile(instance / bundle.path, target)
    click.echo(f"{target} (bundle {bundle.id}, sha256 {bundle.sha256})")


@export_group.command("verify")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="trusted public key PEM (from /.well-known/breach-notify/signing-key)")
def verify_command(bundle: Path, key_file: Path | None) -> None:
    """Check every hash and the signature of BUNDLE; exit 1 naming what fails."""
    result = verify_bundle(bundle, trusted_key_pem=key_file.read_bytes() if key_file else None)
    for line in report_lines(result, bundle):
        click.echo(line, err=not result.ok)
    if not result.ok:
        sys.exit(1)
