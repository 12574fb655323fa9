"""Dispatch routes: the Twilio webhooks (public, verified by signature: SMS status, and for voice calls the
answer TwiML, the key-press menu and the call status), the dispatch page and section of an incident, the
dispatch API (progress, plan, start, pause, resume, cancel) and the sandbox outbox viewer.

Roles: reading progress needs ``READ``; planning, starting, pausing, resuming, cancelling ``RESPOND``; the
outbox viewer (full messages with contact data of the rehearsal) ``RESPOND``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, g, jsonify, redirect, render_template, request, url_for
from pydantic import ValidationError
from werkzeug.wrappers import Response

from app.accounts.access import READ, RESPOND, requires
from app.channels.base import ReceiptUpdate
from app.channels.registry import build_twilio
from app.channels.twilio_sms import ForgedCallback, MalformedCallback, parse_status_callback, verified_params
from app.channels.twilio_voice import parse_call_status
from app.db import get_session
from app.dispatch import runs, sandbox_store, voice
from app.dispatch.history import history
from app.dispatch.outcomes import apply_receipt
from app.dispatch.progress import progress
from app.dispatch.settings import VOICE_ANSWER_PATH, VOICE_GATHER_PATH, VOICE_STATUS_PATH, WEBHOOK_PATH
from app.dispatch.wiring import policy_for, run_request, settings_for
from app.errors import InvalidInput, NotFound
from app.incidents import service as incidents
from app.incidents.routes import json_body
from app.openapi import DispatchInput, document

webhooks = Blueprint("dispatch_webhooks", __name__)
api = Blueprint("dispatch_api", __name__, url_prefix="/api/incidents/<int:incident_id>/dispatch")
ui = Blueprint("dispatch_ui", __name__)
T = TypeVar("T")


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]


def _clock() -> Any:
    return current_app.extensions["clock"]


def _signed_url() -> str:
    """The public URL Twilio signed: our public base URL, the path and the query string."""
    query = request.query_string.decode("latin-1")
    return settings_for(_app()).public_url.rstrip("/") + request.path + (f"?{query}" if query else "")


def _twilio_token() -> str | None:
    """The Twilio auth token (the key of every Twilio signature), or None when Twilio is not configured."""
    return settings_for(_app()).channels.get("TWILIO_AUTH_TOKEN") or None


def _verified(parse: Callable[[str, Mapping[str, str], str | None, str], T]) -> T | Response:
    """``parse(url, form, signature, token)`` of a Twilio webhook, or the error response: 404 without Twilio
    settings, 403 for a bad signature (nothing changes), 400 malformed."""
    token = _twilio_token()
    if not token:
        return Response("Twilio is not configured", status=404)
    try:
        return parse(_signed_url(), request.form, request.headers.get("X-Twilio-Signature"), token)
    except ForgedCallback:
        return Response("signature does not match", status=403)
    except MalformedCallback as exc:
        return Response(str(exc), status=400)


def _receipt(parse: Callable[[str, Mapping[str, str], str | None, str], ReceiptUpdate]) -> Response:
    """Verify (``_verified``) and apply one Twilio status callback; 204 when applied."""
    receipt = _verified(parse)
    if isinstance(receipt, Response):
        return receipt
    apply_receipt(get_session(), receipt=receipt, policy=policy_for(_app()), now=_clock().now())
    return Response(status=204)


@webhooks.post(WEBHOOK_PATH)
def twilio_status() -> Response:
    """Twilio message status callback (see ``_receipt``)."""
    return _receipt(parse_status_callback)


def _voice_request() -> tuple[dict[str, str], int] | Response:
    """The verified form and our delivery id (``?ref=``) of a voice webhook, or the error response
    (``_verified``'s, or 400 without a numeric ref)."""
    params = _verified(verified_params)
    if isinstance(params, Response):
        return params
    ref = request.args.get("ref", "")
    return (params, int(ref)) if ref.isdigit() else Response("missing ref", status=400)


def _twiml(document: str) -> Response:
    return Response(document, mimetype="application/xml")


@webhooks.post(VOICE_ANSWER_PATH)
def voice_answer() -> Response:
    """TwiML for an answered call: the spoken notice and menu, or the voicemail variant (``AnsweredBy``)."""
    checked = _voice_request()
    if isinstance(checked, Response):
        return checked
    params, delivery_id = checked
    return _twiml(voice.answer(get_session(), cipher=current_app.extensions["keys"].cipher(),
                               settings=settings_for(_app()), delivery_id=delivery_id,
                               answered_by=params.get("AnsweredBy"), now=_clock().now()))


@webhooks.post(VOICE_GATHER_PATH)
def voice_gather() -> Response:
    """TwiML after a key press: 1 plays the notice again, 2 sends the personal link by SMS."""
    checked = _voice_request()
    if isinstance(checked, Response):
        return checked
    params, delivery_id = checked
    settings = settings_for(_app())
    sms = build_twilio(settings.channels) if params.get("Digits") == "2" else None
    try:
        return _twiml(voice.gather(get_session(), cipher=current_app.extensions["keys"].cipher(), settings=settings,
                                   delivery_id=delivery_id, digits=params.get("Digits", ""), sms=sms,
                                   now=_clock().now()))
    finally:
        if sms is not None:
            sms.close()


@webhooks.post(VOICE_STATUS_PATH)
def voice_status() -> Response:
    """Call status callback (see ``_receipt``), mapped under the configured answering-machine policy."""
    policy = settings_for(_app()).voice_machine
    return _receipt(lambda url, form, signature, token: parse_call_status(url, form, signature, token,
                                                                          policy=policy))


@api.get("")
@document(tag="dispatch")
@requires(READ)
def api_progress(incident_id: int) -> Response:
    """Progress of the incident's newest run (404 when none)."""
    session = get_session()
    run = runs.latest_run(session, incident_id=incident_id)
    if run is None:
        raise NotFound(f"incident {incident_id} has no dispatch run")
    return jsonify(progress(session, clock=_clock(), run=run).as_dict())


def _request_from(values: Any) -> runs.RunRequest:
    """A run request from a JSON body or query string checked as ``DispatchInput``; ``InvalidInput`` names a bad
    or unknown field, or a body that is not an object (and, from ``run_request``, an unknown channel)."""
    try:
        given = DispatchInput.model_validate(values)
    except ValidationError as exc:
        raise InvalidInput.from_pydantic(exc) from exc
    return run_request(_app(), chain=given.chain or None, regime=given.regime or None)


@api.get("/plan")
@document(query=DispatchInput, tag="dispatch", errors=(409,))
@requires(RESPOND)
def api_plan(incident_id: int) -> Response:
    """How long each channel takes at its configured rate and whether that beats the earliest deadline for
    individuals (``runs.plan``); nothing is written."""
    session = get_session()
    return jsonify(runs.plan(session, clock=_clock(), incident_id=incident_id,
                             request=_request_from(request.args.to_dict())))


@api.post("")
@document(json=DispatchInput, ok=201, tag="dispatch")
@requires(RESPOND)
def api_start(incident_id: int) -> tuple[Response, int]:
    """Start a dispatch run of the approved notices (409 while another run is live, without approved notices,
    or when everyone was already sent them); answers the new run's progress."""
    session = get_session()
    run = runs.start(session, clock=_clock(), actor=g.user.actor, incident_id=incident_id,
                     request=_request_from(json_body() or {}))
    return jsonify(progress(session, clock=_clock(), run=run).as_dict()), 201


@api.post("/<int:run_id>/<action>")
@document(tag="dispatch", errors=(409,))
@requires(RESPOND)
def api_control(incident_id: int, run_id: int, action: str) -> Response:
    """``action`` ``pause``, ``resume`` or ``cancel`` (else 422) of a run (409 from a state that does not allow
    it); answers its progress."""
    session = get_session()
    runs.get_run(session, run_id=run_id, incident_id=incident_id)
    run = runs.control(session, clock=_clock(), actor=g.user.actor, run_id=run_id, action=action)
    return jsonify(progress(session, clock=_clock(), run=run).as_dict())


@ui.app_template_global("dispatch_summary")
def dispatch_summary(incident_id: int) -> dict[str, Any] | None:
    """The newest run's progress for the incident page's section, or None."""
    session = get_session()
    run = runs.latest_run(session, incident_id=incident_id)
    return None if run is None else progress(session, clock=_clock(), run=run).as_dict()


@ui.get("/incidents/<int:incident_id>/dispatch/progress.json")
@requires(READ)
def progress_json(incident_id: int) -> Response:
    """The page's live data: ``{"progress": Progress | null, "history": history() | null}`` of the newest
    run (session-authenticated, for the progress bar and the delivery chart)."""
    session = get_session()
    incidents.get(session, incident_id=incident_id)
    run = runs.latest_run(session, incident_id=incident_id)
    if run is None:
        return jsonify({"progress": None, "history": None})
    return jsonify({"progress": progress(session, clock=_clock(), run=run).as_dict(),
                    "history": history(session, clock=_clock(), run=run)})


@ui.get("/incidents/<int:incident_id>/dispatch")
@requires(READ)
def page(incident_id: int) -> str:
    """Plan (when no run is live; ``?regime=`` plans that regime's notices), progress, and the controls."""
    session = get_session()
    incident = incidents.get(session, incident_id=incident_id)
    run = runs.latest_run(session, incident_id=incident_id)
    current = None if run is None else progress(session, clock=_clock(), run=run).as_dict()
    plan, problem = None, None
    if run is None or run.state not in runs.LIVE_RUN:
        try:
            plan = runs.plan(session, clock=_clock(), incident_id=incident_id,
                             request=run_request(_app(), regime=request.args.get("regime") or None))
        except Exception as exc:  # no approved notices or facts yet: say so on the page
            problem = getattr(exc, "message", str(exc))
    return render_template("dispatch/page.html", incident=incident, run=run, progress=current, plan=plan,
                           problem=problem, chain=",".join(settings_for(_app()).chain))


@ui.post("/incidents/<int:incident_id>/dispatch/start")
@requires(RESPOND)
def start(incident_id: int) -> Response:
    """Start a run with the form's regime and channel order (both optional)."""
    request_ = run_request(_app(), chain=request.form.get("chain") or None, regime=request.form.get("regime") or None)
    runs.start(get_session(), clock=_clock(), actor=g.user.actor, incident_id=incident_id, request=request_)
    return redirect(url_for("dispatch_ui.page", incident_id=incident_id))


@ui.post("/incidents/<int:incident_id>/dispatch/<int:run_id>/<action>")
@requires(RESPOND)
def control(incident_id: int, run_id: int, action: str) -> Response:
    """Pause, resume or cancel a run."""
    session = get_session()
    runs.get_run(session, run_id=run_id, incident_id=incident_id)
    runs.control(session, clock=_clock(), actor=g.user.actor, run_id=run_id, action=action)
    return redirect(url_for("dispatch_ui.page", incident_id=incident_id))


@ui.get("/dispatch/outbox")
@requires(RESPOND)
def outbox() -> str:
    """The sandbox outbox: the newest recorded messages."""
    items = sandbox_store.recent(get_session(), cipher=current_app.extensions["keys"].cipher(),
                                 channel=request.args.get("channel") or None)
    return render_template("dispatch/outbox.html", items=items)


@ui.get("/dispatch/outbox/<int:message_id>")
@requires(RESPOND)
def outbox_message(message_id: int) -> str:
    """One recorded message in full."""
    item = sandbox_store.one(get_session(), cipher=current_app.extensions["keys"].cipher(), message_id=message_id)
    if item is None:
        raise NotFound(f"sandbox message {message_id} not found")
    return render_template("dispatch/outbox_message.html", item=item)
