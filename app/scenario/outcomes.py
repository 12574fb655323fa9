"""Scenario steps that read or drive other domains: dispatch to completion, regulator export, the per-incident
summary (obligations with deadlines and whether each was met)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from sqlmodel import Session, col

from app import db
from app.clock import Clock
from app.dispatch import runs
from app.dispatch.models import Delivery, DispatchRun, SubstitutePoolEntry
from app.dispatch.wiring import run_request
from app.errors import InvalidInput
from app.obligations import parts
from app.obligations import service as obligations
from app.obligations.models import ObligationRecord
from app.reports import bundles
from app.reports import service as reports
from app.reports.routes import app_signing_key
from app.reports.signing import public_pem
from app.reports.verify import verify_bundle
from app.wording import plural


def dispatch_and_wait(app: Flask, *, incident_id: int, actor: str, timeout: float, regime: str | None = None
                      ) -> dict[str, Any]:
    """Start a dispatch run and wait (polling, at most ``timeout`` seconds) until it is done.

    Returns per-channel state counts, how many people fell back to another channel, and the pool size.
    """
    engine = db.engine_for(app)
    with app.app_context(), db.session_scope(engine) as session:
        run = runs.start(session, clock=app.extensions["clock"], actor=actor, incident_id=incident_id,
                         request=run_request(app, regime=regime))
        run_id = run.id or 0
    deadline, state, regime = time.monotonic() + timeout, "running", ""
    while time.monotonic() < deadline:
        with db.session_scope(engine) as session:
            found = session.get(DispatchRun, run_id)
            state = found.state if found else "missing"
            regime = found.regime if found else ""
        if state in ("done", "cancelled"):
            break
        time.sleep(0.5)
    with db.session_scope(engine) as session:
        return {"run_id": run_id, "regime": regime, "state": state, **delivery_counts(session, run_id=run_id)}


def delivery_counts(session: Session, *, run_id: int) -> dict[str, Any]:
    """``by_channel`` {channel: {state: n}}, ``fallbacks`` (people with deliveries on 2+ channels), ``pool``."""
    by_channel: dict[str, dict[str, int]] = {}
    for channel, state, n in session.execute(select(col(Delivery.channel), col(Delivery.state), func.count())
                                             .where(col(Delivery.run_id) == run_id)
                                             .group_by(col(Delivery.channel), col(Delivery.state))):
        by_channel.setdefault(channel, {})[state] = n
    per_subject = select(col(Delivery.subject_id)).where(col(Delivery.run_id) == run_id).group_by(
        col(Delivery.subject_id)).having(func.count(func.distinct(col(Delivery.channel))) > 1).subquery()
    fallbacks = session.execute(select(func.count()).select_from(per_subject)).scalar_one()
    pool = session.execute(select(col(SubstitutePoolEntry.kind), func.count()).where(
        col(SubstitutePoolEntry.run_id) == run_id).group_by(col(SubstitutePoolEntry.kind))).all()
    return {"by_channel": by_channel, "fallbacks": int(fallbacks), "substitute_pool": {str(k): int(n) for k, n in pool}}


def export_report(app: Flask, session: Session, *, incident_id: int, drafter: str, approver: str,
                  regime: str | None) -> list[dict[str, Any]]:
    """Draft, approve and export the regime's regulator report as a signed bundle, then verify it (none when the
    regime has no report type)."""
    from app.reports.regimes import REGIME_REPORT

    if regime not in REGIME_REPORT:
        return []
    clock = app.extensions["clock"]
    try:
        report = reports.draft(session, clock=clock, actor=drafter, incident_id=incident_id, regime=regime,
                               playbooks=app.extensions["playbooks"],
                               phase="initial", reason_for_delay=None)
    except InvalidInput:  # past the regulator deadline: a rehearsal of a past incident says so
        session.rollback()
        report = reports.draft(session, clock=clock, actor=drafter, incident_id=incident_id, regime=regime,
                               playbooks=app.extensions["playbooks"],
                               phase="initial", reason_for_delay="rehearsal of a past incident (scenario mode)")
    reports.submit(session, clock=clock, actor=drafter, report_id=report.id or 0)
    reports.approve(session, clock=clock, actor=approver, report_id=report.id or 0)
    bundle = bundles.create(session, clock=clock, actor=approver, report_id=report.id or 0,
                            key=app_signing_key(app), instance=Path(app.instance_path),
                            public_url=app.config["PUBLIC_URL"])
    path = Path(app.instance_path) / bundle.path
    result = verify_bundle(path, trusted_key_pem=public_pem(app_signing_key(app)))
    return [{"regime": regime, "report_id": report.id, "bundle": str(path), "sha256": bundle.sha256,
             "verified": result.ok, "problems": list(result.problems)}]


def record_met(session: Session, *, clock: Clock, incident_id: int, actor: str, dispatch: dict[str, Any],
               published: str | None, exports: list[dict[str, Any]]) -> None:
    """Mark what the rehearsal did as met, with its evidence: the dispatched regime's individual notice once the
    run is done (and the substitute notice is up for the pool), the HHS report once its bundle verified. Other
    regimes' duties stay open: their own notices were not sent (a rehearsal does not assume deemed compliance).
    An obligation in parts is met through its parts (``app.obligations.parts``)."""
    pool = sum(dispatch["substitute_pool"].values())
    individuals_done = dispatch["state"] == "done" and (pool == 0 or published is not None)
    delivered = sum(states.get("delivered", 0) for states in dispatch["by_channel"].values())
    evidence = {(e["regime"], "regulator"): e["verified"] for e in exports}
    rows = session.execute(select(ObligationRecord).where(
        col(ObligationRecord.incident_id) == incident_id, col(ObligationRecord.status).in_(["due", "overdue"]),
        col(ObligationRecord.required).is_(True))).scalars().all()
    parents = parts.parent_ids(obligations.for_incident(session, incident_id=incident_id))
    for row in rows:
        if row.id in parents:
            continue
        if row.audience == "internal_record":
            reason = "the incident record, its timeline and the verified audit chain document the breach"
        elif row.audience == "individuals" and individuals_done and not row.part and row.regime == dispatch["regime"]:
            reason = (f"dispatch run {dispatch['run_id']} done: {delivered} delivered; "
                      f"{plural(pool, 'person', 'people')} covered by the "
                      f"substitute notice" + (f" /notices/{published}" if published else ""))
        elif evidence.get((row.regime, row.audience)):
            reason = f"report exported as a verified signed bundle ({exports[0]['sha256'][:12]}...)"
        else:
            continue
        obligations.close(session, clock=clock, actor=actor, obligation_id=row.id or 0, outcome="met", reason=reason)


def incident_summary(session: Session, *, incident_id: int, now: dt.datetime) -> dict[str, Any]:
    """Obligations with deadlines and whether each was met (required ones only)."""
    rows = session.execute(select(ObligationRecord).where(
        col(ObligationRecord.incident_id) == incident_id, col(ObligationRecord.required).is_(True),
        col(ObligationRecord.status) != "superseded")).scalars().all()
    obligations = [{"regime": r.regime, "audience": r.audience, "part": r.part, "due_at": r.due_at.isoformat()
                    if r.due_at else None, "status": r.status, "met": r.status == "met",
                    "time_left_hours": round((r.due_at - now).total_seconds() / 3600, 1) if r.due_at else None,
                    "citations": r.citations} for r in rows]
    return {"obligations": obligations}
