"""``breach-notify dispatch plan|run|status|pause|resume|cancel INCIDENT_ID``, ``dispatch outbox`` and
``breach-notify worker``."""

from __future__ import annotations

import json
import signal
import threading
import time
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from app import db
from app.cli import cli_actor, fail
from app.dispatch import runs, sandbox_store
from app.dispatch.progress import progress
from app.dispatch.wiring import make_worker, run_request
from app.dispatch.worker import WorkerOptions
from app.errors import BreachNotifyError
from app.wording import plural


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]


def _clock() -> Any:
    return current_app.extensions["clock"]


def _echo_plan(doc: dict[str, Any]) -> None:
    for warning in doc["warnings"]:
        click.secho(warning, fg="red", bold=True, err=True)
    click.echo(f"{plural(doc['people'], 'person', 'people')} to notify, regime {doc['regime']}, "
               f"finish in about {doc['finish_seconds']:.0f} s")
    for channel, c in doc["channels"].items():
        takes = "unlimited rate" if c["seconds"] is None else f"{c['seconds']} s at {c['rate']}/s"
        click.echo(f"  {channel:6} {c['messages']:>7} first messages  {takes}")
    if doc["deadline"]:
        verdict = "beats it" if doc["beats_deadline"] else "DOES NOT beat it"
        click.echo(f"earliest deadline {doc['deadline']['regime']} {doc['deadline']['due_at']}: the plan {verdict}")


def _bar(fraction: float, width: int = 40) -> str:
    filled = round(fraction * width)
    return "[" + "#" * filled + "." * (width - filled) + f"] {fraction * 100:5.1f} %"


def _echo_progress(p: dict[str, Any]) -> None:
    click.echo(f"run {p['run_id']} {p['state']}  {_bar(p['done_fraction'])}  {p['rate']} msg/s  ETA {p['eta_text']}")
    states = [s for s, n in p["totals"].items() if n]
    click.echo("  channel " + " ".join(f"{s:>16}" for s in states))
    for channel, counts in sorted(p["counts"].items()):
        click.echo(f"  {channel:7} " + " ".join(f"{counts.get(s, 0):>16}" for s in states))
    if p["substitute"]:
        click.echo("  substitute pool: " + ", ".join(f"{n} {k}" for k, n in p["substitute"].items()))


@click.group("dispatch")
def dispatch_group() -> None:
    """Send approved notices: plan, run, follow, pause, resume, cancel."""


@dispatch_group.command("plan")
@click.argument("incident_id", type=int)
@click.option("--chain", default=None, help="channel order, e.g. email,sms,voice,push,letter")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@with_appcontext
def plan_command(incident_id: int, chain: str | None, fmt: str) -> None:
    """How long each channel takes at its rate, against the earliest deadline."""
    try:
        doc = runs.plan(db.get_session(), clock=_clock(), incident_id=incident_id,
                        request=run_request(_app(), chain=chain))
    except BreachNotifyError as exc:
        fail(exc)
    click.echo(json.dumps(doc)) if fmt == "json" else _echo_plan(doc)


@dispatch_group.command("run")
@click.argument("incident_id", type=int)
@click.option("--chain", default=None, help="channel order, e.g. email,sms,voice,push,letter")
@click.option("--regime", default=None)
@click.option("--follow", is_flag=True, help="show progress until the run ends")
@with_appcontext
def run_command(incident_id: int, chain: str | None, regime: str | None, follow: bool) -> None:
    """Start a run (the workers send it); warns loudly when the plan misses a deadline."""
    session = db.get_session()
    try:
        run = runs.start(session, clock=_clock(), actor=cli_actor(), incident_id=incident_id,
                         request=run_request(_app(), chain=chain, regime=regime))
    except BreachNotifyError as exc:
        fail(exc)
    _echo_plan(run.plan)
    click.echo(f"dispatch run {run.id} started")
    while follow:
        session.expire_all()
        p = progress(session, clock=_clock(), run=runs.get_run(session, run_id=run.id or 0)).as_dict()
        _echo_progress(p)
        if p["state"] in ("done", "cancelled"):
            break
        time.sleep(2)


@dispatch_group.command("status")
@click.argument("incident_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@with_appcontext
def status_command(incident_id: int, fmt: str) -> None:
    """Counts per channel and state, progress, rate and ETA of the newest run."""
    session = db.get_session()
    run = runs.latest_run(session, incident_id=incident_id)
    if run is None:
        raise click.ClickException(f"incident {incident_id} has no dispatch run")
    p = progress(session, clock=_clock(), run=run).as_dict()
    click.echo(json.dumps(p, default=str)) if fmt == "json" else _echo_progress(p)


def _control(incident_id: int, action: str) -> None:
    session = db.get_session()
    run = runs.latest_run(session, incident_id=incident_id)
    if run is None:
        raise click.ClickException(f"incident {incident_id} has no dispatch run")
    try:
        run = runs.control(session, clock=_clock(), actor=cli_actor(), run_id=run.id or 0, action=action)
    except BreachNotifyError as exc:
        fail(exc)
    click.echo(f"dispatch run {run.id} {run.state}")


for _action in ("pause", "resume", "cancel"):
    def _make(action: str) -> click.Command:
        @click.argument("incident_id", type=int)
        @with_appcontext
        def command(incident_id: int) -> None:
            _control(incident_id, action)

        command.__doc__ = f"{action.capitalize()} the incident's newest run."
        return click.command(action)(command)

    dispatch_group.add_command(_make(_action))


@dispatch_group.command("outbox")
@click.option("--limit", default=20, show_default=True)
@click.option("--channel", default=None)
@with_appcontext
def outbox_command(limit: int, channel: str | None) -> None:
    """The newest messages the sandbox recorded (full text; rehearsal data)."""
    for item in sandbox_store.recent(db.get_session(), cipher=current_app.extensions["keys"].cipher(), limit=limit,
                                     channel=channel):
        click.echo(f"#{item.id} {item.recorded_at} {item.channel} delivery={item.delivery_id} to={item.recipient} "
                   f"{item.subject_line}")


@click.command("worker")
@click.option("--once", is_flag=True, help="stop when nothing is due")
@click.option("--batch", default=50, show_default=True, help="deliveries claimed ahead per channel")
@click.option("--concurrency", default=None, type=int, help="sender threads per channel (default: settings)")
@click.option("--sweep-seconds", default=5.0, show_default=True)
@click.option("--flush-every", default=1, show_default=True,
              help="unrecorded acceptances a sender thread may hold (more is faster; widens the crash window)")
@with_appcontext
def worker_command(once: bool, batch: int, concurrency: int | None, sweep_seconds: float, flush_every: int) -> None:
    """Claim and send deliveries until stopped (SIGTERM/SIGINT finish the claimed ones first)."""
    worker = make_worker(_app(), WorkerOptions(batch=batch, concurrency=concurrency, sweep_every=sweep_seconds,
                                               once=once, flush_every=max(1, flush_every)))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"worker {worker.name} sending {', '.join(worker.senders)}", err=True)
    stats = worker.run(stop)
    click.echo(json.dumps(dict(stats.outcomes)))
