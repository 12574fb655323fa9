"""Signing and posting one webhook (Standard Webhooks: https://www.standardwebhooks.com/).

Headers: ``webhook-id`` (the event's ``msg_...`` id, the same on every retry so receivers can de-duplicate),
``webhook-timestamp`` (integer seconds, this attempt) and ``webhook-signature: v1,<base64 HMAC-SHA256>`` over
``{id}.{timestamp}.{body}`` with the base64-decoded ``whsec_...`` secret, computed by the maintained
``standardwebhooks`` package. The request goes to the address the URL check resolved (no second DNS
lookup), follows no redirects and is bounded by ``timeout`` seconds.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import secrets
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from standardwebhooks import Webhook

from app.webhooks.urls import Target

USER_AGENT = "breach-notify-webhooks/1"


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def body_of(payload: Mapping[str, Any]) -> str:
    """The exact body sent (and signed): compact JSON with sorted keys."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def headers_for(*, secret: str, msg_id: str, at: dt.datetime, body: str) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt at ``at`` (aware UTC)."""
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, at, body),
            "content-type": "application/json", "user-agent": USER_AGENT}


@dataclass(frozen=True)
class PostResult:
    """``outcome``: ``delivered`` (2xx), ``temporary_failure`` (other status, timeout, connection error) or
    ``permanent_failure`` (410 Gone); ``status_code``; ``error``; ``retry_after`` seconds; ``duration_ms``."""

    outcome: str
    status_code: int | None
    error: str | None
    retry_after: float | None
    duration_ms: int


class _Pinned(http.client.HTTPConnection):
    """Plain HTTP to a fixed address (the Host header still names the host)."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    """HTTPS to a fixed address, verifying the certificate for the host name (SNI)."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


def _retry_after(value: str | None) -> float | None:
    return float(value) if value and value.strip().isdigit() else None


def post(target: Target, *, body: str, headers: Mapping[str, str], timeout: float) -> PostResult:
    """POST ``body`` to ``target`` (first resolved address); never raises for network or HTTP errors."""
    cls = _PinnedTLS if target.parts.scheme == "https" else _Pinned
    conn = cls(target.host, target.port, address=target.addresses[0], timeout=timeout)
    path = (target.parts.path or "/") + (f"?{target.parts.query}" if target.parts.query else "")
    started = time.monotonic()
    try:
        conn.request("POST", path, body=body.encode(), headers=dict(headers))
        response = conn.getresponse()
        response.read(4096)
        status, retry = response.status, _retry_after(response.getheader("Retry-After"))
    except (OSError, http.client.HTTPException) as exc:
        took = int((time.monotonic() - started) * 1000)
        return PostResult("temporary_failure", None, f"{type(exc).__name__}: {exc}"[:300], None, took)
    finally:
        conn.close()
    took = int((time.monotonic() - started) * 1000)
    if 200 <= status < 300:
        return PostResult("delivered", status, None, None, took)
    outcome = "permanent_failure" if status == 410 else "temporary_failure"
    return PostResult(outcome, status, f"HTTP {status}", retry, took)
