"""The Calls API of the sandbox Twilio peer: it places make-believe calls, fetches and checks the TwiML, presses
keys, and posts signed call status callbacks.

``POST /2010-04-01/Accounts/<sid>/Calls.json`` (served by ``TwilioPeer``) needs ``To``, ``From`` and ``Url`` (or
inline ``Twiml``); it answers 201 with a Twilio-shaped call (``sid`` ``CA`` + 32 hex, ``status`` ``queued``) and
then, in a thread, plays the call as scripted per number (``script(to, outcome, digits=...)``):

* ``human`` (default) / ``machine``: POST the answer ``Url`` (signed, ``CallStatus=in-progress``, and
  ``AnsweredBy`` = ``human``, or for a machine ``machine_end_beep`` with ``MachineDetection=DetectMessageEnd``
  and ``machine_start`` with ``Enable``), parse the TwiML it returns (``inspect_twiml``), press each scripted
  digit on the ``<Gather>`` action (signed, ``Digits``), then post ``completed``;
* ``busy``, ``no-answer``, ``failed``: post that status at once (``failed`` with the scripted ``error_code``).

Every TwiML document is kept (``documents``) with the problems found: the root must be ``<Response>``, only
Say/Gather/Hangup/Pause/Redirect verbs, every ``<Say>`` with text, ``voice`` and ``language``, every
``<Gather>`` with an ``action`` and only Say/Pause inside. Status callbacks go to ``StatusCallback`` with
``X-Twilio-Signature`` (``RequestValidator.compute_signature``).
"""

from __future__ import annotations

import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any, Literal

import requests
from twilio.request_validator import RequestValidator

CallOutcome = Literal["human", "machine", "busy", "no-answer", "failed"]
VERBS = frozenset({"Say", "Gather", "Hangup", "Pause", "Redirect"})
_DETECTED = {"DetectMessageEnd": "machine_end_beep", "Enable": "machine_start"}


@dataclass(frozen=True)
class PlacedCall:
    """A call the peer accepted: ``sid``, ``to``, ``sender`` (From), answer ``url`` or inline ``twiml``,
    ``status_callback`` and ``machine_detection`` (as sent)."""

    sid: str
    to: str
    sender: str
    url: str | None
    twiml: str | None
    status_callback: str | None
    machine_detection: str | None


@dataclass(frozen=True)
class TwimlDocument:
    """One TwiML document the peer received for call ``sid`` at ``step`` (``answer`` or ``gather:<digit>``):
    the raw ``xml``, the spoken ``says`` as (text, voice, language), the ``gather_action`` (or None),
    ``verbs`` in order (``Gather`` children as ``Gather/Say``) and the ``problems`` found."""

    sid: str
    step: str
    xml: str
    says: tuple[tuple[str, str, str], ...]
    gather_action: str | None
    verbs: tuple[str, ...]
    problems: tuple[str, ...]


@dataclass(frozen=True)
class CallStatusPost:
    """One call status callback posted: ``sid``, ``status``, ``answered_by`` and our HTTP ``answer`` (0 when
    the post failed)."""

    sid: str
    status: str
    answered_by: str | None
    answer: int


@dataclass(frozen=True)
class _Script:
    outcome: CallOutcome
    digits: str
    error_code: str | None


def _check_say(node: ET.Element, where: str) -> tuple[tuple[str, str, str] | None, list[str]]:
    text = (node.text or "").strip()
    problems = [f"{where}: <Say> without text"] if not text else []
    problems += [f"{where}: <Say> without {a}" for a in ("voice", "language") if not node.get(a)]
    return ((text, node.get("voice", ""), node.get("language", "")) if text else None), problems


