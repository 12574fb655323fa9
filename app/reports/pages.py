"""Staff pages for reports (blueprint ``reports_ui``): the incident's reports with a draft
form, one version (content, diff, submit, approve, export, share) and revocation."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.accounts.access import APPROVE, READ, RESPOND, requires
from app.announcements.routes import decide as decide_substitute
from app.db import get_session
from app.errors import BreachNotifyError, InvalidInput
from app.incidents import service as incidents
from app.reports import bundles, sharing
from app.reports import service as reports
from app.reports.routes import _bundle_file, _clock, _share, app_signing_key, flash_error, regimes

ui = Blueprint("reports_ui", __name__)


def _to_index(incident_id: int) -> Response:
    return redirect(url_for("reports_ui.index", incident_id=incident_id))


def _to_report(incident_id: int, report_id: int) -> Response:
    return redirect(url_for("reports_ui.report", incident_id=incident_id, report_id=report_id))


@ui.get("/incidents/<int:incident_id>/reports")
@requires(READ)
def index(incident_id: int) -> str:
    """Report versions, bundles, grants and the draft form."""
    session = get_session()
    return render_template("reports/index.html", incident=incidents.get(session, incident_id=incident_id),
                           reports=reports.versions(session, incident_id=incident_id), regimes=regimes(),
                           bundles=bundles.for_incident(session, incident_id=incident_id),
                           grants=sharing.for_incident(session, incident_id=incident_id), now=_clock().now())


@ui.post("/incidents/<int:incident_id>/reports")
@requires(RESPOND)
def draft(incident_id: int) -> Response:
    """Draft from the form (``extras`` is a JSON object in a text area)."""
    try:
        text = request.form.get("extras", "").strip()
        try:
            extras = json.loads(text) if text else None
        except ValueError as exc:
            raise InvalidInput(f"extras is not valid JSON: {exc}",
                               details=[{"path": "extras", "reason": "invalid JSON"}]) from exc
        report = reports.draft(get_session(), clock=_clock(), actor=g.user.actor, incident_id=incident_id,
                               regime=request.form.get("regime", ""), phase=request.form.get("phase", "initial"),
                               playbooks=current_app.extensions["playbooks"],
                               extras=extras, reason_for_delay=request.form.get("reason_for_delay"),
                               substitute=decide_substitute(incident_id))
    except BreachNotifyError as exc:
        flash_error(exc)
        return _to_index(incident_id)
    return _to_report(incident_id, report.id or 0)


@ui.get("/incidents/<int:incident_id>/reports/<int:report_id>")
@requires(READ)
def report(incident_id: int, report_id: int) -> str:
    """One version: content, diff from the previous number, actions."""
    session = get_session()
    version = reports.get(session, report_id=report_id, incident_id=incident_id)
    own = [b for b in bundles.for_incident(session, incident_id=incident_id) if b.report_id == report_id]
    return render_template("reports/report.html", incident=incidents.get(session, incident_id=incident_id),
                           report=version, late=reports.is_late(version), bundles=own,
                           content=json.dumps(version.content, indent=2, ensure_ascii=False))


@ui.post("/incidents/<int:incident_id>/reports/<int:report_id>/<action>")
@requires(RESPOND)
def act(incident_id: int, report_id: int, action: str) -> Response:
    """``submit`` or ``bundle`` (export); approval has its own route (privacy officers)."""
    session = get_session()
    try:
        reports.get(session, report_id=report_id, incident_id=incident_id)
        if action == "submit":
            reports.submit(session, clock=_clock(), actor=g.user.actor, report_id=report_id)
        elif action == "bundle":
            bundles.create(session, clock=_clock(), actor=g.user.actor, report_id=report_id,
                           key=app_signing_key(current_app._get_current_object()),  # type: ignore[attr-defined]
                           instance=Path(current_app.instance_path), public_url=current_app.config["PUBLIC_URL"])
        else:
            raise InvalidInput(f"unknown action {action!r}", details=[{"path": "action", "reason": "submit|bundle"}])
    except BreachNotifyError as exc:
        flash_error(exc)
    return _to_report(incident_id, report_id)


@ui.post("/incidents/<int:incident_id>/reports/<int:report_id>/approval")
@requires(APPROVE)
def approve(incident_id: int, report_id: int) -> Response:
    """Approve (four eyes); a late version needs the reason for delay."""
    try:
        reports.get(get_session(), report_id=report_id, incident_id=incident_id)
        reports.approve(get_session(), clock=_clock(), actor=g.user.actor, report_id=report_id,
                        reason_for_delay=request.form.get("reason_for_delay"))
    except BreachNotifyError as exc:
        flash_error(exc)
    return _to_report(incident_id, report_id)


@ui.get("/incidents/<int:incident_id>/reports/bundles/<int:bundle_id>")
@requires(RESPOND)
def download(incident_id: int, bundle_id: int) -> Response:
    """The bundle zip."""
    return _bundle_file(bundles.get(get_session(), bundle_id=bundle_id, incident_id=incident_id))


@ui.post("/incidents/<int:incident_id>/reports/share")
@requires(APPROVE)
def share(incident_id: int) -> Response:
    """Share checked bundles for ``days`` days by link, or with a regulator account; the link is shown once."""
    try:
        days = int(request.form.get("days") or 14)
        expires = _clock().now() + dt.timedelta(days=days)
        body = {"bundle_ids": [int(b) for b in request.form.getlist("bundle_ids")],
                "regulator_name": request.form.get("regulator_name", ""),
                "regulator_email": request.form.get("regulator_email") or None,
                "user_email": request.form.get("user_email") or None, "expires_at": expires.isoformat()}
        _grant, token = _share(incident_id, body)
    except ValueError:
        flash("days must be a whole number", "error")
        return _to_index(incident_id)
    except BreachNotifyError as exc:
        flash_error(exc)
        return _to_index(incident_id)
    if token:
        flash("Share this link once; it is not shown again: "
              + url_for("reports_public.link", token=token, _external=True), "info")
    return _to_index(incident_id)


@ui.post("/incidents/<int:incident_id>/reports/grants/<int:grant_id>/revoke")
@requires(APPROVE)
def revoke(incident_id: int, grant_id: int) -> Response:
    """Revoke a grant now."""
    try:
        sharing.revoke(get_session(), clock=_clock(), actor=g.user.actor, grant_id=grant_id, incident_id=incident_id)
    except BreachNotifyError as exc:
        flash_error(exc)
    return _to_index(incident_id)


@ui.app_template_global("report_summary")
def report_summary(incident_id: int) -> dict[str, int]:
    """``{state: count}`` of the incident's report versions, for the incident page's section."""
    out: dict[str, int] = {}
    for r in reports.versions(get_session(), incident_id=incident_id):
        out[r.state] = out.get(r.state, 0) + 1
    return out
