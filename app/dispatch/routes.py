"""Dispatch routes: the Twilio status webhook (public, verified by signature), the dispatch page and section
of an incident, the progress API and the sandbox outbox viewer.

Roles: reading progress needs ``READ``; planning, starting, pausing, resuming, cancelling ``RESPOND``; the
outbox viewer (full messages with contact data of the rehearsal) ``RESPOND``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.accounts.access import READ, RESPOND, requires
from app.channels.twilio_sms import ForgedCallback, MalformedCallback, parse_status_callback
from app.db import get_session
from app.dispatch import runs, sandbox_store
from app.dispatch.outcomes import apply_receipt
from app.dispatch.progress import progress
from app.dispatch.settings import WEBHOOK_PATH
from app.dispatch.wiring import policy_for, run_request, settings_for
from app.errors import NotFound
from app.incidents import service as incidents
from app.openapi import document

webhooks = Blueprint("dispatch_webhooks", __name__)
api = Blueprint("dispatch_api", __name__, url_prefix="/api/incidents/<int:incident_id>/dispatch")
ui = Blueprint("dispatch_ui", __name__)


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]


def _clock() -> Any:
    return current_app.extensions["clock"]


@webhooks.post(WEBHOOK_PATH)
def twilio_status() -> Response:
    """Twilio status callback: 403 for a bad signature (nothing changes), 400 malformed, else 204."""
    settings = settings_for(_app())
    token = settings.channels.get("TWILIO_AUTH_TOKEN")
    if not token:
        return Response("SMS is not configured", status=404)
    query = request.query_string.decode("latin-1")
    url = settings.public_url.rstrip("/") + request.path + (f"?{query}" if query else "")
    try:
        receipt = parse_status_callback(url, request.form, request.headers.get("X-Twilio-Signature"), token)
    except ForgedCallback:
        return Response("signature does not match", status=403)
    except MalformedCallback as exc:
        return Response(str(exc), status=400)
    apply_receipt(get_session(), receipt=receipt, policy=policy_for(_app()), now=_clock().now())
    return Response(status=204)


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


@ui.app_template_global("dispatch_summary")
def dispatch_summary(incident_id: int) -> dict[str, Any] | None:
    """The newest run's progress for the incident page's section, or None."""
    session = get_session()
    run = runs.latest_run(session, incident_id=incident_id)
    return None if run is None else progress(session, clock=_clock(), run=run).as_dict()


@ui.get("/incidents/<int:incident_id>/dispatch")
@requires(READ)
def page(incident_id: int) -> str:
    """Plan (when no run is live), progress, and the controls."""
    session = get_session()
    incident = incidents.get(session, incident_id=incident_id)
    run = runs.latest_run(session, incident_id=incident_id)
    current = None if run is None else progress(session, clock=_clock(), run=run).as_dict()
    plan, problem = None, None
    if run is None or run.state not in runs.LIVE_RUN:
        try:
            plan = runs.plan(session, clock=_clock(), incident_id=incident_id, request=run_request(_app()))
        except Exception as exc:  # no approved notices or facts yet: say so on the page
            problem = getattr(exc, "message", str(exc))
    return render_template("dispatch/page.html", incident=incident, run=run, progress=current, plan=plan,
                           problem=problem, chain=",".join(settings_for(_app()).chain))


@ui.post("/incidents/<int:incident_id>/dispatch/start")
@requires(RESPOND)
def start(incident_id: int) -> Response:
    """Start a run with the form's channel order (optional)."""
    request_ = run_request(_app(), chain=request.form.get("chain") or None, regime=request.form.get("regime"))
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