def inspect_twiml(xml: str, *, sid: str = "", step: str = "answer") -> TwimlDocument:
    """Parse and check one TwiML document (see the module docstring); never raises."""
    try:
        root = ET.fromstring(xml)  # noqa: S314 (our own app's TwiML, on loopback)
    except ET.ParseError as exc:
        return TwimlDocument(sid, step, xml, (), None, (), (f"not XML: {exc}",))
    problems = [] if root.tag == "Response" else [f"root is <{root.tag}>, not <Response>"]
    says: list[tuple[str, str, str]] = []
    verbs: list[str] = []
    action: str | None = None
    for node in root:
        verbs.append(node.tag)
        if node.tag not in VERBS:
            problems.append(f"unknown verb <{node.tag}>")
        children = list(node) if node.tag == "Gather" else [node]
        if node.tag == "Gather":
            action = node.get("action")
            problems += [] if action else ["<Gather> without action"]
            problems += [f"<Gather> holds <{c.tag}>" for c in children if c.tag not in ("Say", "Pause")]
            verbs += [f"Gather/{c.tag}" for c in children]
        for child in children:
            if child.tag == "Say":
                said, found = _check_say(child, node.tag)
                problems += found
                says += [said] if said else []
    return TwimlDocument(sid, step, xml, tuple(says), action, tuple(verbs), tuple(problems))


