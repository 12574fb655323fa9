"""``breach-notify webhooks add|list|pause|resume|log|deliver``."""

from __future__ import annotations

import json
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from app.cli import cli_actor, fail
from app.db import get_session
from app.dispatch.worker import worker_name
from app.errors import BreachNotifyError
from app.webhooks import service
from app.webhooks.events import EVENT_TYPES
from app.webhooks.jobs import run_once, settings_for


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]


@click.group("webhooks")
def webhooks_group() -> None:
    """Outbound webhooks (signed, Standard Webhooks)."""


@webhooks_group.command("add")
@click.option("--url", required=True, help="https:// receiver URL.")
@click.option("--events", required=True, help=f"Comma-separated event types: {', '.join(EVENT_TYPES)}.")
@click.option("--description", default="")
@click.option("--secret", default=None, help="whsec_... (default: generated).")
@with_appcontext
def add(url: str, events: str, description: str, secret: str | None) -> None:
    """Subscribe URL; prints the subscription id and its signing secret (shown only now)."""
    data: dict[str, Any] = {"url": url, "events": [e.strip() for e in events.split(",") if e.strip()],
                            "description": description, **({"secret": secret} if secret else {})}
    try:
        sub, shown = service.create(get_session(), clock=current_app.extensions["clock"], actor=cli_actor(),
                                    cipher=current_app.extensions["keys"].cipher(), data=data,
                                    policy=settings_for(_app()).policy)
    except BreachNotifyError as exc:
        fail(exc)
    click.echo(f"subscription {sub.id}: {sub.url} ({', '.join(sub.events)})")
    click.echo(f"secret: {shown}")


@webhooks_group.command("list")
@with_appcontext
def list_command() -> None:
    """Every subscription."""
    for sub in service.list_all(get_session()):
        click.echo(f"{sub.id:>4}  {'active' if sub.active else 'paused':6}  {sub.url}  {','.join(sub.events)}")


def _set_active(subscription_id: int, active: bool) -> None:
    try:
        service.change(get_session(), clock=current_app.extensions["clock"], actor=cli_actor(),
                       subscription_id=subscription_id, data={"active": active}, policy=settings_for(_app()).policy)
    except BreachNotifyError as exc:
        fail(exc)
    click.echo(f"subscription {subscription_id} {'resumed' if active else 'paused'}")


@webhooks_group.command("pause")
@click.argument("subscription_id", type=int)
@with_appcontext
def pause(subscription_id: int) -> None:
    """Stop delivering to a subscription (queued deliveries wait)."""
    _set_active(subscription_id, False)


@webhooks_group.command("resume")
@click.argument("subscription_id", type=int)
@with_appcontext
def resume(subscription_id: int) -> None:
    """Deliver to a paused subscription again."""
    _set_active(subscription_id, True)


@webhooks_group.command("log")
@click.argument("subscription_id", type=int)
@click.option("--limit", default=50, show_default=True)
@with_appcontext
def log_command(subscription_id: int, limit: int) -> None:
    """The delivery log of a subscription as JSON lines, newest first."""
    try:
        rows = service.deliveries(get_session(), subscription_id=subscription_id, limit=limit)
    except BreachNotifyError as exc:
        fail(exc)
    for row in rows:
        click.echo(json.dumps(row.model_dump(mode="json")))


@webhooks_group.command("deliver")
@click.option("--passes", default=5, show_default=True, help="Batches to claim at most.")
@with_appcontext
def deliver(passes: int) -> None:
    """Send due webhooks once (workers and the scheduler do this continuously)."""
    report = run_once(_app(), worker=f"cli:{worker_name()}", passes=passes)
    click.echo(f"re-queued {report.requeued}; " + ", ".join(f"{n} {s}" for s, n in sorted(report.states.items())))
