"""Report routes: the JSON API under ``/api/incidents/<id>/reports``, the staff pages (``app.reports.pages``)
under ``/incidents/<id>/reports``, the public signing key and regulator links, and the regulator account pages.

Roles: reading ``READ``; drafting, submitting and exporting ``RESPOND``; approving and sharing ``APPROVE``
(the service refuses an approval by the drafter or submitter). ``/.well-known/breach-notify/signing-key``,
the report JSON Schemas (``/schemas/reports/<type>.json``) and ``/r/<token>...`` are public (the link token
authenticates); ``/regulator...`` needs a ``regulator``
account and shows exactly the bundles granted to it.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    jsonify,
    render_template,
    send_file,
    url_for,
)
from werkzeug.wrappers import Response

from app.accounts.access import APPROVE, READ, RESPOND, requires
from app.accounts.models import Role
from app.announcements.routes import decide as decide_substitute
from app.clock import parse_utc
from app.db import get_session
from app.errors import BreachNotifyError, InvalidInput, NotFound
from app.incidents import service as incidents
from app.incidents.routes import json_body
from app.openapi import ReportApproveInput, ReportDraftInput, ShareInput, document
from app.reports import bundles, exports, sharing
from app.reports import service as reports
from app.reports.models import ExportBundle, ReportGrant
from app.reports.regimes import REGIME_REPORT, REPORT_TYPES
from app.reports.signing import load_signing_key, public_pem

api = Blueprint("reports_api", __name__, url_prefix="/api/incidents/<int:incident_id>/reports")
public = Blueprint("reports_public", __name__)
regulator = Blueprint("reports_regulator", __name__)
REGULATOR = frozenset({Role.regulator.value})


def app_signing_key(app: Flask) -> Ed25519PrivateKey:
    """The app's bundle signing key (``SIGNING_KEY`` or ``instance/signing-key.pem``), loaded once."""
    key: Ed25519PrivateKey | None = app.extensions.get("report_signing_key")
    if key is None:
        key = load_signing_key(app.config.get("SIGNING_KEY"), Path(app.instance_path))
        app.extensions["report_signing_key"] = key
    return key


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]


def _clock() -> Any:
    return current_app.extensions["clock"]


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", details=[{"path": "", "reason": "expected an object"}])
    return data


def _bundle_file(bundle: ExportBundle) -> Response:
    data = bundles.read(bundle, instance=Path(current_app.instance_path))
    return send_file(io.BytesIO(data), mimetype="application/zip", as_attachment=True,
                     download_name=bundles.file_name(bundle))


def _expiry(text: str) -> dt.datetime:
    try:
        return parse_utc(text)
    except (ValueError, AttributeError) as exc:
        raise InvalidInput("expires_at must be ISO 8601 with a UTC offset",
                           details=[{"path": "expires_at", "reason": str(exc)}]) from exc


def _share(incident_id: int, body: dict[str, Any]) -> tuple[ReportGrant, str | None]:
    ids = body.get("bundle_ids")
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise InvalidInput("bundle_ids must be a list of bundle ids", details=[{"path": "bundle_ids",
                                                                               "reason": "list of integers"}])
    return sharing.create_grant(get_session(), clock=_clock(), actor=g.user.actor, incident_id=incident_id,
                                bundle_ids=ids, regulator_name=str(body.get("regulator_name") or ""),
                                regulator_email=body.get("regulator_email"), user_email=body.get("user_email"),
                                expires_at=_expiry(str(body.get("expires_at") or "")))


# --- JSON API -------------------------------------------------------------------------------------------

@api.get("")
@document(tag="reports")
@requires(READ)
def api_list(incident_id: int) -> Response:
    """The incident's report versions and bundles."""
    session = get_session()
    incidents.get(session, incident_id=incident_id)
    return jsonify({"reports": [reports.to_json(r) for r in reports.versions(session, incident_id=incident_id)],
                    "bundles": [bundles.to_json(b) for b in bundles.for_incident(session, incident_id=incident_id)]})


@api.post("")
@document(json=ReportDraftInput, ok=201, tag="reports")
@requires(RESPOND)
def api_draft(incident_id: int) -> tuple[Response, int]:
    """Draft: ``{"regime", "phase", "extras", "reason_for_delay"}``; 201 with the version."""
    body = _object(json_body())
    unknown = set(body) - {"regime", "phase", "extras", "reason_for_delay"}
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}",
                           details=[{"path": k, "reason": "unknown field"} for k in sorted(unknown)])
    report = reports.draft(get_session(), clock=_clock(), actor=g.user.actor, incident_id=incident_id,
                           regime=str(body.get("regime") or ""), phase=str(body.get("phase") or "initial"),
                           playbooks=current_app.extensions["playbooks"],
                           extras=body.get("extras"), reason_for_delay=body.get("reason_for_delay"),
                           substitute=decide_substitute(incident_id))
    return jsonify(reports.to_json(report)), 201


@api.get("/<int:report_id>")
@document(tag="reports")
@requires(READ)
def api_get(incident_id: int, report_id: int) -> Response:
    """One version with content, extras and diff."""
    return jsonify(reports.to_json(reports.get(get_session(), report_id=report_id, incident_id=incident_id)))


@api.post("/<int:report_id>/submit")
@document(tag="reports", errors=(409,))
@requires(RESPOND)
def api_submit(incident_id: int, report_id: int) -> Response:
    """Submit a draft for approval."""
    reports.get(get_session(), report_id=report_id, incident_id=incident_id)
    return jsonify(reports.to_json(reports.submit(get_session(), clock=_clock(), actor=g.user.actor,
                                                  report_id=report_id)))


