"""Outbound webhooks against a real receiver on 127.0.0.1: Standard Webhooks signatures verified with the
``standardwebhooks`` package, retries with backoff after a 500, the delivery log, and URL refusals."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from werkzeug.serving import make_server

from app import create_app
from app.clock import FixedClock
from app.errors import InvalidInput
from app.sandbox.common import HttpPeer
from app.webhooks.jobs import run_once
from app.webhooks.models import WebhookDelivery, WebhookEvent
from app.webhooks.urls import UrlPolicy, check
from tests.dispatch.dispatch_support import running_worker
from tests.support import EXAMPLE_INCIDENT, bearer, csrf_from, login


@dataclass
class Receiver:
    """A webhook receiver: records every request and answers the planned statuses, then 200."""

    plan: list[int] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        with self.lock:
            self.seen.append({"path": environ["PATH_INFO"], "headers": headers, "body": body})
            status = self.plan.pop(0) if self.plan else 200
        start(f"{status} X", [("Content-Type", "text/plain")])
        return [b"ok"]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    handler = Receiver()
    peer = HttpPeer(handler)
    peer.start()
    try:
        yield handler, peer.url
    finally:
        peer.stop()


@pytest.fixture
def live_clock() -> FixedClock:
    """Signatures carry the attempt's time and receivers allow 5 minutes: start the clock at the real now."""
    return FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))


@pytest.fixture
def hook_app(app: Flask, live_clock: FixedClock) -> Flask:
    return create_app(dict(app.config, CLOCK=live_clock, WEBHOOK_ALLOW_PRIVATE="on", WEBHOOK_HTTP_HOSTS="127.0.0.1"))


def _subscribe(client: FlaskClient, admin: Any, url: str, events: list[str]) -> dict[str, Any]:
    response = client.post("/api/webhooks", json={"url": url, "events": events}, headers=bearer(admin))
    assert response.status_code == 201, response.json
    return dict(response.json)


