"""Incident routes: the JSON API (``/api/incidents``) and the server-rendered pages (``/incidents``).

Routes parse, call one service function, and render; errors travel as ``BreachNotifyError``.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.accounts.access import APPROVE, FILE, READ, RESPOND, requires
from app.announcements import service as announcements
from app.audit import service as audit
from app.db import get_session
from app.errors import InvalidInput
from app.incidents import dashboard, flows, service
from app.incidents.form import FIELDS, document_from_form, form_values
from app.incidents.lifecycle import TRANSITIONS, Status
from app.incidents.schema import IncidentFile
from app.obligations import service as obligations
from app.openapi import IncidentChanges, StatusQuery, document
from app.subjects import service as subjects

api = Blueprint("incidents_api", __name__, url_prefix="/api/incidents")
ui = Blueprint("incidents_ui", __name__)


def _clock() -> Any:
    return current_app.extensions["clock"]


def _playbooks() -> Any:
    return current_app.extensions["playbooks"]


def json_body() -> Any:
    """The request body parsed as JSON; ``InvalidInput`` if it is not JSON or a string in it holds a NUL
    character (no text field means one, and PostgreSQL cannot store it)."""
    try:
        body = json.loads(request.get_data(cache=False) or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}", details=[{"path": "", "reason": "invalid JSON"}]) from exc
    InvalidInput.refuse_nul(body)
    return body


@api.post("")
@document(json=IncidentFile, ok=201, tag="incidents", path_params=False)
@requires(FILE)
def api_create() -> tuple[Response, int]:
    """File an incident from an incident-file JSON body; 201 with the stored incident."""
    incident = flows.file_incident(get_session(), clock=_clock(), actor=g.user.actor, data=json_body(),
                                   playbooks=_playbooks())
    return jsonify(service.to_json(incident)), 201


@api.get("")
@document(query=StatusQuery, tag="incidents", path_params=False)
@requires(READ)
def api_list() -> Response:
    """All incidents (``?status=`` filters)."""
    rows = service.list_all(get_session(), status=request.args.get("status"))
    return jsonify({"incidents": [service.to_json(i) for i in rows]})


@api.get("/<int:incident_id>")
@document(tag="incidents")
@requires(READ)
def api_show(incident_id: int) -> Response:
    """One incident with its timeline."""
    session = get_session()
    incident = service.get(session, incident_id=incident_id)
    entries = service.timeline(session, incident_id=incident_id)
    timeline = [{"at": e.at.isoformat(), "actor": e.actor, "kind": e.kind, "text": e.text} for e in entries]
    return jsonify({**service.to_json(incident), "timeline": timeline})


@api.patch("/<int:incident_id>")
@document(json=IncidentChanges, tag="incidents")
@requires(RESPOND)
def api_update(incident_id: int) -> Response:
    """Change fields and/or ``status``; an optional ``note`` goes to the timeline."""
    body = json_body()
    note = body.pop("note", None) if isinstance(body, dict) else None
    incident = flows.change_incident(get_session(), clock=_clock(), actor=g.user.actor, incident_id=incident_id,
                                     changes=body, note=note, playbooks=_playbooks())
    return jsonify(service.to_json(incident))


@ui.get("/")
@requires(READ)
def home() -> str:
    """The dashboard: open incidents with the next deadline, its countdown and the reach counts."""
    return render_template("dashboard.html", rows=dashboard.open_incidents(get_session(), now=_clock().now()))


ui.add_app_template_global(dashboard.urgency, "deadline_urgency")
ui.add_app_template_global(dashboard.countdown, "deadline_countdown")


@ui.get("/incidents")
@requires(READ)
def index() -> str:
    """Incidents with status, age and people affected (the dashboard's number)."""
    session = get_session()
    rows = service.list_all(session, status=request.args.get("status") or None)
    affected = {i.id: subjects.affected(session, incident_id=i.id or 0) for i in rows}
    return render_template("incidents/list.html", incidents=rows, affected=affected, now=_clock().now(),
                           statuses=list(Status))


def _form_page(values: dict[str, Any], errors: dict[str, str], incident: Any = None, status: int = 200
               ) -> tuple[str, int]:
    return render_template("incidents/form.html", fields=FIELDS, values=values, errors=errors,
                           incident=incident), status


def _errors(exc: InvalidInput) -> dict[str, str]:
    return {d["path"]: d["reason"] for d in exc.details} or {"": exc.message}


@ui.route("/incidents/new", methods=["GET", "POST"])
@requires(FILE)
def new() -> tuple[str, int] | Response:
    """The create form; on POST file the incident or re-render with the errors per field."""
    if request.method == "GET":
        return _form_page({"controller.sector": "general", "subjects.count_is_estimate": True}, {})
    try:
        incident = flows.file_incident(get_session(), clock=_clock(), actor=g.user.actor,
                                       data=document_from_form(request.form), playbooks=_playbooks())
    except InvalidInput as exc:
        return _form_page(request.form.to_dict(flat=True) | _multi(), _errors(exc), status=422)
    return redirect(url_for("incidents_ui.show", incident_id=incident.id))


def _multi() -> dict[str, Any]:
    return {f.path: request.form.getlist(f.path) for f in FIELDS if f.kind == "multi"} | {
        f.path: f.path in request.form for f in FIELDS if f.kind == "bool"}


@ui.get("/incidents/<int:incident_id>")
@requires(READ)
def show(incident_id: int) -> str:
    """Detail page: facts, lifecycle buttons and the timeline."""
    session = get_session()
    incident = service.get(session, incident_id=incident_id)
    return render_template("incidents/detail.html", incident=incident, now=_clock().now(),
                           timeline=service.timeline(session, incident_id=incident_id),
                           obligations=obligations.for_incident(session, incident_id=incident_id),
                           assessment=obligations.latest_assessment(session, incident_id=incident_id),
                           reach=subjects.reach(session, incident_id=incident_id),
                           affected=subjects.affected(session, incident_id=incident_id),
                           substitute=announcements.latest_decision(session, incident_id=incident_id),
                           public_notice=announcements.for_incident(session, incident_id=incident_id),
                           next_statuses=sorted(s.value for s in TRANSITIONS[Status(incident.status)]),
                           audit=audit.for_incident(session, incident_id) if g.user.role in APPROVE else None)


@ui.route("/incidents/<int:incident_id>/edit", methods=["GET", "POST"])
@requires(RESPOND)
def edit(incident_id: int) -> tuple[str, int] | Response:
    """The edit form; same rules as the API's PATCH."""
    session = get_session()
    incident = service.get(session, incident_id=incident_id)
    if request.method == "GET":
        return _form_page(form_values(incident.document), {}, incident)
    try:
        flows.change_incident(session, clock=_clock(), actor=g.user.actor, incident_id=incident_id,
                              changes=document_from_form(request.form), note=None, playbooks=_playbooks())
    except InvalidInput as exc:
        session.rollback()
        return _form_page(request.form.to_dict(flat=True) | _multi(), _errors(exc), incident, 422)
    return redirect(url_for("incidents_ui.show", incident_id=incident_id))


@ui.post("/incidents/<int:incident_id>/status")
@requires(RESPOND)
def change_status(incident_id: int) -> Response:
    """Move the incident through the lifecycle (409 page when the move is not allowed)."""
    service.update(get_session(), clock=_clock(), actor=g.user.actor, incident_id=incident_id,
                   changes={"status": request.form.get("status", "")}, note=request.form.get("note") or None)
    return redirect(url_for("incidents_ui.show", incident_id=incident_id))


@ui.post("/incidents/<int:incident_id>/notes")
@requires(RESPOND)
def add_note(incident_id: int) -> Response:
    """Add a note to the timeline."""
    note = request.form.get("note", "").strip()
    if not note:
        raise InvalidInput("note: must not be empty", details=[{"path": "note", "reason": "empty"}])
    service.update(get_session(), clock=_clock(), actor=g.user.actor, incident_id=incident_id, changes={},
                   note=note)
    return redirect(url_for("incidents_ui.show", incident_id=incident_id))
