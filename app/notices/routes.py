"""Notice routes: the JSON API under ``/api/incidents/<id>/notices`` and the pages under
``/incidents/<id>/notices``. Routes parse, call one service function, and render.

Roles: reading needs ``READ``; saving facts, drafting, submitting and previewing ``RESPOND``; approving
``APPROVE`` (privacy officer or admin). The service refuses an approval by the drafter or submitter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, redirect, render_template, request, url_for
from pydantic import BaseModel, ConfigDict, RootModel
from pydantic import ValidationError as PydanticValidationError
from werkzeug.wrappers import Response

from app.accounts.access import APPROVE, READ, RESPOND, requires
from app.config import flag
from app.db import get_session
from app.errors import BreachNotifyError, InvalidInput, NotFound
from app.incidents import service as incidents
from app.incidents.routes import json_body
from app.notices import service
from app.notices.checks import (
    DEFAULT_MAX_GRADE,
    DEFAULT_MAX_GRADE_DE,
    DEFAULT_MAX_SMS_SEGMENTS,
    DEFAULT_MIN_EASE_FR,
    ReadabilityLimits,
)
from app.notices.context import Recipient
from app.notices.drafting import SAMPLE_LINK, Drafting
from app.notices.form import FIELDS, document_from_form, form_values
from app.notices.letters import html_to_pdf, letter_html
from app.notices.recipients import recipient_for
from app.notices.rendering import CHANNELS, NoticeRenderer
from app.notices.service import FactsInput
from app.openapi import StateQuery, SubjectRef, document
from app.playbooks.schema import AudienceName

api = Blueprint("notices_api", __name__, url_prefix="/api/incidents/<int:incident_id>/notices")
ui = Blueprint("notices_ui", __name__)
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "notices"


def app_drafting(app: Flask) -> Drafting:
    """The app's ``Drafting``: templates from ``NOTICE_TEMPLATES_DIR`` (default ``templates/notices``),
    readability limits ``NOTICE_MAX_GRADE`` (en), ``NOTICE_MAX_GRADE_DE`` and ``NOTICE_MIN_EASE_FR``, SMS
    limit ``NOTICE_MAX_SMS_SEGMENTS`` and ``NOTICE_SMS_NORMALISE`` (``app.config.SETTINGS``); built once per
    app."""
    drafting: Drafting | None = app.extensions.get("notice_drafting")
    if drafting is None:
        config = app.config
        limits = ReadabilityLimits(en=float(config.get("NOTICE_MAX_GRADE", DEFAULT_MAX_GRADE)),
                                   de=float(config.get("NOTICE_MAX_GRADE_DE", DEFAULT_MAX_GRADE_DE)),
                                   fr=float(config.get("NOTICE_MIN_EASE_FR", DEFAULT_MIN_EASE_FR)))
        drafting = Drafting(renderer=NoticeRenderer(config.get("NOTICE_TEMPLATES_DIR") or TEMPLATES_DIR),
                            playbooks=app.extensions["playbooks"], readability=limits,
                            max_sms_segments=int(config.get("NOTICE_MAX_SMS_SEGMENTS", DEFAULT_MAX_SMS_SEGMENTS)),
                            sms_normalise=flag(config.get("NOTICE_SMS_NORMALISE", True), "NOTICE_SMS_NORMALISE"))
        app.extensions["notice_drafting"] = drafting
    return drafting


def _drafting() -> Drafting:
    return app_drafting(current_app._get_current_object())  # type: ignore[attr-defined]


def _clock() -> Any:
    return current_app.extensions["clock"]


class DraftInput(BaseModel):
    """Body of ``POST .../draft``; ``regimes`` default to those with a required obligation for ``audience``."""

    model_config = ConfigDict(extra="forbid")

    audience: AudienceName = AudienceName.individuals
    regimes: list[str] | None = None
    channels: list[str] | None = None
    locales: list[str] | None = None


class PreviewInput(RootModel[SubjectRef | Recipient]):
    """Body of preview and letter: ``{"subject_id": N}`` (a real subject of the incident) or a ``Recipient``."""


def _validate(model: type[BaseModel], data: Any, prefix: str = "") -> Any:
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", details=[{"path": "", "reason": "expected an object"}])
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise InvalidInput.from_pydantic(exc, prefix) from exc


def _draft(incident_id: int, body: DraftInput) -> list[Any]:
    session = get_session()
    audience = body.audience.value
    regimes = body.regimes or service.required_regimes(session, incident_id=incident_id, audience=audience)
    if not regimes:
        raise InvalidInput(f"incident {incident_id} has no required {audience} obligation: name the regimes",
                           details=[{"path": "regimes", "reason": "empty"}])
    return service.draft(session, clock=_clock(), actor=g.user.actor, incident_id=incident_id,
                         audience=audience, regimes=regimes, drafting=_drafting(), channels=body.channels,
                         locales=body.locales)


def _preview_json(preview: service.Preview) -> dict[str, Any]:
    return {"version_id": preview.version_id, "channel": preview.channel, "locale": preview.locale,
            "parts": dict(preview.parts), "sms": preview.sms, "blocking": preview.blocking,
            "warnings": preview.warnings}


@api.get("/facts")
@document(tag="notices")
@requires(READ)
def api_get_facts(incident_id: int) -> Response:
    """The incident's notice facts (404 when none were saved)."""
    row = service.get_facts(get_session(), incident_id=incident_id)
    if row is None:
        raise NotFound(f"incident {incident_id} has no notice facts yet")
    return jsonify(service.facts_to_json(row))


