"""SMS through Twilio's Messages API with the real ``twilio`` client, and Twilio status callbacks.

Send errors (``TwilioRestException`` and the RFC 9457 ``TwilioServiceException``; both are caught as
``TwilioException``) are classified by Twilio error code, then by HTTP status
(https://www.twilio.com/docs/api/errors):

======  ==========================================================  ======================================
code    meaning                                                     result
======  ==========================================================  ======================================
21211   invalid 'To' phone number                                   permanent, dead_contact
21217   phone number does not appear to be valid                    permanent, dead_contact
21614   'To' number is not a mobile number                          permanent (a landline: voice works)
21610   recipient opted out (replied STOP)                          permanent (of SMS only: voice works)
21612   'To' number not reachable via SMS from this sender          permanent
21408   sending to this region not enabled                          permanent
21602   body required / 21617 body too long (> 1600 chars)          permanent
20003   authentication failed (wrong SID or token)                  temporary (configuration, not the number)
21606   'From' number not SMS-capable / 21703, 21704 service issue  temporary (configuration)
20429   too many requests (also any HTTP 429)                       temporary, ``Retry-After`` honoured
14107   message rate limit exceeded                                 temporary, ``Retry-After`` honoured
20500   internal error / 20503 unavailable (also any HTTP 5xx)      temporary, ``Retry-After`` honoured
30001   queue overflow                                              temporary
(other)  HTTP 401/403/429/5xx: temporary; other 4xx: permanent
======  ==========================================================  ======================================

``dead_contact`` (the number is retired for every channel that uses it, SMS and voice) only when the number
itself is wrong; an opt-out or a landline ends SMS to it but a voice call can still reach it.
Network errors (connect, timeout) are temporary. ``error_message`` comes from this table, never from
Twilio's text (which repeats the number).
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from app.channels.base import (
    OutboundMessage,
    Outcome,
    ReceiptState,
    ReceiptUpdate,
    SendResult,
    SmsOutbound,
    WrongMessageKind,
    parse_retry_after,
)

log = logging.getLogger(__name__)

# code -> (outcome, dead_contact, short explanation)
SEND_ERRORS: dict[int, tuple[Outcome, bool, str]] = {
    21211: ("permanent_failure", True, "invalid 'To' phone number"),
    21217: ("permanent_failure", True, "phone number does not appear to be valid"),
    21614: ("permanent_failure", False, "'To' number is not a mobile number"),
    21610: ("permanent_failure", False, "recipient opted out of messages from this sender"),
    21612: ("permanent_failure", False, "'To' number not reachable via SMS from this sender"),
    21408: ("permanent_failure", False, "sending to this region is not enabled"),
    21602: ("permanent_failure", False, "message body required"),
    21617: ("permanent_failure", False, "message body too long"),
    20003: ("temporary_failure", False, "Twilio authentication failed (check account SID and token)"),
    21606: ("temporary_failure", False, "'From' number cannot send SMS (configuration)"),
    21703: ("temporary_failure", False, "messaging service has no senders (configuration)"),
    21704: ("temporary_failure", False, "messaging service sender pool problem (configuration)"),
    20429: ("temporary_failure", False, "too many requests"),
    14107: ("temporary_failure", False, "message rate limit exceeded"),
    20500: ("temporary_failure", False, "Twilio internal error"),
    20503: ("temporary_failure", False, "Twilio service unavailable"),
    30001: ("temporary_failure", False, "queue overflow"),
}

# Delivery-receipt ErrorCode -> (state, dead_contact), for MessageStatus failed/undelivered.
RECEIPT_ERRORS: dict[str, tuple[ReceiptState, bool]] = {
    "30001": ("failed_temporary", False),  # queue overflow
    "30002": ("failed_temporary", False),  # account suspended (configuration)
    "30003": ("failed_temporary", False),  # unreachable destination handset (switched off)
    "30004": ("failed_permanent", False),  # message blocked by the recipient or carrier
    "30005": ("failed_permanent", True),  # unknown destination handset
    "30006": ("failed_permanent", False),  # landline or unreachable carrier (a call may still reach it)
    "30007": ("failed_permanent", False),  # filtered by the carrier
    "30008": ("failed_temporary", False),  # unknown error
    "30034": ("failed_permanent", False),  # sender not registered (A2P 10DLC)
    "21211": ("failed_permanent", True),
    "21614": ("failed_permanent", False),
    "21610": ("failed_permanent", False),
}

IN_FLIGHT_STATUSES = frozenset({"queued", "accepted", "scheduled", "sending", "sent"})
DELIVERED_STATUSES = frozenset({"delivered", "read"})
FAILED_STATUSES = frozenset({"failed", "undelivered", "canceled"})


class ForgedCallback(Exception):
    """A status callback whose ``X-Twilio-Signature`` does not match (answer 403, change nothing)."""


class MalformedCallback(ValueError):
    """A correctly signed status callback without ``MessageSid`` or with an unknown ``MessageStatus``."""


TWILIO_API = "https://api.twilio.com"


class RecordingHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Twilio's HTTP client that keeps the last response's ``Retry-After`` header and, when ``base_url`` is
    set, sends every request to that scheme and host instead of Twilio's (for sandbox peers).

    The environment's proxy and CA settings (``HTTPS_PROXY``, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``...) are read
    once, when the client is made, for the host it talks to, instead of on every request: ``requests`` scans
    the whole environment per request when its session trusts it (about a tenth of a dispatch worker's
    time per SMS, docs/performance.md). A change of those variables takes effect for channels made after it.
    """

    def __init__(self, base_url: str | None, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._base = urllib.parse.urlsplit(base_url) if base_url else None
        self.retry_after: str | None = None
        if self.session is not None:
            settings = self.session.merge_environment_settings(base_url or TWILIO_API, {}, None, None, None)
            self.proxy = settings["proxies"]
            self.session.verify = settings["verify"]
            self.session.trust_env = False

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if self._base is not None:
            parts = urllib.parse.urlsplit(url)
            url = urllib.parse.urlunsplit((self._base.scheme, self._base.netloc, parts.path, parts.query, ""))
        self.retry_after = None
        response = super().request(method, url, *args, **kwargs)
        headers = response.headers or {}
        self.retry_after = headers.get("Retry-After")
        return response


def classify_twilio_error(status: int | None, code: int | None, retry_after: float | None,
                          errors: Mapping[int, tuple[Outcome, bool, str]] | None = None) -> SendResult:
    """Map Twilio's HTTP ``status`` and error ``code`` to a ``SendResult`` (see the module table; ``errors``,
    e.g. the voice channel's codes, are looked up first)."""
    table = {**SEND_ERRORS, **(errors or {})}
    known = table.get(code) if code is not None else None
    label = str(code if code is not None else status)
    outcome: Outcome
    if known is not None:
        outcome, dead, text = known
    elif status is not None and (status in (401, 403, 429) or status >= 500):
        outcome, dead, text = "temporary_failure", False, f"Twilio answered HTTP {status}"
    else:
        outcome, dead, text = "permanent_failure", False, f"Twilio rejected the message (HTTP {status})"
    return SendResult(outcome, provider_status=str(status) if status is not None else None,
                      error_code=label, error_message=f"{label}: {text}",
                      retry_after_seconds=retry_after if outcome == "temporary_failure" else None,
                      dead_contact=dead)


class TwilioApiChannel:
    """What the Twilio channels share: the ``twilio.rest.Client`` over a ``RecordingHttpClient`` (``base_url``
    redirects every API call, for the sandbox peer only; ``timeout`` in seconds), ``wall_clock`` (Unix
    seconds, for HTTP-date ``Retry-After``), one lock serialising the calls, and the mapping of a create call
    to a ``SendResult``."""

    def __init__(self, account_sid: str, auth_token: str, *, base_url: str | None, timeout: float,
                 wall_clock: Callable[[], float]) -> None:
        self._http = RecordingHttpClient(base_url, timeout)
        self._client = Client(account_sid, auth_token, http_client=self._http)
        self._clock = wall_clock
        self._lock = threading.Lock()

    def _create(self, create: Callable[[], Any], reference: str,
                errors: Mapping[int, tuple[Outcome, bool, str]] | None = None) -> SendResult:
        """Run one Twilio create call: ``accepted`` with the resource's ``sid`` and ``status``, or the failure.

        Twilio errors are classified by ``classify_twilio_error`` (with ``errors`` ahead of ``SEND_ERRORS``),
        network errors are temporary (``connect``/``timeout``). Logs only the reference and the code.
        """
        with self._lock:
            try:
                created = create()
            except TwilioException as exc:
                status, code = getattr(exc, "status", None), getattr(exc, "code", None)
                wait = parse_retry_after(self._http.retry_after, now=self._clock())
                result = classify_twilio_error(status if isinstance(status, int) else None,
                                               code if isinstance(code, int) else None, wait, errors)
                log.info("twilio send failed ref=%s code=%s outcome=%s", reference, result.error_code,
                         result.outcome)
                return result
            except requests.Timeout:
                return SendResult("temporary_failure", error_code="timeout", error_message="Twilio API timeout")
            except requests.RequestException as exc:
                return SendResult("temporary_failure", error_code="connect",
                                  error_message=f"Twilio API unreachable: {type(exc).__name__}")
        return SendResult("accepted", provider_id=str(created.sid), provider_status=str(created.status))

    def close(self) -> None:
        """Close the HTTP session's pooled connections."""
        session = self._http.session
        if session is not None:
            session.close()


def with_reference(callback_url: str, reference: str) -> str:
    """``callback_url`` with ``ref=<reference>`` added to its query string."""
    parts = urllib.parse.urlsplit(callback_url)
    query = [*urllib.parse.parse_qsl(parts.query, keep_blank_values=True), ("ref", reference)]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


class TwilioSmsChannel(TwilioApiChannel):
    """Sends ``SmsOutbound`` messages with ``twilio.rest.Client``.

    Give ``from_number`` (E.164) or ``messaging_service_sid`` (``MG...``; preferred, it picks the sender) or
    both. ``base_url`` (``http://127.0.0.1:8111``) redirects every API call, for the sandbox peer only.
    ``timeout`` is the HTTP timeout in seconds; ``wall_clock`` returns Unix seconds (for HTTP-date
    ``Retry-After``). The HTTP session keeps its connection alive between sends. Thread-safe (serialised).
    """

    name = "sms"

    def __init__(self, account_sid: str, auth_token: str, *, from_number: str | None = None,
                 messaging_service_sid: str | None = None, base_url: str | None = None, timeout: float = 10.0,
                 wall_clock: Callable[[], float] = time.time) -> None:
        if not from_number and not messaging_service_sid:
            raise ValueError("TwilioSmsChannel needs from_number or messaging_service_sid")
        super().__init__(account_sid, auth_token, base_url=base_url, timeout=timeout, wall_clock=wall_clock)
        self._from = from_number
        self._service = messaging_service_sid

    def send(self, message: OutboundMessage) -> SendResult:
        """Create one message. ``accepted`` carries the ``SM...`` sid as ``provider_id`` and Twilio's status
        (``queued`` or ``accepted``) as ``provider_status``. Raises only ``WrongMessageKind``."""
        if not isinstance(message, SmsOutbound):
            raise WrongMessageKind(self.name, message)
        params: dict[str, Any] = {"to": message.to, "body": message.body}
        if self._service:
            params["messaging_service_sid"] = self._service
        if self._from:
            params["from_"] = self._from
        if message.status_callback:
            params["status_callback"] = with_reference(message.status_callback, message.reference)
        return self._create(lambda: self._client.messages.create(**params), message.reference)


def map_status(provider_id: str, status: str, error_code: str | None, reference: str | None = None) -> ReceiptUpdate:
    """Map a Twilio ``MessageStatus`` (+ ``ErrorCode``) to a ``ReceiptUpdate``.

    ``queued/accepted/scheduled/sending/sent`` -> ``sent``; ``delivered/read`` -> ``delivered``;
    ``failed/undelivered/canceled`` -> by ``RECEIPT_ERRORS`` or, for unknown codes, ``failed_temporary`` for
    ``undelivered`` and ``failed_permanent`` otherwise. Raises ``MalformedCallback`` for other statuses.
    """
    code = error_code or None
    if status in IN_FLIGHT_STATUSES:
        return ReceiptUpdate(provider_id, "sent", code, status, reference)
    if status in DELIVERED_STATUSES:
        return ReceiptUpdate(provider_id, "delivered", None, status, reference)
    if status in FAILED_STATUSES:
        default: ReceiptState = "failed_temporary" if status == "undelivered" else "failed_permanent"
        state, dead = RECEIPT_ERRORS.get(code or "", (default, False))
        return ReceiptUpdate(provider_id, state, code, status, reference, dead)
    raise MalformedCallback(f"unknown Twilio MessageStatus {status[:40]!r}")


def verified_params(url: str, form: Mapping[str, str], signature: str | None, auth_token: str) -> dict[str, str]:
    """The POSTed ``form`` as a dict when ``signature`` (``X-Twilio-Signature``) is Twilio's HMAC-SHA1 of
    ``url`` and the fields under ``auth_token`` (``RequestValidator``); else ``ForgedCallback``."""
    params = {key: form[key] for key in form}
    if not signature or not RequestValidator(auth_token).validate(url, params, signature):
        raise ForgedCallback("X-Twilio-Signature does not match")
    return params


def reference_of(url: str) -> str | None:
    """The ``ref`` query parameter of a callback ``url`` (our delivery id), or None."""
    refs = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("ref")
    return refs[-1] if refs else None


def parse_status_callback(url: str, form: Mapping[str, str], signature: str | None,
                          auth_token: str) -> ReceiptUpdate:
    """Verify and map one Twilio status callback.

    ``url`` is the full public URL Twilio posted to (with the query string, ``ref`` included); ``form`` the
    POSTed fields; ``signature`` the ``X-Twilio-Signature`` header. Raises ``ForgedCallback`` when the
    signature is missing or wrong (HMAC-SHA1, ``RequestValidator``), ``MalformedCallback`` when
    ``MessageSid``/``MessageStatus`` are missing or unknown.
    """
    params = verified_params(url, form, signature, auth_token)
    sid = params.get("MessageSid") or params.get("SmsSid")
    status = params.get("MessageStatus") or params.get("SmsStatus")
    if not sid or not status:
        raise MalformedCallback("status callback without MessageSid or MessageStatus")
    return map_status(sid, status, params.get("ErrorCode"), reference_of(url))
