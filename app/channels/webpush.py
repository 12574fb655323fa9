"""Web Push (RFC 8030) with VAPID (RFC 8292) and ``aes128gcm`` payload encryption (RFC 8291), via
``pywebpush``.

Push service answers:

* 201/202 (200 too): ``accepted``; ``provider_id`` is the ``Location`` header (the push message resource).
* 404 Not Found / 410 Gone: the subscription has expired or was removed: ``permanent_failure`` with
  ``dead_contact=True`` (delete the subscription; fall back).
* 413 payload too large, 400 bad request: ``permanent_failure`` (not dead).
* 429 too many requests and 5xx: ``temporary_failure`` with ``Retry-After`` honoured.
* 401/403 (VAPID rejected: a key or subject problem on our side): ``temporary_failure``, ``error_code``
  ``"401"``/``"403"``.
* A subscription without a usable endpoint or keys: ``permanent_failure``, ``dead_contact``, code
  ``invalid_subscription``. Network errors: ``temporary_failure`` (``connect``/``timeout``).
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from app.channels.base import OutboundMessage, PushOutbound, SendResult, WrongMessageKind, parse_retry_after

log = logging.getLogger(__name__)



def b64url(data: bytes) -> str:
    """Unpadded base64url (RFC 4648 5), as Web Push keys are written."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_vapid_key(private_key: str) -> Any:
    """A ``py_vapid.Vapid`` from a PEM private key or a raw 32-byte P-256 key in base64url.

    Raises ``ValueError`` when the text is neither.
    """
    text = private_key.strip()
    try:
        if text.startswith("-----BEGIN"):
            return Vapid.from_pem(text.encode("ascii"))
        return Vapid.from_string(text)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValueError("VAPID private key is neither PEM nor raw base64url P-256") from exc


def classify_push_status(status: int, retry_after: float | None) -> SendResult:
    """Map a push service HTTP ``status`` to a ``SendResult`` (see the module docstring)."""
    code = str(status)
    if status in (404, 410):
        return SendResult("permanent_failure", provider_status=code, error_code=code,
                          error_message=f"push subscription gone (HTTP {status})", dead_contact=True)
    if status == 429 or status >= 500 or status in (401, 403):
        return SendResult("temporary_failure", provider_status=code, error_code=code,
                          error_message=f"push service answered HTTP {status}",
                          retry_after_seconds=retry_after if status != 401 and status != 403 else None)
    return SendResult("permanent_failure", provider_status=code, error_code=code,
                      error_message=f"push service rejected the message (HTTP {status})")


class WebPushChannel:
    """Sends ``PushOutbound`` messages to browsers' push services.

    ``vapid_private_key``: PEM or raw base64url P-256 private key; ``subject``: the VAPID ``sub`` claim,
    ``mailto:dpo@example.org`` or an ``https:`` URL. ``timeout`` is the HTTP timeout in seconds; the
    ``requests`` session keeps connections alive per push service. ``wall_clock`` returns Unix seconds.
    Raises ``ValueError`` on an unusable key or subject. Thread-safe (serialised).
    """

    name = "push"

    def __init__(self, vapid_private_key: str, subject: str, *, timeout: float = 10.0,
                 wall_clock: Callable[[], float] = time.time) -> None:
        if not subject.startswith(("mailto:", "https:")):
            raise ValueError("VAPID subject must be a mailto: or https: URL")
        self._vapid = load_vapid_key(vapid_private_key)
        self._subject = subject
        self._timeout = timeout
        self._clock = wall_clock
        self._session = requests.Session()
        self._lock = threading.Lock()

    def vapid_public_key_b64(self) -> str:
        """The ``applicationServerKey`` for ``pushManager.subscribe``: the uncompressed P-256 point, base64url."""
        point = self._vapid.public_key.public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)
        return b64url(point)

    def send(self, message: OutboundMessage) -> SendResult:
        """Encrypt and post one push. Raises only ``WrongMessageKind``."""
        if not isinstance(message, PushOutbound):
            raise WrongMessageKind(self.name, message)
        endpoint = message.subscription.get("endpoint")
        keys = message.subscription.get("keys")
        if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")) \
                or not isinstance(keys, dict) or not keys.get("p256dh") or not keys.get("auth"):
            return _INVALID_SUBSCRIPTION
        headers: dict[str, str | int | float] = {"Urgency": message.urgency}
        if message.topic:
            headers["Topic"] = message.topic
        with self._lock:
            try:
                # pywebpush writes aud and exp into the claims dict: a fresh one every time.
                response = webpush(dict(message.subscription), data=message.payload, vapid_private_key=self._vapid,
                                   vapid_claims={"sub": self._subject}, ttl=message.ttl_seconds, headers=headers,
                                   timeout=self._timeout, requests_session=self._session)
            except WebPushException as exc:
                if exc.response is None:
                    return _INVALID_SUBSCRIPTION
                wait = parse_retry_after(exc.response.headers.get("Retry-After"), now=self._clock())
                result = classify_push_status(int(exc.response.status_code), wait)
                log.info("push failed ref=%s status=%s", message.reference, result.error_code)
                return result
            except requests.Timeout:
                return SendResult("temporary_failure", error_code="timeout", error_message="push service timeout")
            except requests.RequestException as exc:
                return SendResult("temporary_failure", error_code="connect",
                                  error_message=f"push service unreachable: {type(exc).__name__}")
            except (ValueError, TypeError, binascii.Error):  # undecodable p256dh/auth keys
                return _INVALID_SUBSCRIPTION
        return SendResult("accepted", provider_id=response.headers.get("Location"),
                          provider_status=str(response.status_code))

    def close(self) -> None:
        """Close pooled connections; the next send opens new ones."""
        self._session.close()


_INVALID_SUBSCRIPTION = SendResult("permanent_failure", error_code="invalid_subscription",
                                   error_message="push subscription has no usable endpoint or keys",
                                   dead_contact=True)