@api.put("/facts")
@document(json=FactsInput, tag="notices")
@requires(RESPOND)
def api_put_facts(incident_id: int) -> Response:
    """Save the facts (``service.FactsInput``); live notices are drafted again (``redrafted``)."""
    row, redrafted = service.save_facts(get_session(), clock=_clock(), actor=g.user.actor, incident_id=incident_id,
                                        data=json_body(), drafting=_drafting())
    return jsonify({**service.facts_to_json(row), "redrafted": [service.to_json(v) for v in redrafted]})


@api.post("/draft")
@document(json=DraftInput, ok=201, tag="notices")
@requires(RESPOND)
def api_draft(incident_id: int) -> tuple[Response, int]:
    """Draft versions: ``{"audience", "regimes", "channels", "locales"}`` (all optional); 201."""
    rows = _draft(incident_id, _validate(DraftInput, json_body()))
    return jsonify({"versions": [service.to_json(v) for v in rows]}), 201


@api.get("")
@document(query=StateQuery, tag="notices")
@requires(READ)
def api_versions(incident_id: int) -> Response:
    """The incident's notice versions (``?state=`` filters)."""
    rows = service.versions(get_session(), incident_id=incident_id, state=request.args.get("state"))
    return jsonify({"versions": [service.to_json(v) for v in rows]})


@api.get("/<int:version_id>")
@document(tag="notices")
@requires(READ)
def api_version(incident_id: int, version_id: int) -> Response:
    """One version with its rendered sample text, template sources and facts snapshot."""
    version = service.get_version(get_session(), version_id=version_id, incident_id=incident_id)
    return jsonify(service.to_json(version, with_text=True))


@api.post("/<int:version_id>/submit")
@document(tag="notices", errors=(409,))
@requires(RESPOND)
def api_submit(incident_id: int, version_id: int) -> Response:
    """Submit a draft for approval."""
    service.get_version(get_session(), version_id=version_id, incident_id=incident_id)
    return jsonify(service.to_json(service.submit(get_session(), clock=_clock(), actor=g.user.actor,
                                                  version_id=version_id)))


