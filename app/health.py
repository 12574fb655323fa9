"""``/healthz``: is the service up and its database reachable and migrated?"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from app import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 ``{"status": "ok", "database": "ok", "schema": "current"}`` or 503 with what is wrong."""
    engine = db.engine_for(current_app)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = db.current_revision(engine)
    except SQLAlchemyError as exc:
        return jsonify({"status": "error", "database": type(exc).__name__}), 503
    schema = "current" if current == db.head_revision() else "not migrated"
    status = 200 if schema == "current" else 503
    return jsonify({"status": "ok" if status == 200 else "error", "database": "ok", "schema": schema}), status
