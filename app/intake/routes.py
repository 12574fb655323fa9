"""``POST /api/intake/<source>``: a case from TheHive (``thehive``), DFIR-IRIS (``iris``) or any tool
(``generic``, with the mapping in the body) becomes an incident or updates the linked one.

Authenticates with a bearer token of a user with at least the ``responder`` role (a service account).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify
from werkzeug.wrappers import Response

from app.accounts.access import RESPOND, requires
from app.db import get_session
from app.errors import InvalidInput, NotFound
from app.incidents.routes import json_body
from app.intake import mapping, service
from app.intake.mapping import Rules
from app.openapi import IntakeCase, document

api = Blueprint("intake_api", __name__, url_prefix="/api/intake")
SOURCES = ("thehive", "iris", "generic")


def _base_urls() -> dict[str, str]:
    text = str(current_app.config.get("INTAKE_BASE_URLS") or "")
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {k.strip(): v.strip() for k, v in pairs}


def _rules_and_payload(source: str, body: Any) -> tuple[str, Rules, Any]:
    if source != "generic":
        return source, mapping.load(source), body
    if not isinstance(body, dict) or set(body) != {"mapping", "case"}:
        raise InvalidInput("generic intake needs exactly {\"mapping\": {...}, \"case\": {...}}",
                           details=[{"path": "", "reason": "expected the keys mapping and case"}])
    rules = mapping.parse_rules(body["mapping"])
    return f"generic:{rules.source}", rules, body["case"]


@api.post("/<source>")
@document(json=IntakeCase, ok=201, tag="intake")
@requires(RESPOND)
def receive(source: str) -> tuple[Response, int]:
    """Map the posted case; 201 when an incident was filed, 200 when the linked one was updated or unchanged.
    422 names the field (``case.<path>`` or ``mapping.<path>``); 404 for an unknown source."""
    if source not in SOURCES:
        raise NotFound(f"unknown intake source {source!r}; use one of {', '.join(SOURCES)}")
    name, rules, payload = _rules_and_payload(source, json_body())
    result = service.receive(get_session(), clock=current_app.extensions["clock"], actor=g.user.actor,
                             source=name, rules=rules, payload=payload, playbooks=current_app.extensions["playbooks"],
                             base_url=_base_urls().get(rules.source))
    return jsonify(result.model_dump(mode="json")), 201 if result.action == "created" else 200
