"""Reading the audit trail and checking its chain over the API."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from app.accounts.access import APPROVE, requires
from app.audit import service
from app.db import get_session
from app.errors import InvalidInput
from app.incidents import service as incidents
from app.openapi import AuditQuery, document
from app.web import MAX_ID

bp = Blueprint("audit", __name__, url_prefix="/api/audit")


@bp.get("")
@document(query=AuditQuery, tag="audit", path_params=False, errors=(404,))
@requires(APPROVE)
def events() -> Response:
    """Audit events of one incident (``?incident_id=``, required), oldest first. 422 naming ``incident_id`` when
    it is missing or not an id (an empty list would read as "nothing happened")."""
    raw = request.args.get("incident_id", "")
    incident_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 else 0
    if not 0 < incident_id <= MAX_ID:
        raise InvalidInput("give ?incident_id= (the incident whose audit events to list; GET /api/audit/verify "
                           "checks the whole trail)", details=[{"path": "incident_id", "reason": "required: an id"}])
    incidents.get(get_session(), incident_id=incident_id)  # NotFound (404) for an incident that does not exist
    rows = service.for_incident(get_session(), incident_id)
    return jsonify({"events": [r.model_dump(mode="json") for r in rows]})


@bp.get("/verify")
@document(tag="audit", path_params=False)
@requires(APPROVE)
def verify() -> Response:
    """Walk the hash chain: ``{"ok", "checked", "broken_seq", "reason"}``."""
    report = service.verify(get_session())
    return jsonify({"ok": report.ok, "checked": report.checked, "broken_seq": report.broken_seq,
                    "reason": report.reason})
