"""``breach-notify obligations ...`` and ``breach-notify scheduler``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app import scheduler as sched
from app.cli import cli_actor, fail, proven_approver
from app.db import get_session
from app.errors import BreachNotifyError, InvalidInput
from app.incidents import flows
from app.obligations import service
from app.wording import plural


@click.group("obligations")
def obligations_group() -> None:
    """Obligations and deadlines."""


@obligations_group.command("refresh")
@click.argument("incident_id", type=int)
@with_appcontext
def refresh(incident_id: int) -> None:
    """Re-decide the incident's obligations and list them."""
    try:
        flows.reassess(get_session(), clock=current_app.extensions["clock"], actor=cli_actor(),
                       incident_id=incident_id, playbooks=current_app.extensions["playbooks"])
    except BreachNotifyError as exc:
        fail(exc)
    _print(incident_id)


@obligations_group.command("list")
@click.argument("incident_id", type=int)
@with_appcontext
def list_(incident_id: int) -> None:
    """One line per obligation: status, due (UTC), regime/audience/part, recipient."""
    _print(incident_id)


def _print(incident_id: int) -> None:
    for r in service.for_incident(get_session(), incident_id=incident_id):
        due = r.due_at.isoformat() if r.due_at else "-"
        click.echo(f"{r.id}\t{r.status}\t{due}\t{'/'.join(filter(None, (r.regime, r.audience, r.part)))}"
                   f"\t{r.recipient}")


@obligations_group.command("close")
@click.argument("obligation_id", type=int)
@click.option("--outcome", type=click.Choice(sorted(service.CLOSED)), required=True,
              help="met (done: notified, reported) or waived (not done, with the reason why).")
@click.option("--reason", required=True, help="Why; kept on the obligation, the audit trail and the timeline.")
@click.option("--as", "as_email", default=None,
              help="A waiver's privacy officer (or admin): asks for their password, or takes their API token from "
                   "BREACH_NOTIFY_APPROVER_TOKEN. Required with --outcome waived.")
@with_appcontext
def close(obligation_id: int, outcome: str, reason: str, as_email: str | None) -> None:
    """Mark a due or overdue obligation met or waived (ids from ``obligations list``; an obligation in parts
    is closed part by part); reminders and escalation stop. ``met`` is recorded as the CLI user; a waiver
    needs a privacy officer named with ``--as`` who proves it is them, and the audit trail names them."""
    try:
        if outcome == "waived" and not as_email:
            raise InvalidInput("a waiver needs a privacy officer: name them with --as EMAIL (they confirm with "
                               "their password)", details=[{"path": "--as", "reason": "required for a waiver"}])
        if outcome != "waived" and as_email:
            raise InvalidInput("--as names the privacy officer of a waiver; met is recorded as the CLI user",
                               details=[{"path": "--as", "reason": "only with --outcome waived"}])
        actor = proven_approver(as_email, act="a waiver").actor if as_email else cli_actor()
        record = service.close(get_session(), clock=current_app.extensions["clock"], actor=actor,
                               obligation_id=obligation_id, outcome=outcome, reason=reason)
    except BreachNotifyError as exc:
        fail(exc)
    click.echo(f"obligation {record.id} {record.status}")


@obligations_group.command("sweep")
@with_appcontext
def sweep_once() -> None:
    """Run the deadline sweep once (reminders and escalation, and the escalation emails when
    BREACH_NOTIFY_ESCALATION_EMAIL is set) and say what fired."""
    report, sent = sched.deadline_sweep(current_app._get_current_object(),  # type: ignore[attr-defined]
                                        get_session())
    emails = f", {plural(sent, 'escalation email')} sent" if current_app.config.get("ESCALATION_EMAIL") else ""
    click.echo(f"{plural(len(report.reminders), 'reminder')}, {plural(len(report.escalations), 'escalation')}"
               f"{emails}")


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the periodic sweeps in this process (exactly one per deployment; a lease keeps others idle)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    click.echo(f"scheduler {sched.holder_name()} sweeping every {app.config['SWEEP_SECONDS']} s (Ctrl+C stops)")
    sched.build(app, blocking=True).start()