class CallsApi:
    """The calls side of ``TwilioPeer`` (which routes ``Calls.json`` here after checking auth).

    ``ring_seconds``: how long each call rings before it is answered or its outcome posted (a real call takes
    seconds; an instant callback would overtake the sender's own record of the call)."""

    def __init__(self, account_sid: str, auth_token: str, *, ring_seconds: float = 0.1) -> None:
        self.account_sid = account_sid
        self.ring_seconds = ring_seconds
        self._validator = RequestValidator(auth_token)
        self._cond = threading.Condition()
        self._scripts: dict[str, _Script] = {}
        self._calls: list[PlacedCall] = []
        self._documents: list[TwimlDocument] = []
        self._statuses: list[CallStatusPost] = []
        self._threads: list[threading.Thread] = []

    def script(self, to: str, outcome: CallOutcome, *, digits: str = "", error_code: str | None = None) -> None:
        """Play every call to ``to`` as ``outcome``; a person (``human``) presses ``digits`` one by one."""
        with self._cond:
            self._scripts[to] = _Script(outcome, digits, error_code)

    @property
    def calls(self) -> list[PlacedCall]:
        """Calls placed, oldest first."""
        with self._cond:
            return list(self._calls)

    @property
    def documents(self) -> list[TwimlDocument]:
        """TwiML documents received, oldest first."""
        with self._cond:
            return list(self._documents)

    @property
    def statuses(self) -> list[CallStatusPost]:
        """Call status callbacks posted, oldest first."""
        with self._cond:
            return list(self._statuses)

    def wait_for_statuses(self, count: int, timeout: float = 10.0) -> list[CallStatusPost]:
        """Block until ``count`` final status callbacks were posted or ``timeout`` seconds passed."""
        with self._cond:
            self._cond.wait_for(lambda: len(self._statuses) >= count, timeout=timeout)
            return list(self._statuses)

    def clear(self) -> None:
        """Forget calls, documents, statuses and scripts."""
        with self._cond:
            self._scripts.clear()
            self._calls.clear()
            self._documents.clear()
            self._statuses.clear()

    def stop(self) -> None:
        """Wait (up to 5 s each) for calls in progress."""
        with self._cond:
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout=5)

    def create(self, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """Accept one call: ``(201, call resource)`` or ``(400, Twilio error body)``."""
        to, sender = form.get("To", ""), form.get("From", "")
        url, twiml = form.get("Url") or None, form.get("Twiml") or None
        missing = 21201 if not to else 21213 if not sender else 21205 if not (url or twiml) else None
        if missing is not None:
            return 400, {"code": missing, "message": "A required parameter is missing", "status": 400,
                         "more_info": f"https://www.twilio.com/docs/errors/{missing}"}
        call = PlacedCall("CA" + uuid.uuid4().hex, to, sender, url, twiml, form.get("StatusCallback") or None,
                          form.get("MachineDetection") or None)
        thread = threading.Thread(target=self._play, args=(call,), name=f"sandbox-call-{call.sid[:8]}", daemon=True)
        with self._cond:
            self._calls.append(call)
            self._threads.append(thread)
        thread.start()
        return 201, _resource(self.account_sid, call)

    # --- the call itself ----------------------------------------------------------------------------

    def _play(self, call: PlacedCall) -> None:
        time.sleep(self.ring_seconds)
        with self._cond:
            script = self._scripts.get(call.to, _Script("human", "", None))
        base = {"CallSid": call.sid, "AccountSid": self.account_sid, "From": call.sender, "To": call.to,
                "Direction": "outbound-api", "ApiVersion": "2010-04-01"}
        answered = None
        if script.outcome == "machine" and call.machine_detection:
            answered = _DETECTED.get(call.machine_detection, "machine_start")
        elif script.outcome == "human" and call.machine_detection:
            answered = "human"
        with requests.Session() as http:
            if script.outcome in ("busy", "no-answer", "failed"):
                self._status(http, call, {**base, "CallStatus": script.outcome, "CallDuration": "0",
                                          **({"ErrorCode": script.error_code} if script.error_code else {})}, None)
                return
            answer = {**base, "CallStatus": "in-progress", **({"AnsweredBy": answered} if answered else {})}
            if call.url:
                document: TwimlDocument | None = self._fetch(http, call, call.url, answer, "answer")
            else:
                document = inspect_twiml(call.twiml or "", sid=call.sid)
                self._keep(document)
            for digit in script.digits if script.outcome == "human" else "":
                if document is None or document.gather_action is None:
                    break
                document = self._fetch(http, call, document.gather_action, {**answer, "Digits": digit},
                                       f"gather:{digit}")
            final = {**base, "CallStatus": "completed", "CallDuration": "42",
                     **({"AnsweredBy": answered} if answered else {})}
            self._status(http, call, final, answered)

    def _keep(self, document: TwimlDocument) -> None:
        with self._cond:
            self._documents.append(document)

    def _signed(self, http: requests.Session, url: str, params: dict[str, str]) -> requests.Response | None:
        try:
            return http.post(url, data=params, headers={"X-Twilio-Signature": self._validator.compute_signature(
                url, params)}, timeout=10)
        except requests.RequestException:
            return None

    def _fetch(self, http: requests.Session, call: PlacedCall, url: str, params: dict[str, str],
               step: str) -> TwimlDocument | None:
        response = self._signed(http, url, params)
        if response is None or response.status_code != 200:
            code = "no answer" if response is None else f"HTTP {response.status_code}"
            document = TwimlDocument(call.sid, step, "", (), None, (), (f"TwiML fetch failed: {code}",))
        else:
            document = inspect_twiml(response.text, sid=call.sid, step=step)
        self._keep(document)
        return document

    def _status(self, http: requests.Session, call: PlacedCall, params: dict[str, str], answered: str | None) -> None:
        answer = 0
        if call.status_callback:
            response = self._signed(http, call.status_callback, params)
            answer = 0 if response is None else response.status_code
        with self._cond:
            self._statuses.append(CallStatusPost(call.sid, params["CallStatus"], answered, answer))
            self._cond.notify_all()


def _resource(account_sid: str, call: PlacedCall) -> dict[str, Any]:
    now = formatdate(usegmt=True)
    uri = f"/2010-04-01/Accounts/{account_sid}/Calls/{call.sid}"
    return {"sid": call.sid, "account_sid": account_sid, "api_version": "2010-04-01", "to": call.to,
            "to_formatted": call.to, "from": call.sender, "from_formatted": call.sender, "status": "queued",
            "direction": "outbound-api", "date_created": now, "date_updated": now, "start_time": None,
            "end_time": None, "duration": None, "price": None, "price_unit": "USD", "answered_by": None,
            "parent_call_sid": None, "phone_number_sid": None, "caller_name": None, "forwarded_from": None,
            "group_sid": None, "queue_time": "0", "trunk_sid": None, "uri": f"{uri}.json",
            "subresource_uris": {"notifications": f"{uri}/Notifications.json",
                                 "recordings": f"{uri}/Recordings.json"}}
