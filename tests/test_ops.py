"""``/metrics`` access (its own bearer token, off when unset) and the request id of the JSON logs."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

from flask import Flask

from app import create_app
from app.ops.logs import configure_logging, request_id_from


def test_metrics_are_off_without_a_token_and_need_the_right_one(app: Flask) -> None:
    off = app.test_client().get("/metrics")
    assert off.status_code == 404 and b"BREACH_NOTIFY_METRICS_TOKEN" in off.data
    live = create_app(dict(app.config, METRICS_TOKEN="s3cret-token-value"))
    client = live.test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token-value"})
    assert ok.status_code == 200
    text = ok.get_data(as_text=True)
    assert "breach_notify_import_rows_total 0.0" in text
    assert "# TYPE breach_notify_provider_send_seconds histogram" in text


def test_request_ids_are_echoed_and_logged_as_json(app: Flask, client: Any) -> None:
    stream = io.StringIO()
    configure_logging(level="INFO", fmt="json", stream=stream)
    response = client.get("/api/incidents/7", headers={"X-Request-ID": "abc-12345678"})
    assert response.status_code == 401 and response.headers["X-Request-ID"] == "abc-12345678"
    forged = client.get("/healthz", headers={"X-Request-ID": "bad id <script>"}).headers["X-Request-ID"]
    assert len(forged) == 32 and "<" not in forged
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = [r for r in records if r.get("request_id") == "abc-12345678"]
    assert mine[-1]["event"] == "request" and mine[-1]["status"] == 401 and mine[-1]["incident_id"] == 7
    assert mine[-1]["route"] == "/api/incidents/<int:incident_id>"


def test_request_id_header_is_only_kept_when_it_is_a_short_token() -> None:
    assert request_id_from("abc-12345678") == "abc-12345678"
    assert len(request_id_from("x" * 65)) == 32 and len(request_id_from(None)) == 32


def test_dashboard_queries_only_name_exported_metrics() -> None:
    root = Path(__file__).resolve().parents[1]
    dashboard = json.loads((root / "docs" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    names = {re.sub(r"_(bucket|count|sum|total)$", "", n) for e in exprs for n in re.findall(r"breach_notify_\w+", e)}
    source = (root / "app" / "ops" / "metrics.py").read_text()
    assert len(names) >= 9
    assert not [n for n in names if f'"{n}"' not in source and f'"{n}_total"' not in source]
