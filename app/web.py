"""Error mapping (once, for the whole app) and the migration gate."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Response

from app import db
from app.errors import BreachNotifyError, NotMigrated, PasswordChangeRequired, PayloadTooLarge, Unauthenticated

UNGATED = ("/healthz", "/static/")
MAX_ID = 2**31 - 1  # ids are INTEGER columns: 32-bit on PostgreSQL


class IdConverter(IntegerConverter):
    """``<int:...>`` in every rule: 0 to ``MAX_ID``. A larger number matches no rule (404) instead of reaching the
    database, where it would overflow the column type."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def _id_beyond_range(path: str) -> bool:
    """True when a segment of ``path`` is a number above ``MAX_ID``: :class:`IdConverter` refused it, so no rule
    matched; a 404 whatever the method."""
    return any(part.isascii() and part.isdigit() and int(part) > MAX_ID for part in path.split("/"))


def register_converters(app: Flask) -> None:
    """Bound path ids (before any blueprint is registered: rules compile with the converter they find)."""
    app.url_map.converters["int"] = IdConverter


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def render_error(exc: BreachNotifyError) -> Any:
    """JSON under ``/api`` (or when asked for JSON only, as the pages' scripts do); for a page visit a login
    redirect when anonymous, the change-password form while a one-time password is in use, else an HTML
    page."""
    if _wants_json():
        return jsonify(exc.to_dict()), exc.status
    if isinstance(exc, Unauthenticated):
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    if isinstance(exc, PasswordChangeRequired):
        return redirect(url_for("accounts.change_password"))
    return render_template("error.html", error=exc), exc.status


def register_error_handlers(app: Flask) -> None:
    """Map domain errors, HTTP errors, oversize bodies and CSRF failures to responses."""

    @app.errorhandler(BreachNotifyError)
    def _domain(exc: BreachNotifyError) -> Any:
        return render_error(exc)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge) -> Any:
        limit = request.max_content_length or app.config.get("MAX_CONTENT_LENGTH")
        length = request.content_length
        if length is not None and limit is not None and length <= limit:  # werkzeug's cap on multipart parts
            return render_error(PayloadTooLarge(f"request has more than {request.max_form_parts} form fields"))
        return render_error(PayloadTooLarge(f"request body over the limit of {limit} bytes"))

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Any:
        error = BreachNotifyError(f"form expired or forged: {exc.description}")
        error.status, error.code = 400, "csrf"
        return render_error(error)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        if isinstance(exc, MethodNotAllowed) and _id_beyond_range(request.path):
            exc = NotFound()  # werkzeug answers 405 when a rule for another method has the same path
        error = BreachNotifyError(exc.description or exc.name)
        error.status, error.code = exc.code or 500, exc.name.lower().replace(" ", "_")
        return render_error(error)


UPLOAD_ENDPOINTS = frozenset({"subjects_ui.page", "subjects_api.api_import", "subjects_api.api_identify"})


def register_upload_limits(app: Flask) -> None:
    """File uploads may be up to ``UPLOAD_MAX_BYTES``; every other body stays under ``MAX_CONTENT_LENGTH``."""

    @app.before_request
    def _limit() -> None:
        if request.endpoint in UPLOAD_ENDPOINTS and request.method == "POST":
            request.max_content_length = app.config["UPLOAD_MAX_BYTES"]


def register_migration_gate(app: Flask) -> None:
    """Refuse to serve (503, naming the command) until the database is at the code's revision."""
    head = db.head_revision()

    @app.before_request
    def _gate() -> Response | None:
        if app.extensions.get("schema_current") or request.path.startswith(UNGATED):
            return None
        if db.current_revision(db.engine_for(app)) != head:
            raise NotMigrated("the database is not migrated: run `breach-notify db upgrade`")
        app.extensions["schema_current"] = True
        return None
