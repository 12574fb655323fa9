"""The letters page of an incident: letters waiting and handed over, the batches with their hashes, making a
batch, importing returned mail. Reading needs ``READ``; making a batch and importing returns ``RESPOND``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, g, render_template, request

from app.accounts.access import READ, RESPOND, requires
from app.db import get_session
from app.errors import BreachNotifyError, InvalidInput
from app.incidents import service as incidents
from app.letters import flows
from app.letters.batches import batches
from app.letters.drops import drop_from_config

ui = Blueprint("letters_ui", __name__)


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]


def _page(incident_id: int, status: int = 200, **extra: Any) -> tuple[str, int]:
    session = get_session()
    try:
        drop = drop_from_config(current_app.config)
    except ValueError:
        drop = None
    return render_template("letters/page.html", incident=incidents.get(session, incident_id=incident_id),
                           counts=flows.letter_counts(session, incident_id=incident_id),
                           batches=batches(session, incident_id=incident_id),
                           drop=drop.describe() if drop else None, **extra), status


@ui.get("/incidents/<int:incident_id>/letters")
@requires(READ)
def page(incident_id: int) -> tuple[str, int]:
    """Letters waiting, batches, and the forms."""
    return _page(incident_id)


@ui.post("/incidents/<int:incident_id>/letters/batch")
@requires(RESPOND)
def make(incident_id: int) -> tuple[str, int]:
    """Hand the waiting letters over as one batch; the page says what happened."""
    outcome = flows.batch(_app(), get_session(), actor=g.user.actor, incident_id=incident_id)
    return _page(incident_id, status=502 if outcome.error else 200, outcome=outcome)


@ui.post("/incidents/<int:incident_id>/letters/returns")
@requires(RESPOND)
def returns(incident_id: int) -> tuple[str, int]:
    """Import a returned-mail CSV; 422 with every bad row by line and field."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _page(incident_id, status=422, problem=InvalidInput("choose a CSV file"))
    try:
        text = upload.read().decode("utf-8-sig")
        report = flows.returns(_app(), get_session(), actor=g.user.actor, incident_id=incident_id, text=text)
    except UnicodeDecodeError:
        return _page(incident_id, status=422, problem=InvalidInput("the file is not UTF-8 text"))
    except BreachNotifyError as exc:
        get_session().rollback()
        return _page(incident_id, status=exc.status, problem=exc)
    return _page(incident_id, report=report)
