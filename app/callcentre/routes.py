"""The call-centre kit pages: the list per language and each document as HTML or PDF (``READ``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template
from werkzeug.wrappers import Response

from app.accounts.access import READ, requires
from app.callcentre.kit import DOCUMENTS, LOCALES, kit_facts, render_html, render_pdf
from app.db import get_session
from app.errors import NotFound
from app.incidents import service as incidents

ui = Blueprint("callcentre_ui", __name__)


def _today() -> Any:
    return current_app.extensions["clock"].now().date()


@ui.get("/incidents/<int:incident_id>/callcentre")
@requires(READ)
def page(incident_id: int) -> str:
    """Which facts the kit is made from, and links to every document."""
    session = get_session()
    return render_template("callcentre_ui/page.html", incident=incidents.get(session, incident_id=incident_id),
                           kit=kit_facts(session, incident_id=incident_id), locales=LOCALES, documents=DOCUMENTS)


@ui.get("/incidents/<int:incident_id>/callcentre/<locale>/<document>.<fmt>")
@requires(READ)
def document(incident_id: int, locale: str, document: str, fmt: str) -> Response:
    """One document as ``html`` or ``pdf``; 404 for an unknown language, document or format."""
    if fmt not in ("html", "pdf"):
        raise NotFound(f"no format {fmt!r}: html or pdf")
    kit = kit_facts(get_session(), incident_id=incident_id)
    if fmt == "html":
        return Response(render_html(kit, locale=locale, document=document, today=_today()), mimetype="text/html")
    return Response(render_pdf(kit, locale=locale, document=document, today=_today()), mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{document}-{locale}.pdf"'})
