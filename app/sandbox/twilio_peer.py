"""A loopback HTTP server speaking the part of Twilio's REST API that sending SMS and placing calls use, with
signed status callbacks. The Calls API lives in ``app.sandbox.twilio_calls`` (``peer.calls``).

``POST /2010-04-01/Accounts/<sid>/Messages.json`` checks HTTP Basic auth (account SID + auth token; else
401 code 20003), needs ``To``, ``Body`` and ``From`` or ``MessagingServiceSid``, records the message and
answers 201 with a Twilio-shaped JSON message (``sid`` ``SM`` + 32 hex, ``status`` ``queued``).

Failures: ``script(to, ...)`` makes every send to that number answer an error: Twilio's legacy body
(``code``, ``message``, ``more_info``, ``status``) or, with ``rfc9457=True``, a problem-details body
(``type``, ``title``, ``status``, ``code``); ``retry_after`` adds the header. ``receipt(to, status, code)``
scripts the callback outcome. A ``FailurePlan`` fails random sends: temporary as 500/20500, permanent as
400/21211.

Status callbacks: after ``callback_delay`` seconds (``None``: no callbacks at all) the peer POSTs ``sent``
and then ``delivered`` (or the scripted outcome; ``undelivered_rate`` makes random ones ``undelivered`` with
ErrorCode 30003) to the message's ``StatusCallback`` with ``X-Twilio-Signature``
(``RequestValidator.compute_signature``). One worker thread posts them in due order; at most
``max_pending`` callbacks wait, extra ones are dropped.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import requests
from twilio.request_validator import RequestValidator
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from app.sandbox.common import LOOPBACK, FailurePlan, HttpPeer
from app.sandbox.twilio_calls import CallsApi

log = logging.getLogger(__name__)

_MESSAGES = {21211: "The 'To' number is not a valid phone number.", 21614: "'To' number is not a valid mobile number",
             21610: "Attempt to send to unsubscribed recipient", 20429: "Too Many Requests",
             20500: "Internal Server Error", 20003: "Authenticate"}


@dataclass(frozen=True)
class SentSms:
    """One message the peer accepted: ``sid``, ``to``, ``sender`` (From or ``None``), ``messaging_service_sid``,
    ``body``, ``status_callback`` URL (or ``None``)."""

    sid: str
    to: str
    sender: str | None
    messaging_service_sid: str | None
    body: str
    status_callback: str | None


@dataclass(frozen=True)
class CallbackAttempt:
    """One status callback the peer posted: ``sid``, ``status``, ``error_code`` and the HTTP ``answer`` it got
    (0 when the post failed)."""

    sid: str
    status: str
    error_code: str | None
    answer: int


@dataclass(frozen=True)
class _Scripted:
    status: int
    code: int
    retry_after: str | None
    rfc9457: bool


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    url: str = field(compare=False)
    params: dict[str, str] = field(compare=False)


class TwilioPeer:
    """Sandbox Twilio Messages API; ``account_sid``/``auth_token`` are what clients must present and what
    callbacks are signed with. ``callback_delay`` is in seconds (0 posts at once; ``None`` posts no status
    callbacks, as when nobody listens for them); ``undelivered_rate`` a fraction. ``url`` is the base URL to
    give ``TwilioSmsChannel(base_url=...)``."""

    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "sandbox-token", *,  # noqa: S107 (sandbox)
                 host: str = LOOPBACK, port: int = 0, callback_delay: float | None = 0.05,
                 undelivered_rate: float = 0.0, failures: FailurePlan | None = None, max_messages: int = 10_000,
                 max_pending: int = 10_000, seed: int | None = None) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.callback_delay = callback_delay
        self.undelivered_rate = undelivered_rate
        self.failures = failures or FailurePlan()
        self._random = random.Random(seed)
        self._validator = RequestValidator(auth_token)
        self._scripted: dict[str, _Scripted] = {}
        self._receipts: dict[str, tuple[str, str | None]] = {}
        self._messages: deque[SentSms] = deque(maxlen=max_messages)
        self._callbacks: deque[CallbackAttempt] = deque(maxlen=max_messages)
        self._due: list[_Due] = []
        self._max_pending = max_pending
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._worker: threading.Thread | None = None
        self.calls = CallsApi(account_sid, auth_token)
        self._routes = Map([Rule("/2010-04-01/Accounts/<sid>/Messages.json", endpoint="create", methods=["POST"]),
                            Rule("/2010-04-01/Accounts/<sid>/Calls.json", endpoint="call", methods=["POST"])])
        self._http = HttpPeer(self._wsgi, host=host, port=port)

    @property
    def url(self) -> str:
        """Base URL (``http://127.0.0.1:<port>``)."""
        return self._http.url

    def script(self, to: str, status: int, code: int, *, retry_after: str | None = None,
               rfc9457: bool = False) -> None:
        """Answer every send to ``to`` with HTTP ``status`` and Twilio error ``code``."""
        with self._cond:
            self._scripted[to] = _Scripted(status, code, retry_after, rfc9457)

    def receipt(self, to: str, status: str, error_code: str | None = None) -> None:
        """Make the final callback for ``to`` say ``status`` (``delivered``/``undelivered``/``failed``)."""
        with self._cond:
            self._receipts[to] = (status, error_code)

    @property
    def messages(self) -> list[SentSms]:
        """Accepted messages, oldest first."""
        with self._cond:
            return list(self._messages)

    @property
    def callbacks(self) -> list[CallbackAttempt]:
        """Posted status callbacks, oldest first."""
        with self._cond:
            return list(self._callbacks)

    def clear(self) -> None:
        """Forget messages, callbacks and scripts."""
        with self._cond:
            self._messages.clear()
            self._callbacks.clear()
            self._scripted.clear()
            self._receipts.clear()
        self.calls.clear()

    def wait_for_callbacks(self, count: int, timeout: float = 5.0) -> list[CallbackAttempt]:
        """Block until ``count`` callbacks were posted (or ``timeout`` seconds passed); returns them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._callbacks) < count and time.monotonic() < deadline:
                self._cond.wait(timeout=max(0.0, deadline - time.monotonic()))
            return list(self._callbacks)

    def start(self) -> None:
        """Serve and start the callback worker (idempotent)."""
        self._http.start()
        if self._worker is None:
            self._stopping = False
            self._worker = threading.Thread(target=self._post_callbacks, name="sandbox-twilio-callbacks",
                                            daemon=True)
            self._worker.start()

    def stop(self) -> None:
        """Stop serving; pending callbacks are dropped (idempotent)."""
        self._http.stop()
        with self._cond:
            self._stopping = True
            self._due.clear()
            self._cond.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=5)
            self._worker = None
        self.calls.stop()

    # --- HTTP side -------------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            endpoint, args = self._routes.bind_to_environ(environ).match()
            response = self._create(request, args["sid"]) if endpoint == "create" else self._call(request, args["sid"])
        except (NotFound, MethodNotAllowed) as exc:
            response = _error(exc.code or 404, 20404, "The requested resource was not found")
        except HTTPException as exc:
            response = exc.get_response()
        return response(environ, start_response)

    def _authorised(self, request: Request, sid: str) -> bool:
        auth = request.authorization
        return auth is not None and (auth.username, auth.password) == (self.account_sid, self.auth_token) \
            and sid == self.account_sid

    def _call(self, request: Request, sid: str) -> Response:
        if not self._authorised(request, sid):
            return _error(401, 20003, _MESSAGES[20003])
        status, payload = self.calls.create(request.form)
        return _json(status, payload)

    def _create(self, request: Request, sid: str) -> Response:
        if not self._authorised(request, sid):
            return _error(401, 20003, _MESSAGES[20003])
        form = request.form
        to, body = form.get("To", ""), form.get("Body", "")
        sender, service = form.get("From") or None, form.get("MessagingServiceSid") or None
        if not to or not body or not (sender or service):
            return _error(400, 21604 if not to else 21602 if not body else 21603, "A required parameter is missing")
        with self._cond:
            scripted = self._scripted.get(to)
        if scripted is not None:
            return _error(scripted.status, scripted.code, _MESSAGES.get(scripted.code, "Error"),
                          retry_after=scripted.retry_after, rfc9457=scripted.rfc9457)
        draw = self.failures.draw()
        if draw == "temporary":
            return _error(500, 20500, _MESSAGES[20500])
        if draw == "permanent":
            return _error(400, 21211, _MESSAGES[21211])
        message = SentSms("SM" + uuid.uuid4().hex, to, sender, service, body, form.get("StatusCallback") or None)
        with self._cond:
            self._messages.append(message)
        if message.status_callback and self.callback_delay is not None:
            self._schedule(message)
        return _json(201, _resource(self.account_sid, message))

    # --- callbacks -------------------------------------------------------------------------------------

    def _schedule(self, message: SentSms) -> None:
        assert message.status_callback is not None and self.callback_delay is not None
        with self._cond:
            final = self._receipts.get(message.to)
            if final is None:
                undelivered = self._random.random() < self.undelivered_rate
                final = ("undelivered", "30003") if undelivered else ("delivered", None)
            if len(self._due) + 2 > self._max_pending:
                log.warning("sandbox twilio: callback queue full, dropping receipts for %s", message.sid)
                return
            start = time.monotonic() + self.callback_delay
            for offset, (status, code) in ((0.0, ("sent", None)), (0.001, final)):
                params = {"MessageSid": message.sid, "SmsSid": message.sid, "AccountSid": self.account_sid,
                          "To": message.to, "MessageStatus": status, "SmsStatus": status, "ApiVersion": "2010-04-01"}
                if message.sender:
                    params["From"] = message.sender
                if message.messaging_service_sid:
                    params["MessagingServiceSid"] = message.messaging_service_sid
                if code:
                    params["ErrorCode"] = code
                heapq.heappush(self._due, _Due(start + offset, next(self._seq), message.status_callback, params))
            self._cond.notify_all()

    def _post_callbacks(self) -> None:
        session = requests.Session()
        try:
            while True:
                with self._cond:
                    while not self._stopping and (not self._due or self._due[0].at > time.monotonic()):
                        wait = self._due[0].at - time.monotonic() if self._due else None
                        self._cond.wait(timeout=wait)
                    if self._stopping:
                        return
                    due = heapq.heappop(self._due)
                signature = self._validator.compute_signature(due.url, due.params)
                try:
                    answer = session.post(due.url, data=due.params, headers={"X-Twilio-Signature": signature},
                                          timeout=5).status_code
                except requests.RequestException:
                    answer = 0
                with self._cond:
                    self._callbacks.append(CallbackAttempt(due.params["MessageSid"], due.params["MessageStatus"],
                                                           due.params.get("ErrorCode"), answer))
                    self._cond.notify_all()
        finally:
            session.close()


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload), status=status, headers=headers, mimetype="application/json")


def _error(status: int, code: int, message: str, *, retry_after: str | None = None, rfc9457: bool = False) -> Response:
    headers = {"Retry-After": retry_after} if retry_after else None
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    if rfc9457:
        return Response(json.dumps({"type": more_info, "title": message, "status": status, "code": code,
                                    "detail": message}), status=status, headers=headers,
                        mimetype="application/problem+json")
    return _json(status, {"code": code, "message": message, "more_info": more_info, "status": status}, headers)


def _resource(account_sid: str, message: SentSms) -> dict[str, Any]:
    now = formatdate(usegmt=True)
    uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{message.sid}"
    return {"account_sid": account_sid, "api_version": "2010-04-01", "body": message.body, "date_created": now,
            "date_sent": None, "date_updated": now, "direction": "outbound-api", "error_code": None,
            "error_message": None, "from": message.sender, "messaging_service_sid": message.messaging_service_sid,
            "num_media": "0", "num_segments": "1", "price": None, "price_unit": "USD", "sid": message.sid,
            "status": "accepted" if message.messaging_service_sid and not message.sender else "queued",
            "to": message.to, "uri": f"{uri}.json", "subresource_uris": {"media": f"{uri}/Media.json"}}
