"""Periodic webhook work, run by the scheduler's sweeps and the dispatch worker's sweeper thread:
``dispatch.progress`` events for running runs whose counts moved, then delivery of what is due."""

from __future__ import annotations

import logging

from flask import Flask
from sqlmodel import Session, col, select

from app import db
from app.clock import Clock
from app.dispatch.models import DispatchRun
from app.dispatch.progress import progress
from app.webhooks.events import emit, last_data, subscribers
from app.webhooks.outbox import DeliverReport, WebhookSettings, deliver_due, settings_from

log = logging.getLogger(__name__)


def progress_data(session: Session, *, clock: Clock, run: DispatchRun) -> dict[str, object]:
    """The ``dispatch.progress`` / ``dispatch.completed`` data of ``run``: ids, state and counts only."""
    p = progress(session, clock=clock, run=run)
    return {"incident_id": p.incident_id, "run_id": p.run_id, "state": p.state,
            "totals": {k: v for k, v in p.totals.items() if v}, "total": p.total,
            "done_fraction": round(p.done_fraction, 4), "substitute": p.substitute}


def emit_progress(session: Session, *, clock: Clock, run: DispatchRun, event_type: str = "dispatch.progress") -> None:
    """Emit ``event_type`` for ``run`` in the caller's transaction (no commit)."""
    emit(session, clock=clock, event_type=event_type, data=progress_data(session, clock=clock, run=run),
         incident_id=run.incident_id, ref=f"dispatch_run:{run.id}")


def progress_sweep(session: Session, *, clock: Clock) -> int:
    """Emit ``dispatch.progress`` for each running run whose counts changed since its last progress event;
    commits. Returns how many were emitted (none without a subscriber)."""
    if not subscribers(session, "dispatch.progress"):
        return 0
    emitted = 0
    for run in session.exec(select(DispatchRun).where(col(DispatchRun.state) == "running")).all():
        data = progress_data(session, clock=clock, run=run)
        last = last_data(session, event_type="dispatch.progress", ref=f"dispatch_run:{run.id}")
        if last is not None and last.get("totals") == data["totals"] and last.get("state") == data["state"]:
            continue
        emit(session, clock=clock, event_type="dispatch.progress", data=data, incident_id=run.incident_id,
             ref=f"dispatch_run:{run.id}")
        emitted += 1
    session.commit()
    return emitted


def settings_for(app: Flask) -> WebhookSettings:
    """The app's ``WebhookSettings`` (built once)."""
    found: WebhookSettings | None = app.extensions.get("webhook_settings")
    if found is None:
        found = settings_from(app.config)
        app.extensions["webhook_settings"] = found
    return found


def run_once(app: Flask, *, worker: str, passes: int = 5) -> DeliverReport:
    """Progress events, then deliver due webhooks of the app's database (``passes`` batches at most)."""
    clock = app.extensions["clock"]
    engine = db.engine_for(app)
    with db.session_scope(engine) as session:
        progress_sweep(session, clock=clock)
    report = deliver_due(engine, clock=clock, cipher=app.extensions["keys"].cipher(), settings=settings_for(app),
                         worker=worker, passes=passes)
    if report.states or report.requeued:
        log.info("webhooks: %s, %d re-queued", report.states, report.requeued)
    return report
