"""Letters with the app's configuration: the drop, keys, dispatch settings and retry policy (for the CLI and
the pages, so both run the same calls)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select
from sqlmodel import Session, col

from app.dispatch.models import QUEUED, SENT, Delivery, DispatchRun
from app.dispatch.wiring import policy_for, settings_for
from app.errors import Conflict
from app.letters.batches import BatchOptions, BatchOutcome, make_batch
from app.letters.drops import drop_from_config
from app.letters.returns import ReturnsReport, import_returns


def batch(app: Flask, session: Session, *, actor: str, incident_id: int) -> BatchOutcome:
    """One batch of ``incident_id``'s waiting letters to the configured drop; ``Conflict`` without a drop or
    with a malformed one."""
    try:
        drop = drop_from_config(app.config)
    except ValueError as exc:
        raise Conflict(str(exc)) from exc
    if drop is None:
        raise Conflict("no letter drop is configured (BREACH_NOTIFY_LETTER_DROP): letters cannot be posted")
    return make_batch(session, clock=app.extensions["clock"], actor=actor, incident_id=incident_id, drop=drop,
                      cipher=app.extensions["keys"].cipher(), settings=settings_for(app), policy=policy_for(app),
                      options=BatchOptions.from_config(app.config))


def returns(app: Flask, session: Session, *, actor: str, incident_id: int, text: str) -> ReturnsReport:
    """Import a returned-mail CSV for ``incident_id`` (``app.letters.returns``)."""
    return import_returns(session, clock=app.extensions["clock"], actor=actor, incident_id=incident_id, text=text,
                          policy=policy_for(app))


def letter_counts(session: Session, *, incident_id: int) -> dict[str, int]:
    """``{"waiting": queued letters, "sent": letters handed over and not returned}`` of the incident."""
    rows = session.execute(select(col(Delivery.state), func.count()).join(
        DispatchRun, col(DispatchRun.id) == col(Delivery.run_id)).where(
        col(DispatchRun.incident_id) == incident_id, col(Delivery.channel) == "letter",
        col(Delivery.state).in_((QUEUED, SENT))).group_by(col(Delivery.state))).all()
    found = {str(state): int(n) for state, n in rows}
    return {"waiting": found.get(QUEUED, 0), "sent": found.get(SENT, 0)}