@api.post("/<int:report_id>/approve")
@document(json=ReportApproveInput, tag="reports")
@requires(APPROVE)
def api_approve(incident_id: int, report_id: int) -> Response:
    """Approve (four eyes); optional body ``{"reason_for_delay"}``."""
    reports.get(get_session(), report_id=report_id, incident_id=incident_id)
    body = _object(json_body() or {})
    return jsonify(reports.to_json(reports.approve(get_session(), clock=_clock(), actor=g.user.actor,
                                                   report_id=report_id,
                                                   reason_for_delay=body.get("reason_for_delay"))))


@api.post("/<int:report_id>/bundles")
@document(ok=201, tag="reports", errors=(409,))
@requires(RESPOND)
def api_bundle(incident_id: int, report_id: int) -> tuple[Response, int]:
    """Export an approved version as a signed bundle; 201."""
    reports.get(get_session(), report_id=report_id, incident_id=incident_id)
    bundle = bundles.create(get_session(), clock=_clock(), actor=g.user.actor, report_id=report_id,
                            key=app_signing_key(_app()), instance=Path(current_app.instance_path),
                            public_url=current_app.config["PUBLIC_URL"])
    return jsonify(bundles.to_json(bundle)), 201


@api.get("/bundles/<int:bundle_id>")
@document(tag="reports")
@requires(RESPOND)
def api_bundle_download(incident_id: int, bundle_id: int) -> Response:
    """The bundle zip."""
    return _bundle_file(bundles.get(get_session(), bundle_id=bundle_id, incident_id=incident_id))


@api.get("/grants")
@document(tag="reports")
@requires(APPROVE)
def api_grants(incident_id: int) -> Response:
    """The incident's regulator grants."""
    now = _clock().now()
    return jsonify({"grants": [sharing.to_json(gr, now=now)
                               for gr in sharing.for_incident(get_session(), incident_id=incident_id)]})


@api.post("/grants")
@document(json=ShareInput, ok=201, tag="reports")
@requires(APPROVE)
def api_share(incident_id: int) -> tuple[Response, int]:
    """Share: ``{"bundle_ids", "regulator_name", "expires_at", "regulator_email"?, "user_email"?}``; 201 with
    the link token (shown once) and its URL, or account access."""
    grant, token = _share(incident_id, _object(json_body()))
    link = url_for("reports_public.link", token=token, _external=True) if token else None
    return jsonify({"grant": sharing.to_json(grant, now=_clock().now()), "token": token, "url": link}), 201


@api.post("/grants/<int:grant_id>/revoke")
@document(tag="reports", errors=(409,))
@requires(APPROVE)
def api_revoke(incident_id: int, grant_id: int) -> Response:
    """Revoke a grant."""
    grant = sharing.revoke(get_session(), clock=_clock(), actor=g.user.actor, grant_id=grant_id,
                           incident_id=incident_id)
    return jsonify(sharing.to_json(grant, now=_clock().now()))


# --- public: signing key, report schemas and regulator links -------------------------------------------

@public.get("/.well-known/breach-notify/signing-key")
def signing_key() -> Response:
    """The bundle verification key (Ed25519, SubjectPublicKeyInfo PEM)."""
    return Response(public_pem(app_signing_key(_app())), mimetype="application/x-pem-file")


@public.get("/schemas/reports/<report_type>.json")
def schema(report_type: str) -> Response:
    """The JSON Schema of a report type's exported JSON (its ``$id`` is this URL); 404 for an unknown type."""
    if report_type not in REPORT_TYPES:
        raise NotFound(f"no report type {report_type!r}; known: {', '.join(sorted(REPORT_TYPES))}")
    url = exports.schema_url(current_app.config["PUBLIC_URL"], report_type)
    return Response(exports.published_schema(report_type, url=url), mimetype="application/schema+json")


@public.get("/r/<token>")
def link(token: str) -> str:
    """The bundles shared through this link (404 unknown, 403 expired or revoked)."""
    session = get_session()
    grant = sharing.by_token(session, clock=_clock(), token=token)
    return render_template("reports/shared.html", grants=[grant], token=token,
                           bundles=sharing.shared_bundles(session, [grant]))


@public.get("/r/<token>/bundles/<int:bundle_id>")
def link_download(token: str, bundle_id: int) -> Response:
    """Download one shared bundle (audited)."""
    session = get_session()
    grant = sharing.by_token(session, clock=_clock(), token=token)
    bundle = sharing.download(session, clock=_clock(), actor=f"link:grant:{grant.id}", grants=[grant],
                              bundle_id=bundle_id)
    return _bundle_file(bundle)


@regulator.get("/regulator")
@requires(REGULATOR)
def regulator_index() -> str:
    """The bundles granted to the signed-in regulator account."""
    session = get_session()
    grants = sharing.for_user(session, clock=_clock(), user_id=g.user.id)
    return render_template("reports/shared.html", grants=grants, token=None,
                           bundles=sharing.shared_bundles(session, grants))


@regulator.get("/regulator/bundles/<int:bundle_id>")
@requires(REGULATOR)
def regulator_download(bundle_id: int) -> Response:
    """Download one bundle granted to the account (audited)."""
    session = get_session()
    grants = sharing.for_user(session, clock=_clock(), user_id=g.user.id)
    return _bundle_file(sharing.download(session, clock=_clock(), actor=g.user.actor, grants=grants,
                                         bundle_id=bundle_id))


def regimes() -> list[str]:
    """Regimes with a regulator report type."""
    return sorted(REGIME_REPORT)


def flash_error(exc: BreachNotifyError) -> None:
    """Flash a refused action's message (and details) for the next page."""
    get_session().rollback()
    details = "; ".join(f"{d.get('path')}: {d.get('reason')}" for d in exc.details)
    flash(exc.message + (f" ({details})" if details and details not in exc.message else ""), "error")

