"""Webhook routes (admins only): the JSON API ``/api/webhooks`` and the page ``/admin/webhooks``.

Routes parse, call one service function and render; shapes are the pydantic models of ``schema.py``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.accounts.access import ADMIN, requires
from app.db import get_session
from app.errors import InvalidInput
from app.incidents.routes import json_body
from app.openapi import LimitQuery, document
from app.webhooks import service
from app.webhooks.events import EVENT_TYPES
from app.webhooks.jobs import settings_for
from app.webhooks.schema import SubscriptionIn, SubscriptionPatch

api = Blueprint("webhooks_api", __name__, url_prefix="/api/webhooks")
ui = Blueprint("webhooks_ui", __name__, url_prefix="/admin/webhooks")


def _ctx() -> dict[str, Any]:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return {"clock": app.extensions["clock"], "actor": g.user.actor}


def _policy() -> Any:
    return settings_for(current_app._get_current_object()).policy  # type: ignore[attr-defined]


@api.get("")
@document(tag="webhooks", path_params=False)
@requires(ADMIN)
def api_list() -> Response:
    """Every subscription (without secrets)."""
    subs = service.list_all(get_session())
    return jsonify({"subscriptions": [service.to_out(s).model_dump(mode="json") for s in subs],
                    "event_types": list(EVENT_TYPES)})


@api.post("")
@document(json=SubscriptionIn, ok=201, tag="webhooks", path_params=False)
@requires(ADMIN)
def api_create() -> tuple[Response, int]:
    """Subscribe a URL (``SubscriptionIn``); 201 with the subscription and its secret, shown only now."""
    sub, secret = service.create(get_session(), **_ctx(), cipher=current_app.extensions["keys"].cipher(),
                                 data=json_body(), policy=_policy())
    return jsonify(service.to_out(sub, secret).model_dump(mode="json")), 201


@api.get("/<int:subscription_id>")
@document(tag="webhooks")
@requires(ADMIN)
def api_show(subscription_id: int) -> Response:
    """One subscription."""
    return jsonify(service.to_out(service.get(get_session(), subscription_id=subscription_id)).model_dump(mode="json"))


@api.patch("/<int:subscription_id>")
@document(json=SubscriptionPatch, tag="webhooks")
@requires(ADMIN)
def api_change(subscription_id: int) -> Response:
    """Change url, events, description or ``active`` (``SubscriptionPatch``)."""
    sub = service.change(get_session(), **_ctx(), subscription_id=subscription_id, data=json_body(),
                         policy=_policy())
    return jsonify(service.to_out(sub).model_dump(mode="json"))


@api.get("/<int:subscription_id>/deliveries")
@document(query=LimitQuery, tag="webhooks")
@requires(ADMIN)
def api_deliveries(subscription_id: int) -> Response:
    """The delivery log: newest first, each delivery with its attempts (``?limit=``, at most 500)."""
    limit = min(500, max(1, request.args.get("limit", 100, type=int) or 100))
    rows = service.deliveries(get_session(), subscription_id=subscription_id, limit=limit)
    return jsonify({"deliveries": [d.model_dump(mode="json") for d in rows]})


@ui.route("", methods=["GET", "POST"])
@requires(ADMIN)
def index() -> tuple[str, int] | str:
    """The subscriptions and a form to add one; the new secret is shown once."""
    session, error, secret = get_session(), None, None
    if request.method == "POST":
        data = {"url": request.form.get("url", ""), "events": request.form.getlist("events"),
                "description": request.form.get("description", "")}
        try:
            _sub, secret = service.create(session, **_ctx(), cipher=current_app.extensions["keys"].cipher(),
                                          data=data, policy=_policy())
        except InvalidInput as exc:
            session.rollback()
            error = exc.message
    page = render_template("webhooks/list.html", subscriptions=service.list_all(session), event_types=EVENT_TYPES,
                           error=error, secret=secret)
    return (page, 422) if error else page


@ui.get("/<int:subscription_id>")
@requires(ADMIN)
def show(subscription_id: int) -> str:
    """One subscription and its delivery log."""
    session = get_session()
    return render_template("webhooks/detail.html", sub=service.get(session, subscription_id=subscription_id),
                           deliveries=service.deliveries(session, subscription_id=subscription_id))


@ui.post("/<int:subscription_id>/active")
@requires(ADMIN)
def set_active(subscription_id: int) -> Response:
    """Pause or resume a subscription."""
    service.change(get_session(), **_ctx(), subscription_id=subscription_id,
                   data={"active": request.form.get("active") == "on"}, policy=_policy())
    return redirect(url_for("webhooks_ui.show", subscription_id=subscription_id))
