"""A loopback Web Push service: it checks VAPID (RFC 8292) and decrypts ``aes128gcm`` payloads (RFC 8291)
like a browser's push service and user agent together, and records what arrived.

``new_subscription()`` generates a user-agent key pair and auth secret and returns the subscription dict a
browser would hand over (``{"endpoint": "http://127.0.0.1:<port>/wpush/<token>", "keys": {...}}``).

``POST /wpush/<token>``: unknown token -> 404; ``Authorization: vapid t=<JWT>,k=<key>`` missing or not an
ES256 JWT signed by ``k`` with ``aud`` equal to this origin, a future ``exp`` (at most 24 h ahead) and a
``sub`` -> 401/403; ``TTL`` header missing -> 400; undecryptable body -> 400. Otherwise 201 with
``Location``. ``fail(token, status, retry_after=...)`` scripts an answer (410, 404, 429, 500); a
``FailurePlan`` answers random 500s (temporary) and 410s (permanent).
"""

from __future__ import annotations

import base64
import os
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from app.sandbox.common import LOOPBACK, FailurePlan, HttpPeer


def _raw_point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class ReceivedPush:
    """One accepted push: subscription ``token``, decrypted ``payload``, ``ttl`` (seconds), ``urgency`` and
    ``topic`` headers (or ``None``), the verified VAPID ``claims`` and the signer's public key ``vapid_key``
    (base64url)."""

    token: str
    payload: bytes
    ttl: int
    urgency: str | None
    topic: str | None
    claims: dict[str, Any]
    vapid_key: str


@dataclass
class _Subscriber:
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes
    scripted: tuple[int, str | None] | None = None


class WebPushPeer:
    """Sandbox push service on a loopback port. ``max_messages`` bounds the kept pushes and
    ``max_subscriptions`` the issued subscriptions."""

    def __init__(self, *, host: str = LOOPBACK, port: int = 0, failures: FailurePlan | None = None,
                 max_messages: int = 10_000, max_subscriptions: int = 100_000) -> None:
        self.failures = failures or FailurePlan()
        self._subscribers: dict[str, _Subscriber] = {}
        self._max_subscriptions = max_subscriptions
        self._pushes: deque[ReceivedPush] = deque(maxlen=max_messages)
        self._lock = threading.Lock()
        self._routes = Map([Rule("/wpush/<token>", endpoint="push", methods=["POST"])])
        self._http = HttpPeer(self._wsgi, host=host, port=port)

    @property
    def url(self) -> str:
        """Base URL and VAPID audience (``http://127.0.0.1:<port>``)."""
        return self._http.url

    def new_subscription(self) -> dict[str, Any]:
        """A fresh ``PushSubscription`` JSON (endpoint + ``p256dh`` + ``auth``) that pushes to this peer.

        Raises ``RuntimeError`` beyond ``max_subscriptions``."""
        private_key = ec.generate_private_key(ec.SECP256R1())
        auth_secret = os.urandom(16)
        token = secrets.token_urlsafe(16)
        with self._lock:
            if len(self._subscribers) >= self._max_subscriptions:
                raise RuntimeError("sandbox push peer: too many subscriptions")
            self._subscribers[token] = _Subscriber(private_key, auth_secret)
        return {"endpoint": f"{self.url}/wpush/{token}",
                "keys": {"p256dh": _b64u(_raw_point(private_key.public_key())),
                         "auth": _b64u(auth_secret)}}

    def fail(self, subscription: dict[str, Any] | str, status: int, *, retry_after: str | None = None) -> None:
        """Answer pushes to this subscription (dict or token) with ``status`` (e.g. 410, 404, 429, 500)."""
        token = _token(subscription)
        with self._lock:
            self._subscribers[token].scripted = (status, retry_after)

    @property
    def pushes(self) -> list[ReceivedPush]:
        """Accepted pushes, oldest first."""
        with self._lock:
            return list(self._pushes)

    def clear(self) -> None:
        """Forget pushes (subscriptions stay)."""
        with self._lock:
            self._pushes.clear()

    def start(self) -> None:
        """Serve in a background thread (idempotent)."""
        self._http.start()

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        self._http.stop()

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            _endpoint, args = self._routes.bind_to_environ(environ).match()
        except HTTPException as exc:
            response: Response = Response(exc.description or "", status=exc.code or 404)
        else:
            response = self._push(request, args["token"])
        return response(environ, start_response)

    def _push(self, request: Request, token: str) -> Response:
        with self._lock:
            subscriber = self._subscribers.get(token)
        if subscriber is None:
            return Response("no such subscription", status=404)
        problem, claims, key = self._check_vapid(request)
        if problem is not None:
            return problem
        if subscriber.scripted is not None:
            status, retry_after = subscriber.scripted
            return Response(f"scripted {status}", status=status,
                            headers={"Retry-After": retry_after} if retry_after else None)
        draw = self.failures.draw()
        if draw != "ok":
            return Response("sandbox failure", status=500 if draw == "temporary" else 410)
        ttl_header = request.headers.get("TTL")
        if ttl_header is None or not ttl_header.isdigit():
            return Response("TTL header required", status=400)
        if request.headers.get("Content-Encoding") != "aes128gcm":
            return Response("aes128gcm content encoding required", status=415)
        try:
            payload = http_ece.decrypt(request.get_data(), private_key=subscriber.private_key,
                                       auth_secret=subscriber.auth_secret, version="aes128gcm")
        except Exception:  # http_ece raises ECEException, ValueError or cryptography errors
            return Response("payload does not decrypt", status=400)
        push = ReceivedPush(token, bytes(payload), int(ttl_header), request.headers.get("Urgency"),
                            request.headers.get("Topic"), claims, key)
        with self._lock:
            self._pushes.append(push)
        return Response("", status=201, headers={"Location": f"{self.url}/msg/{uuid.uuid4().hex}"})

    def _check_vapid(self, request: Request) -> tuple[Response | None, dict[str, Any], str]:
        scheme, _, params = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "vapid":
            return Response("VAPID authorization required", status=401), {}, ""
        try:
            fields = dict(part.strip().split("=", 1) for part in params.split(","))
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64u(fields["k"]))
            claims: dict[str, Any] = jwt.decode(fields["t"], public_key, algorithms=["ES256"], audience=self.url,
                                                options={"require": ["exp", "aud", "sub"]})
        except (ValueError, KeyError, jwt.PyJWTError):
            return Response("VAPID token invalid", status=403), {}, ""
        if claims["exp"] > time.time() + 24 * 3600 or not str(claims["sub"]).startswith(("mailto:", "https:")):
            return Response("VAPID claims not acceptable", status=403), {}, ""
        return None, claims, fields["k"]


def _token(subscription: dict[str, Any] | str) -> str:
    if isinstance(subscription, str):
        return subscription
    return str(subscription["endpoint"]).rsplit("/", 1)[1]
