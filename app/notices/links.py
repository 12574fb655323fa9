"""Personal links to the full notice: ``/n/<token>``, unguessable and expiring. Pure functions.

Token format (URL-safe, about 35 characters for a six-digit reference, so it fits an SMS)::

    <ref>.<expiry>.<signature>

* ``ref``: the caller's opaque reference to what the link opens (e.g. a delivery id), ``[A-Za-z0-9_-]``,
  1-64 characters. It must not be personal data: it is visible in the URL.
* ``expiry``: Unix seconds (UTC) in base 36.
* ``signature``: HMAC-SHA256 over ``"notice-link/v1|<ref>|<expiry>"`` with a server key of at least
  32 bytes, base64url without padding and truncated to 22 characters (132 bits): a link cannot be guessed
  or altered without the key, and expiry is part of what is signed.

Revoking a single link before expiry is the caller's job (store the issued tokens or a revocation list).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re

_REF = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TOKEN = re.compile(r"^([A-Za-z0-9_-]{1,64})\.([0-9a-z]{1,13})\.([A-Za-z0-9_-]{22})$")
_SIG_CHARS = 22
_DOMAIN = b"notice-link/v1"
MIN_KEY_BYTES = 32


class LinkTokenError(ValueError):
    """A token is malformed, tampered with or expired; ``reason`` is ``malformed``, ``bad-signature`` or
    ``expired``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rem = divmod(number, 36)
        out = digits[rem] + out
        if number == 0:
            return out


def _signature(key: bytes, ref: str, expiry: str) -> str:
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"link key must be at least {MIN_KEY_BYTES} bytes")
    mac = hmac.new(key, _DOMAIN + b"|" + ref.encode() + b"|" + expiry.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")[:_SIG_CHARS]


def _aware(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value


def make_link_token(ref: str, *, key: bytes, expires_at: dt.datetime) -> str:
    """Return a signed token for ``ref`` valid until ``expires_at`` (aware datetime, second precision)."""
    if not _REF.match(ref):
        raise ValueError("ref must be 1-64 characters of [A-Za-z0-9_-]")
    seconds = int(_aware(expires_at, "expires_at").timestamp())
    if seconds < 0:
        raise ValueError("expires_at must be after 1970")
    expiry = _b36(seconds)
    return f"{ref}.{expiry}.{_signature(key, ref, expiry)}"


def verify_link_token(token: str, *, key: bytes, now: dt.datetime) -> str:
    """Return the ``ref`` of a valid token; raise ``LinkTokenError`` if it is malformed, its signature
    does not match (tampered, or another key), or ``now`` is at or after its expiry."""
    match = _TOKEN.match(token)
    if match is None:
        raise LinkTokenError("malformed", "link token is malformed")
    ref, expiry, signature = match.groups()
    if not hmac.compare_digest(signature, _signature(key, ref, expiry)):
        raise LinkTokenError("bad-signature", "link token signature does not match")
    if int(_aware(now, "now").timestamp()) >= int(expiry, 36):
        raise LinkTokenError("expired", "link has expired")
    return ref


def personal_link(base_url: str, token: str) -> str:
    """The full personal link ``<base_url>/n/<token>``; ``base_url`` is e.g. ``https://notify.example``."""
    if not base_url.startswith(("https://", "http://")):
        raise ValueError("base_url must be an http(s) URL")
    return f"{base_url.rstrip('/')}/n/{token}"
