"""Obligation routes: list and re-decide per incident, mark met, waive (privacy officer)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, redirect, request, url_for
from werkzeug.wrappers import Response

from app.accounts.access import APPROVE, READ, RESPOND, requires
from app.db import get_session
from app.incidents import flows
from app.incidents.routes import json_body
from app.obligations import parts, scheduled, service
from app.obligations.models import ObligationAlert, ObligationRecord
from app.openapi import ReasonInput, document

api = Blueprint("obligations_api", __name__, url_prefix="/api")
ui = Blueprint("obligations_ui", __name__)


def to_json(record: ObligationRecord) -> dict[str, Any]:
    """API representation of an obligation record (times ISO 8601 UTC)."""
    return record.model_dump(mode="json")


def _ext(name: str) -> Any:
    return current_app.extensions[name]


@api.get("/incidents/<int:incident_id>/obligations")
@document(tag="obligations")
@requires(READ)
def list_(incident_id: int) -> Response:
    """The incident's obligations and the last assessment (severity, contract document)."""
    session = get_session()
    rows = service.for_incident(session, incident_id=incident_id)
    return jsonify({"obligations": [to_json(r) for r in rows],
                    "assessment": service.latest_assessment(session, incident_id=incident_id)})


@api.post("/incidents/<int:incident_id>/assess")
@document(tag="obligations", errors=(409,))
@requires(RESPOND)
def reassess(incident_id: int) -> Response:
    """Re-decide the incident's obligations now."""
    rows = flows.reassess(get_session(), clock=_ext("clock"), actor=g.user.actor, incident_id=incident_id,
                          playbooks=_ext("playbooks"))
    return jsonify({"obligations": [to_json(r) for r in rows]})


def _close(obligation_id: int, outcome: str, reason: str) -> ObligationRecord:
    return service.close(get_session(), clock=_ext("clock"), actor=g.user.actor, obligation_id=obligation_id,
                         outcome=outcome, reason=reason)


def _body_reason() -> str:
    body = json_body()
    return str(body.get("reason", "")) if isinstance(body, dict) else ""


def _back(record: ObligationRecord) -> Response:
    return redirect(url_for("incidents_ui.show", incident_id=record.incident_id) + "#obligations")


@api.post("/obligations/<int:obligation_id>/met")
@document(json=ReasonInput, tag="obligations")
@requires(RESPOND)
def api_met(obligation_id: int) -> Response:
    """Record that the notice was given: ``{"reason": "submitted via the ICO form, ref 123"}``."""
    return jsonify(to_json(_close(obligation_id, "met", _body_reason())))


@api.post("/obligations/<int:obligation_id>/waive")
@document(json=ReasonInput, tag="obligations")
@requires(APPROVE)
def api_waive(obligation_id: int) -> Response:
    """Waive an obligation with a reason (privacy officer)."""
    return jsonify(to_json(_close(obligation_id, "waived", _body_reason())))


@ui.post("/obligations/<int:obligation_id>/met")
@requires(RESPOND)
def ui_met(obligation_id: int) -> Response:
    """Form: mark met."""
    return _back(_close(obligation_id, "met", request.form.get("reason", "")))


@ui.post("/obligations/<int:obligation_id>/waive")
@requires(APPROVE)
def ui_waive(obligation_id: int) -> Response:
    """Form: waive (privacy officer)."""
    return _back(_close(obligation_id, "waived", request.form.get("reason", "")))


@ui.app_template_global("obligation_alerts")
def obligation_alerts(incident_id: int) -> dict[int, list[ObligationAlert]]:
    """Fired reminders and escalations per obligation id, for the incident page's obligations section."""
    return scheduled.alerts_for(get_session(), incident_id=incident_id)


@ui.app_template_global("obligation_parents")
def obligation_parents(records: list[ObligationRecord]) -> set[int]:
    """Ids of the obligations that are closed through their parts (no forms, no reminders of their own)."""
    return parts.parent_ids(records)


@ui.app_template_global("reminder_offsets")
def reminder_offsets() -> list[int]:
    """Seconds before each deadline at which the scheduler reminds (``BREACH_NOTIFY_REMINDER_OFFSETS``)."""
    return sorted((int(s) for s in current_app.config.get("REMINDER_OFFSETS", ())), reverse=True)