@api.post("/<int:version_id>/approve")
@document(tag="notices", errors=(409,))
@requires(APPROVE)
def api_approve(incident_id: int, version_id: int) -> Response:
    """Approve and lock (403 for the drafter or submitter, 409 listing what is missing)."""
    service.get_version(get_session(), version_id=version_id, incident_id=incident_id)
    return jsonify(service.to_json(service.approve(get_session(), clock=_clock(), actor=g.user.actor,
                                                   version_id=version_id, drafting=_drafting())))


def _recipient(incident_id: int, body: Any) -> Recipient:
    if isinstance(body, dict) and set(body) == {"subject_id"}:
        ref: SubjectRef = _validate(SubjectRef, body)
        return recipient_for(get_session(), cipher=current_app.extensions["keys"].cipher(), incident_id=incident_id,
                             subject_id=ref.subject_id, origin=current_app.config.get("LETTER_ORIGIN", "US"))
    recipient: Recipient = _validate(Recipient, body, "recipient.")
    return recipient


@api.post("/<int:version_id>/preview")
@document(json=PreviewInput, tag="notices")
@requires(RESPOND)
def api_preview(incident_id: int, version_id: int) -> Response:
    """Render for a recipient: ``{"subject_id": N}`` (a real subject of the incident) or ``Recipient`` JSON;
    answers parts, SMS segments, warnings."""
    recipient = _recipient(incident_id, json_body())
    service.get_version(get_session(), version_id=version_id, incident_id=incident_id)
    return jsonify(_preview_json(service.preview(get_session(), clock=_clock(), version_id=version_id,
                                                 recipient=recipient, drafting=_drafting())))


@api.post("/<int:version_id>/letter")
@document(json=PreviewInput, tag="notices")
@requires(RESPOND)
def api_letter(incident_id: int, version_id: int) -> Response:
    """A letter version as PDF for one recipient: ``{"subject_id": N}`` or ``Recipient`` JSON with
    ``postal_address``."""
    recipient = _recipient(incident_id, json_body())
    version = service.get_version(get_session(), version_id=version_id, incident_id=incident_id)
    pdf = html_to_pdf(letter_html(version, recipient, notice_date=_clock().now().date()))
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="notice-{version_id}.pdf"'})


def _index(incident_id: int, *, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
           status: int = 200) -> tuple[str, int]:
    session = get_session()
    incident = incidents.get(session, incident_id=incident_id)
    row = service.get_facts(session, incident_id=incident_id)
    stored = service.facts_to_json(row) if row else None
    return render_template(
        "notices_ui/index.html", incident=incident, facts=row, fields=FIELDS, errors=errors or {},
        values=values if values is not None else form_values(stored), channels=list(CHANNELS),
        versions=service.versions(session, incident_id=incident_id), regimes=sorted(_drafting().playbooks),
        required=service.required_regimes(session, incident_id=incident_id, audience="individuals")), status


def _errors(exc: InvalidInput) -> dict[str, str]:
    return {d["path"]: d["reason"] for d in exc.details} or {"": exc.message}


@ui.get("/incidents/<int:incident_id>/notices")
@requires(READ)
def index(incident_id: int) -> tuple[str, int]:
    """Facts form, draft form and the list of versions with state and check results."""
    return _index(incident_id)


@ui.post("/incidents/<int:incident_id>/notices/facts")
@requires(RESPOND)
def save_facts(incident_id: int) -> tuple[str, int] | Response:
    """Save the facts form (re-rendered with the errors per field on 422)."""
    try:
        service.save_facts(get_session(), clock=_clock(), actor=g.user.actor, incident_id=incident_id,
                           data=document_from_form(request.form), drafting=_drafting())
    except InvalidInput as exc:
        get_session().rollback()
        values = {f.path: (f.path in request.form) if f.kind == "bool" else request.form.get(f.path, "")
                  for f in FIELDS}
        return _index(incident_id, values=values, errors=_errors(exc), status=422)
    return redirect(url_for("notices_ui.index", incident_id=incident_id))


