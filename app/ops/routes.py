"""Operations routes: ``/metrics`` for Prometheus, behind ``Authorization: Bearer <BREACH_NOTIFY_METRICS_TOKEN>``."""

from __future__ import annotations

import hmac
import os

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from app import db
from app.ops.metrics import DatabaseCollector

bp = Blueprint("ops", __name__)


def _event_registry() -> CollectorRegistry:
    """This process's registry, or the merged one of every process in multiprocess mode."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def _state_registry() -> CollectorRegistry:
    registry: CollectorRegistry | None = current_app.extensions.get("metrics_registry")
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(DatabaseCollector(engine=db.engine_for(current_app), clock=current_app.extensions["clock"]))
        current_app.extensions["metrics_registry"] = registry
    return registry


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition; 404 when ``METRICS_TOKEN`` is unset, 401 without the right bearer token."""
    token = current_app.config.get("METRICS_TOKEN") or ""
    if not token:  # plain answers, not the sign-in redirect of pages: the caller is a scraper
        return Response("metrics are disabled: set BREACH_NOTIFY_METRICS_TOKEN\n", status=404, mimetype="text/plain")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return Response("metrics need Authorization: Bearer <BREACH_NOTIFY_METRICS_TOKEN>\n", status=401,
                        mimetype="text/plain", headers={"WWW-Authenticate": "Bearer"})
    body = generate_latest(_event_registry()) + generate_latest(_state_registry())
    return Response(body, content_type=CONTENT_TYPE_LATEST)
