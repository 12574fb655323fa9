"""Reading the audit trail and checking its chain over the API."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from app.accounts.access import APPROVE, requires
from app.audit import service
from app.db import get_session
from app.openapi import AuditQuery, document
from app.web import MAX_ID

bp = Blueprint("audit", __name__, url_prefix="/api/audit")


@bp.get("")
@document(query=AuditQuery, tag="audit", path_params=False)
@requires(APPROVE)
def events() -> Response:
    """Audit events of one incident (``?incident_id=``), oldest first."""
    incident_id = request.args.get("incident_id", type=int)
    rows = service.for_incident(get_session(), incident_id) if incident_id and 0 < incident_id <= MAX_ID else []
    return jsonify({"events": [r.model_dump(mode="json") for r in rows]})


@bp.get("/verify")
@document(tag="audit", path_params=False)
@requires(APPROVE)
def verify() -> Response:
    """Walk the hash chain: ``{"ok", "checked", "broken_seq", "reason"}``."""
    report = service.verify(get_session())
    return jsonify({"ok": report.ok, "checked": report.checked, "broken_seq": report.broken_seq,
                    "reason": report.reason})
