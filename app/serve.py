"""``breach-notify serve``: the embedded default in one process (SQLite, sandbox channels, one scheduler)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlmodel import select
from werkzeug.serving import run_simple

from app import db
from app.accounts import service as accounts
from app.accounts.models import Role, User
from app.cli import cli_actor
from app.scheduler import build


def _first_admin() -> None:
    session = db.get_session()
    if session.exec(select(User).limit(1)).first() is not None:
        click.echo("sign in with an existing account (create more: breach-notify users create --email E --role R)")
        return
    new = accounts.create_user(session, clock=current_app.extensions["clock"], email="admin@example.org",
                               role=Role.admin.value, actor=cli_actor())
    click.echo(f"first account: {new.user.email}  password: {new.password}  (shown once)")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def serve_command(host: str, port: int) -> None:
    """Migrate the database, create the first admin if there is none, and serve on HOST:PORT."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    db.upgrade(db.engine_for(app))
    _first_admin()
    scheduler = None
    if app.config.get("SCHEDULER", "embedded") == "embedded":
        scheduler = build(app, blocking=False)
        scheduler.start()
        click.echo(f"embedded scheduler sweeping every {app.config['SWEEP_SECONDS']} s")
    worker_stop = None
    if app.config.get("WORKER", "embedded") == "embedded":
        from app.dispatch.wiring import start_background_worker

        _thread, worker_stop = start_background_worker(app)
        click.echo(f"embedded dispatch worker running ({app.config.get('DISPATCH_MODE', 'sandbox')} mode)")
    click.echo(f"breach-notify is serving on http://{host}:{port}/login  (Ctrl+C stops)")
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        if worker_stop is not None:
            worker_stop.set()
        if scheduler is not None:
            scheduler.shutdown(wait=False)
