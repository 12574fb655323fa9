"""The periodic sweeps and the one process that runs them.

``breach-notify scheduler`` runs them in its own process (the production shape, next to the web
workers); ``breach-notify serve`` runs one in-process for the embedded default. A database lease makes
sure only one scheduler sweeps at a time even if two are started: the other stands by and takes over when
the lease expires.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app import db
from app.clock import Clock, SystemClock
from app.obligations.escalation_mail import MailSettings, send_pending
from app.obligations.models import SchedulerLease
from app.obligations.scheduled import SweepReport
from app.obligations.scheduled import sweep as obligation_sweep

log = logging.getLogger(__name__)
LEASE = "sweeps"


def holder_name() -> str:
    """This process's name in the lease: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def acquire_lease(session: Session, *, clock: Clock, holder: str, ttl_seconds: int, name: str = LEASE) -> bool:
    """Take or renew the lease ``name`` for ``ttl_seconds``; False while another holder's lease is live."""
    now = clock.now()
    expires = now + dt.timedelta(seconds=ttl_seconds)
    result = session.execute(
        update(SchedulerLease)
        .where(col(SchedulerLease.name) == name)
        .where((col(SchedulerLease.holder) == holder) | (col(SchedulerLease.expires_at) < now))
        .values(holder=holder, expires_at=expires)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        session.commit()
        return True
    session.rollback()
    if session.get(SchedulerLease, name) is not None:
        return False
    session.add(SchedulerLease(name=name, holder=holder, expires_at=expires))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def run_sweeps(app: Flask, holder: str) -> bool:
    """One tick: take the lease, then run every sweep. Returns False when standing by."""
    clock = app.extensions["clock"]
    with app.app_context(), db.session_scope(db.engine_for(app)) as session:
        ttl = 3 * int(app.config["SWEEP_SECONDS"])
        if not acquire_lease(session, clock=clock, holder=holder, ttl_seconds=ttl):
            log.info("another scheduler holds the lease; standing by")
            return False
        for job in sweeps():
            job(app, session)
    return True


def deadline_sweep(app: Flask, session: Session) -> tuple[SweepReport, int]:
    """The deadline sweep with the app's settings, then the escalation emails to privacy officers when
    ``BREACH_NOTIFY_ESCALATION_EMAIL`` is set: ``(report, emails sent)``."""
    from app.dispatch.wiring import channel_factory, settings_for

    clock, sender = app.extensions["clock"], app.config.get("ESCALATION_EMAIL")
    report = obligation_sweep(session, clock=clock, offsets=app.config["REMINDER_OFFSETS"], email_officers=bool(sender))
    if not sender:
        return report, 0
    settings = settings_for(app)
    sent = send_pending(session, clock=clock, channels=channel_factory(app),
                        settings=MailSettings(sender, settings.public_url, settings.max_attempts))
    return report, sent


def _obligations(app: Flask, session: Session) -> None:
    report, sent = deadline_sweep(app, session)
    if report.reminders or report.escalations or sent:
        log.info("deadline sweep: %d reminders, %d escalations, %d escalation emails sent", len(report.reminders),
                 len(report.escalations), sent)


def _dispatch(app: Flask, session: Session) -> None:
    from app.dispatch.sweeps import sweep as dispatch_sweep
    from app.dispatch.wiring import policy_for, settings_for

    settings = settings_for(app)
    report = dispatch_sweep(session, clock=app.extensions["clock"], claim_timeout=settings.claim_timeout,
                            timeouts=settings.receipt_timeouts, policy=policy_for(app))
    if report.requeued or report.timed_out or report.finished:
        log.info("dispatch sweep: %d re-queued, %d receipt timeouts, %d runs finished", report.requeued,
                 report.timed_out, report.finished)


def _announcements(app: Flask, session: Session) -> None:
    from app.announcements.service import sweep as posting_sweep

    if fired := posting_sweep(session, clock=app.extensions["clock"]):
        log.info("public notice sweep: %d posting-period alerts (reminders, ends)", fired)


def _letters(app: Flask, session: Session) -> None:
    from app.letters.scheduled import presume_delivered

    days = int(app.config.get("LETTER_RETURN_DAYS", 30))
    if done := presume_delivered(session, clock=app.extensions["clock"], days=days):
        log.info("letters sweep: %d letters without returned mail after %d days delivered", done, days)


def _webhooks(app: Flask, _session: Session) -> None:
    from app.webhooks.jobs import run_once

    run_once(app, worker=f"scheduler:{holder_name()}")


def sweeps() -> list[Callable[[Flask, Session], None]]:
    """The periodic jobs, in order (letters before dispatch, so a run whose last letters are done finishes)."""
    return [_obligations, _letters, _dispatch, _announcements, _webhooks]


def build(app: Flask, *, blocking: bool, first_run: dt.datetime | None = None) -> BaseScheduler:
    """An APScheduler with one interval job running ``run_sweeps`` every ``SWEEP_SECONDS``.

    Coalesced, one instance at a time, no misfire limit: a late tick runs once and catches up from the
    database state. ``first_run`` (aware) is when APScheduler first runs it, on APScheduler's own (real)
    clock, not the app's injected one: default at once.
    """
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(timezone=dt.UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
    scheduler.add_job(run_sweeps, "interval", seconds=int(app.config["SWEEP_SECONDS"]), args=[app, holder_name()],
                      id="sweeps", next_run_time=first_run or SystemClock().now())
    return scheduler