@ui.post("/incidents/<int:incident_id>/notices/draft")
@requires(RESPOND)
def draft(incident_id: int) -> Response:
    """Draft from the form's regimes, channels and locales (comma-separated)."""
    locales = [t.strip() for t in request.form.get("locales", "").split(",") if t.strip()]
    body = DraftInput(audience=AudienceName.individuals, regimes=request.form.getlist("regimes") or None,
                      channels=request.form.getlist("channels") or None, locales=locales or None)
    _draft(incident_id, body)
    return redirect(url_for("notices_ui.index", incident_id=incident_id) + "#versions")


def _version_page(incident_id: int, version_id: int, *, preview: Any = None, error: BreachNotifyError | None = None,
                  recipient: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    session = get_session()
    version = service.get_version(session, version_id=version_id, incident_id=incident_id)
    return render_template("notices_ui/version.html", incident=incidents.get(session, incident_id=incident_id),
                           version=version, preview=preview, error=error, sample_link=SAMPLE_LINK,
                           recipient=recipient or {}), status


@ui.get("/incidents/<int:incident_id>/notices/<int:version_id>")
@requires(READ)
def version(incident_id: int, version_id: int) -> tuple[str, int]:
    """A version: rendered sample parts, checks, submit/approve and a preview form."""
    return _version_page(incident_id, version_id)


@ui.post("/incidents/<int:incident_id>/notices/<int:version_id>/submit")
@requires(RESPOND)
def submit(incident_id: int, version_id: int) -> Response:
    """Submit for approval."""
    service.get_version(get_session(), version_id=version_id, incident_id=incident_id)
    service.submit(get_session(), clock=_clock(), actor=g.user.actor, version_id=version_id)
    return redirect(url_for("notices_ui.version", incident_id=incident_id, version_id=version_id))


@ui.post("/incidents/<int:incident_id>/notices/<int:version_id>/approve")
@requires(APPROVE)
def approve(incident_id: int, version_id: int) -> tuple[str, int] | Response:
    """Approve; a refusal re-renders the version page with the reasons (403 or 409)."""
    service.get_version(get_session(), version_id=version_id, incident_id=incident_id)
    try:
        service.approve(get_session(), clock=_clock(), actor=g.user.actor, version_id=version_id,
                        drafting=_drafting())
    except BreachNotifyError as exc:
        get_session().rollback()
        return _version_page(incident_id, version_id, error=exc, status=exc.status)
    return redirect(url_for("notices_ui.version", incident_id=incident_id, version_id=version_id))


@ui.post("/incidents/<int:incident_id>/notices/<int:version_id>/preview")
@requires(RESPOND)
def preview(incident_id: int, version_id: int) -> tuple[str, int]:
    """Preview for a sample recipient typed into the form (real subjects come with the subjects work)."""
    service.get_version(get_session(), version_id=version_id, incident_id=incident_id)
    form = {k: request.form.get(k, "").strip() for k in ("full_name", "preferred_language", "enrolment_code",
                                                         "postal_address")}
    data = {"full_name": form["full_name"], "personal_link": SAMPLE_LINK,
            "preferred_language": form["preferred_language"] or None, "enrolment_code": form["enrolment_code"] or None,
            "postal_address": form["postal_address"].splitlines()}
    try:
        recipient = _validate(Recipient, data, "recipient.")
        result = service.preview(get_session(), clock=_clock(), version_id=version_id, recipient=recipient,
                                 drafting=_drafting())
    except InvalidInput as exc:
        return _version_page(incident_id, version_id, error=exc, recipient=form, status=422)
    return _version_page(incident_id, version_id, preview=result, recipient=form)


@ui.app_template_global("notice_counts")
def notice_counts(incident_id: int) -> dict[str, int]:
    """``{state: count}`` of the incident's notice versions, for the incident page's section."""
    return service.state_counts(get_session(), incident_id=incident_id)