def test_signed_delivery_is_retried_after_a_500_with_backoff(
    hook_app: Flask, receiver: tuple[Receiver, str], live_clock: FixedClock, make_user: Any, session: Session
) -> None:
    handler, base = receiver
    client, admin = hook_app.test_client(), make_user("admin")
    sub = _subscribe(client, admin, f"{base}/hook?team=sec", ["incident.created", "incident.status_changed"])
    assert sub["secret"].startswith("whsec_")
    assert client.get(f"/api/webhooks/{sub['id']}", headers=bearer(admin)).json["secret"] is None
    incident_id = client.post("/api/incidents", json=EXAMPLE_INCIDENT, headers=bearer(admin)).json["id"]

    handler.plan = [500]
    first = run_once(hook_app, worker="test")
    assert first.states == {"failed_temporary": 1}
    assert len(handler.seen) == 1
    delivery = session.exec(select(WebhookDelivery)).one()
    wait = (delivery.next_attempt_at - live_clock.now()).total_seconds()
    assert 15 <= wait <= 30  # attempt 1: full jitter over [base/2, base], DISPATCH_BACKOFF=30

    assert run_once(hook_app, worker="test").states == {}  # not due yet: nothing is sent
    assert len(handler.seen) == 1
    live_clock.advance(31)
    assert run_once(hook_app, worker="test").states == {"delivered": 1}
    assert len(handler.seen) == 2

    a, b = handler.seen
    assert a["headers"]["webhook-id"] == b["headers"]["webhook-id"]  # the same message, retried
    assert a["path"] == "/hook"
    payload = Webhook(sub["secret"]).verify(b["body"], b["headers"])
    assert payload["type"] == "incident.created"
    assert payload["data"] == {"incident_id": incident_id, "status": "detected"}
    assert b["headers"]["webhook-signature"].startswith("v1,")
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(b["body"], b["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook(sub["secret"]).verify(b["body"].replace(b"detected", b"contained"), b["headers"])

    log = client.get(f"/api/webhooks/{sub['id']}/deliveries", headers=bearer(admin)).json["deliveries"]
    assert [(a["outcome"], a["status_code"]) for a in log[0]["log"]] == [("temporary_failure", 500),
                                                                          ("delivered", 200)]
    assert log[0]["state"] == "delivered" and log[0]["attempts"] == 2


def test_status_change_event_and_permanent_failure_after_max_attempts(
    hook_app: Flask, receiver: tuple[Receiver, str], live_clock: FixedClock, make_user: Any, session: Session
) -> None:
    handler, base = receiver
    client, admin = hook_app.test_client(), make_user("admin")
    sub = _subscribe(client, admin, f"{base}/hook", ["incident.status_changed"])
    incident_id = client.post("/api/incidents", json=EXAMPLE_INCIDENT, headers=bearer(admin)).json["id"]
    assert session.exec(select(WebhookEvent)).all() == []  # nobody subscribes to incident.created
    assert client.patch(f"/api/incidents/{incident_id}", json={"status": "triaged"},
                        headers=bearer(admin)).status_code == 200
    handler.plan = [503] * 5
    for _ in range(5):
        run_once(hook_app, worker="test")
        live_clock.advance(3600)
    delivery = session.exec(select(WebhookDelivery)).one()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("failed_permanent", 5, 503)
    last = handler.seen[-1]
    sent_at = dt.datetime.fromtimestamp(int(last["headers"]["webhook-timestamp"]), tz=dt.UTC)
    assert sent_at == live_clock.now() - dt.timedelta(seconds=3600)  # each attempt is signed at its own time
    assert last["headers"]["webhook-signature"] == Webhook(sub["secret"]).sign(
        last["headers"]["webhook-id"], sent_at, last["body"].decode())
    body = json.loads(last["body"])
    assert body["type"] == "incident.status_changed"
    assert body["data"] == {"incident_id": incident_id, "from": "detected", "to": "triaged"}
    assert len(handler.seen) == 5


@pytest.mark.parametrize(("url", "reason"), [
    ("https://10.0.0.5/hook", "10.0.0.5"),
    ("https://127.0.0.1/hook", "127.0.0.1"),
    ("https://169.254.169.254/latest/meta-data", "169.254.169.254"),
    ("https://[::1]/hook", "::1"),
    ("https://100.64.1.1/hook", "100.64.1.1"),
    ("http://example.org/hook", "plain http"),
    ("https://user:pw@example.org/hook", "credentials"),
    ("ftp://example.org/hook", "https://"),
])
def test_private_and_unsafe_urls_are_refused(client: FlaskClient, make_user: Any, url: str, reason: str) -> None:
    response = client.post("/api/webhooks", json={"url": url, "events": ["incident.created"]},
                           headers=bearer(make_user("admin")))
    assert response.status_code == 422
    assert response.json["details"][0]["path"] == "url"
    assert reason in response.json["details"][0]["reason"]


def _resolver(address: str) -> Any:
    def resolve(host: str, port: int, **_kw: Any) -> list[tuple[Any, ...]]:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]
    return resolve


def test_a_name_resolving_to_a_private_address_is_refused_unless_allowed() -> None:
    with pytest.raises(InvalidInput, match=r"resolves to 192\.168\.1\.20"):
        check("https://intranet.example.org/hook", policy=UrlPolicy(), resolve=_resolver("192.168.1.20"))
    with pytest.raises(InvalidInput, match="fd00::1"):
        check("https://intranet.example.org/hook", policy=UrlPolicy(), resolve=_resolver("fd00::1"))
    target = check("https://hooks.example.org/in", policy=UrlPolicy(), resolve=_resolver("93.184.215.14"))
    assert target.addresses == ("93.184.215.14",) and target.port == 443
    allowed = check("https://intranet.example.org/hook", policy=UrlPolicy(allow_private=True),
                    resolve=_resolver("192.168.1.20"))
    assert allowed.addresses == ("192.168.1.20",)


def test_the_send_time_check_refuses_a_url_that_now_reaches_loopback(
    app: Flask, hook_app: Flask, receiver: tuple[Receiver, str], make_user: Any, session: Session
) -> None:
    handler, base = receiver
    client, admin = hook_app.test_client(), make_user("admin")
    _subscribe(client, admin, f"{base}/hook", ["incident.created"])
    client.post("/api/incidents", json=EXAMPLE_INCIDENT, headers=bearer(admin))
    strict = create_app(dict(app.config, CLOCK=hook_app.extensions["clock"], WEBHOOK_HTTP_HOSTS="127.0.0.1"))
    assert run_once(strict, worker="test").states == {"failed_temporary": 1}
    assert handler.seen == []
    assert "127.0.0.1" in (session.exec(select(WebhookDelivery)).one().error or "")


def test_only_admins_manage_webhooks_and_the_page_shows_the_secret_once(
    hook_app: Flask, receiver: tuple[Receiver, str], make_user: Any
) -> None:
    _handler, base = receiver
    client = hook_app.test_client()
    assert client.get("/api/webhooks", headers=bearer(make_user("privacy_officer"))).status_code == 403
    admin = make_user("admin")
    login(client, admin)
    page = client.get("/admin/webhooks").get_data(as_text=True)

    response = client.post("/admin/webhooks", data={"url": f"{base}/page", "events": ["report.exported"],
                                                    "csrf_token": csrf_from(page)})
    assert response.status_code == 200
    assert "whsec_" in response.get_data(as_text=True)
    bad = client.post("/admin/webhooks", data={"url": "http://example.org/x", "events": ["report.exported"],
                                               "csrf_token": csrf_from(page)})
    assert bad.status_code == 422 and "plain http" in bad.get_data(as_text=True)
    listed = client.get("/admin/webhooks").get_data(as_text=True)
    assert f"{base}/page" in listed and "whsec_" not in listed
    sub_id = client.get("/api/webhooks", headers=bearer(admin)).json["subscriptions"][0]["id"]
    assert "No deliveries yet" in client.get(f"/admin/webhooks/{sub_id}").get_data(as_text=True)
    paused = client.post(f"/admin/webhooks/{sub_id}/active", data={"csrf_token": csrf_from(page)})
    assert paused.status_code == 302
    assert client.get(f"/api/webhooks/{sub_id}", headers=bearer(admin)).json["active"] is False


def test_the_dispatch_worker_delivers_webhooks_in_its_own_thread(
    hook_app: Flask, receiver: tuple[Receiver, str], make_user: Any, session: Session
) -> None:
    handler, base = receiver
    client, admin = hook_app.test_client(), make_user("admin")
    sub = _subscribe(client, admin, f"{base}/hook", ["incident.created"])
    client.post("/api/incidents", json=EXAMPLE_INCIDENT, headers=bearer(admin))
    with running_worker(hook_app):
        deadline = time.monotonic() + 20
        while not handler.seen and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(handler.seen) == 1
    assert Webhook(sub["secret"]).verify(handler.seen[0]["body"], handler.seen[0]["headers"])["type"] == \
        "incident.created"


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_https_receiver_gets_a_verified_tls_request(
    app: Flask, live_clock: FixedClock, make_user: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    session: Session
) -> None:
    cert_path, key_path = _self_signed(tmp_path)
    handler = Receiver()
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_path, key_path)
    server = make_server("127.0.0.1", 0, handler, threaded=True, ssl_context=tls)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        hook_app = create_app(dict(app.config, CLOCK=live_clock, WEBHOOK_ALLOW_PRIVATE="on"))
        client, admin = hook_app.test_client(), make_user("admin")
        sub = _subscribe(client, admin, f"https://127.0.0.1:{server.server_port}/tls", ["incident.created"])
        client.post("/api/incidents", json=EXAMPLE_INCIDENT, headers=bearer(admin))
        untrusted = run_once(hook_app, worker="test")  # our certificate is not trusted yet: refused
        assert untrusted.states == {"failed_temporary": 1} and handler.seen == []
        assert "CERTIFICATE_VERIFY_FAILED" in (session.exec(select(WebhookDelivery)).one().error or "")
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
        live_clock.advance(60)
        assert run_once(hook_app, worker="test").states == {"delivered": 1}
    finally:
        server.shutdown()
        thread.join(timeout=5)
    assert handler.seen[0]["path"] == "/tls"
    assert Webhook(sub["secret"]).verify(handler.seen[0]["body"], handler.seen[0]["headers"])["type"] == \
        "incident.created"
