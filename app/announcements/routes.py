"""Public notice pages and feeds (no sign-in, no personal data), and the staff side: decide, publish, withdraw."""

from __future__ import annotations

import datetime as dt
from typing import Any
from xml.etree import ElementTree as ET

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.accounts.access import APPROVE, READ, requires
from app.announcements import service
from app.db import get_session
from app.incidents.routes import json_body
from app.openapi import PublishInput, ReasonInput, document

public = Blueprint("public_notices", __name__, url_prefix="/notices")
api = Blueprint("announcements_api", __name__, url_prefix="/api/incidents")
ui = Blueprint("announcements_ui", __name__)


def _ext(name: str) -> Any:
    return current_app.extensions[name]


def decide(incident_id: int, actor: str | None = None) -> dict[str, Any]:
    """Recompute and store the substitute-notice decision for the incident (as ``actor``, by default the
    signed-in user); used by the reports too, so they read the live decision."""
    return service.decide_for(get_session(), clock=_ext("clock"), actor=actor or g.user.actor,
                              incident_id=incident_id, playbooks=_ext("playbooks"),
                              unit_costs=current_app.config["UNIT_COSTS"])


@public.get("")
def index() -> str:
    """Every published public notice."""
    return render_template("public/index.html", notices=service.published(get_session()))


@public.get("/<slug>")
def page(slug: str) -> str:
    """One public notice in the requested language (``?lang=``), with its posting period."""
    session = get_session()
    notice = service.by_slug(session, slug=slug)
    locale, body = service.body_html(session, notice=notice, locale=request.args.get("lang"))
    return render_template("public/notice.html", notice=notice, locale=locale, body=body)


def _entries() -> list[dict[str, Any]]:
    return [{"id": url_for("public_notices.page", slug=n.slug, _external=True), "title": n.title,
             "url": url_for("public_notices.page", slug=n.slug, _external=True),
             "updated": n.published_at.isoformat().replace("+00:00", "Z")} for n in service.published(get_session())]


@public.get("/feed.json")
def json_feed() -> Response:
    """JSON Feed 1.1 of published notices."""
    items = [{"id": e["id"], "url": e["url"], "title": e["title"], "date_published": e["updated"],
              "content_text": e["title"]} for e in _entries()]
    response = jsonify({"version": "https://jsonfeed.org/version/1.1", "title": "Data breach notices",
                        "home_page_url": url_for("public_notices.index", _external=True),
                        "feed_url": url_for("public_notices.json_feed", _external=True), "items": items})
    response.mimetype = "application/feed+json"
    return response


@public.get("/feed.atom")
def atom_feed() -> Response:
    """Atom (RFC 4287) feed of published notices."""
    ns = "http://www.w3.org/2005/Atom"
    feed = ET.Element("feed", xmlns=ns)
    entries = _entries()
    ET.SubElement(feed, "id").text = url_for("public_notices.index", _external=True)
    ET.SubElement(feed, "title").text = "Data breach notices"
    ET.SubElement(feed, "updated").text = entries[0]["updated"] if entries else dt.datetime(
        2000, 1, 1, tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")
    ET.SubElement(feed, "link", href=url_for("public_notices.atom_feed", _external=True), rel="self")
    for e in entries:
        entry = ET.SubElement(feed, "entry")
        ET.SubElement(entry, "id").text = e["id"]
        ET.SubElement(entry, "title").text = e["title"]
        ET.SubElement(entry, "updated").text = e["updated"]
        ET.SubElement(entry, "link", href=e["url"])
        ET.SubElement(ET.SubElement(entry, "author"), "name").text = "breach-notify"
    body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8")
    return Response(body, mimetype="application/atom+xml")


@api.get("/<int:incident_id>/substitute-notice")
@document(tag="substitute notice")
@requires(READ)
def api_decision(incident_id: int) -> Response:
    """The current decision (recomputed now) and the public notice, if published."""
    document = decide(incident_id)
    notice = service.for_incident(get_session(), incident_id=incident_id)
    return jsonify({"decision": document, "public_notice": notice.model_dump(mode="json") if notice else None})


@api.post("/<int:incident_id>/public-notice")
@document(json=PublishInput, ok=201, tag="substitute notice")
@requires(APPROVE)
def api_publish(incident_id: int) -> tuple[Response, int]:
    """Publish from the approved announcement versions (privacy officer)."""
    body = json_body() or {}
    notice = service.publish(get_session(), clock=_ext("clock"), actor=g.user.actor, incident_id=incident_id,
                             decision=decide(incident_id), title=body.get("title") if isinstance(body, dict) else None)
    return jsonify(notice.model_dump(mode="json")), 201


@api.post("/<int:incident_id>/public-notice/withdraw")
@document(json=ReasonInput, tag="substitute notice")
@requires(APPROVE)
def api_withdraw(incident_id: int) -> Response:
    """Withdraw with ``{"reason": ...}``."""
    body = json_body()
    notice = service.withdraw(get_session(), clock=_ext("clock"), actor=g.user.actor, incident_id=incident_id,
                              reason=str(body.get("reason", "")) if isinstance(body, dict) else "")
    return jsonify(notice.model_dump(mode="json"))


@ui.post("/incidents/<int:incident_id>/public-notice")
@requires(APPROVE)
def ui_publish(incident_id: int) -> Response:
    """Form: publish."""
    service.publish(get_session(), clock=_ext("clock"), actor=g.user.actor, incident_id=incident_id,
                    decision=decide(incident_id), title=request.form.get("title") or None)
    return redirect(url_for("incidents_ui.show", incident_id=incident_id) + "#public-notice")


@ui.post("/incidents/<int:incident_id>/public-notice/withdraw")
@requires(APPROVE)
def ui_withdraw(incident_id: int) -> Response:
    """Form: withdraw with a reason."""
    service.withdraw(get_session(), clock=_ext("clock"), actor=g.user.actor, incident_id=incident_id,
                     reason=request.form.get("reason", ""))
    return redirect(url_for("incidents_ui.show", incident_id=incident_id) + "#public-notice")
