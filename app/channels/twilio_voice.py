"""Voice calls through Twilio Programmable Voice with the real ``twilio`` client: placing the call, the TwiML
documents (built with ``twilio.twiml.voice_response``, never by string), and call status callbacks.

A call is placed with ``calls.create(url=<answer URL>?ref=<delivery id>, status_callback=...)``. When the
callee answers, Twilio fetches the TwiML from the answer URL, with ``AnsweredBy`` when answering-machine
detection (``machine_detection``) ran. What the answer URL returns depends on the machine policy:

==============  ==========================  ========================================================
policy          ``machine_detection``        on a machine
==============  ==========================  ========================================================
``voicemail``   ``DetectMessageEnd``         the voicemail variant is spoken after the greeting ends
``hangup``      ``Enable``                   hang up; the call counts as not answered (retried)
``notice``      (none)                       the spoken notice, as for a person
==============  ==========================  ========================================================

A person hears the spoken notice (``<Say>`` in the notice's language, ``VOICES``) with the call-centre
number, then a ``<Gather>`` menu: 1 hears it again, 2 sends the personal link by SMS.

Call status callbacks (``CallStatus`` + ``AnsweredBy``) map to receipts (``map_call_status``):

===============================  ==================================  ==========================
CallStatus / AnsweredBy          receipt state                       ``provider_status``
===============================  ==================================  ==========================
queued, initiated, ringing,      sent                                the status
in-progress
completed, human/unknown/none    delivered                           ``completed``
completed, machine_end_* with    delivered (voicemail left)          ``voicemail``
policy ``voicemail``
completed, other machine         failed_temporary (nothing left)     ``machine``
completed, fax                   failed_permanent, dead_contact      ``fax``
busy, no-answer                  failed_temporary (retry, backoff)   the status
failed                           failed_permanent (dead for 13223,   ``failed``
                                 13224, 21211, 21217)
canceled                         failed_permanent                    ``canceled``
===============================  ==================================  ==========================
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

from twilio.twiml.voice_response import Gather, VoiceResponse

from app.channels.base import (
    OutboundMessage,
    Outcome,
    ReceiptState,
    ReceiptUpdate,
    SendResult,
    VoiceOutbound,
    WrongMessageKind,
)
from app.channels.twilio_sms import (
    MalformedCallback,
    TwilioApiChannel,
    reference_of,
    verified_params,
    with_reference,
)

MachinePolicy = Literal["voicemail", "hangup", "notice"]
MACHINE_POLICIES: tuple[MachinePolicy, ...] = ("voicemail", "hangup", "notice")
DETECTION: dict[str, str | None] = {"voicemail": "DetectMessageEnd", "hangup": "Enable", "notice": None}

VOICES: dict[str, tuple[str, str]] = {
    "en": ("Polly.Joanna", "en-US"),
    "de": ("Polly.Vicki", "de-DE"),
    "fr": ("Polly.Lea", "fr-FR"),
    "zh": ("Polly.Zhiyu", "cmn-CN"),
}
"""Locale (language subtag) -> (Twilio ``<Say>`` voice, ``language``); unknown languages use ``en``."""

# call-creation error codes (https://www.twilio.com/docs/api/errors) -> (outcome, dead_contact, text)
CALL_ERRORS: dict[int, tuple[Outcome, bool, str]] = {
    13223: ("permanent_failure", True, "invalid phone number format"),
    13224: ("permanent_failure", True, "invalid phone number"),
    13227: ("permanent_failure", False, "no international calling permission for this number"),
    21215: ("permanent_failure", False, "calling this region is not enabled (geo permissions)"),
    21210: ("temporary_failure", False, "caller ID is not a verified number of the account (configuration)"),
    21205: ("temporary_failure", False, "the answer URL is not valid (configuration)"),
}
MACHINE_ANSWERS = frozenset({"machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other"})
IN_FLIGHT = frozenset({"queued", "initiated", "ringing", "in-progress"})
DEAD_CODES = frozenset({"13223", "13224", "21211", "21217"})
GATHER_SECONDS = 8


def voice_for(locale: str) -> tuple[str, str]:
    """The ``(voice, language)`` of ``<Say>`` for a notice locale (``de-AT`` -> the ``de`` voice)."""
    return VOICES.get(locale.split("-")[0].lower(), VOICES["en"])


def _say(target: VoiceResponse | Gather, text: str, locale: str) -> None:
    voice, language = voice_for(locale)
    target.say(text, voice=voice, language=language)


def _menu(response: VoiceResponse, message: VoiceOutbound, gather_url: str) -> str:
    gather = Gather(num_digits=1, action=with_reference(gather_url, message.reference), method="POST",
                    timeout=GATHER_SECONDS)
    _say(gather, message.parts["menu"], message.locale)
    response.append(gather)
    response.hangup()
    return str(response)


def _spoken(message: VoiceOutbound, part: str) -> str:
    response = VoiceResponse()
    _say(response, message.parts[part], message.locale)
    response.hangup()
    return str(response)


def notice_twiml(message: VoiceOutbound, gather_url: str) -> str:
    """The TwiML for a person: the spoken notice, then the menu in a ``<Gather>`` posting one digit to
    ``gather_url`` (with ``?ref=``); the call ends when no key is pressed."""
    response = VoiceResponse()
    _say(response, message.parts["notice"], message.locale)
    return _menu(response, message, gather_url)


def voicemail_twiml(message: VoiceOutbound) -> str:
    """The TwiML for an answering machine: the voicemail variant, then hang up."""
    return _spoken(message, "voicemail")


def hangup_twiml() -> str:
    """A TwiML document that only hangs up."""
    response = VoiceResponse()
    response.hangup()
    return str(response)


def answer_twiml(message: VoiceOutbound, *, answered_by: str | None, policy: MachinePolicy, gather_url: str) -> str:
    """The TwiML for the answer URL: see the module table (``answered_by`` is Twilio's ``AnsweredBy``)."""
    if answered_by == "fax":
        return hangup_twiml()
    if answered_by in MACHINE_ANSWERS and policy != "notice":
        return voicemail_twiml(message) if policy == "voicemail" else hangup_twiml()
    return notice_twiml(message, gather_url)


def menu_twiml(message: VoiceOutbound, *, digits: str, gather_url: str, link_sent: bool) -> str:
    """The TwiML after a key press: ``1`` the notice again, ``2`` the confirmation that the link was sent
    by SMS (``link_sent``; else the voicemail text, which names the call centre), anything else the menu
    again."""
    if digits == "1":
        return notice_twiml(message, gather_url)
    if digits == "2":
        return _spoken(message, "sent" if link_sent else "voicemail")
    return _menu(VoiceResponse(), message, gather_url)


class TwilioVoiceChannel(TwilioApiChannel):
    """Places ``VoiceOutbound`` calls with ``twilio.rest.Client`` from ``from_number`` (E.164 caller ID).

    ``ring_seconds`` is how long the phone rings before ``no-answer`` (Twilio ``timeout``); ``base_url``
    redirects the API (sandbox peer only); ``timeout`` is the HTTP timeout in seconds; ``wall_clock`` returns
    Unix seconds. Thread-safe (serialised). Raises only ``WrongMessageKind``.
    """

    name = "voice"

    def __init__(self, account_sid: str, auth_token: str, *, from_number: str, ring_seconds: int = 30,
                 base_url: str | None = None, timeout: float = 10.0,
                 wall_clock: Callable[[], float] = time.time) -> None:
        super().__init__(account_sid, auth_token, base_url=base_url, timeout=timeout, wall_clock=wall_clock)
        self._from = from_number
        self._ring = ring_seconds

    def send(self, message: OutboundMessage) -> SendResult:
        """Create one call. ``accepted`` carries the ``CA...`` sid and Twilio's status (``queued``)."""
        if not isinstance(message, VoiceOutbound):
            raise WrongMessageKind(self.name, message)
        params: dict[str, Any] = {"to": message.to, "from_": self._from, "timeout": self._ring,
                                  "url": with_reference(message.answer_url, message.reference)}
        if message.machine_detection:
            params["machine_detection"] = message.machine_detection
        if message.status_callback:
            params["status_callback"] = with_reference(message.status_callback, message.reference)
        return self._create(lambda: self._client.calls.create(**params), message.reference, CALL_ERRORS)


def _completed(sid: str, answered_by: str | None, policy: MachinePolicy, reference: str | None) -> ReceiptUpdate:
    if answered_by == "fax":
        return ReceiptUpdate(sid, "failed_permanent", None, "fax", reference, dead_contact=True)
    if answered_by in MACHINE_ANSWERS and policy != "notice":
        if policy == "voicemail" and answered_by != "machine_start":
            return ReceiptUpdate(sid, "delivered", None, "voicemail", reference)
        return ReceiptUpdate(sid, "failed_temporary", None, "machine", reference)
    return ReceiptUpdate(sid, "delivered", None, "completed", reference)


def map_call_status(sid: str, status: str, *, answered_by: str | None, error_code: str | None,
                    policy: MachinePolicy, reference: str | None = None) -> ReceiptUpdate:
    """Map ``CallStatus`` (+ ``AnsweredBy``, ``ErrorCode``) to a ``ReceiptUpdate`` (see the module table).

    Raises ``MalformedCallback`` for an unknown status.
    """
    code = error_code or None
    if status in IN_FLIGHT:
        return ReceiptUpdate(sid, "sent", code, status, reference)
    if status == "completed":
        return _completed(sid, answered_by or None, policy, reference)
    if status in ("busy", "no-answer"):
        return ReceiptUpdate(sid, "failed_temporary", code, status, reference)
    if status in ("failed", "canceled"):
        state: ReceiptState = "failed_permanent"
        return ReceiptUpdate(sid, state, code, status, reference, dead_contact=(code or "") in DEAD_CODES)
    raise MalformedCallback(f"unknown Twilio CallStatus {status[:40]!r}")


def parse_call_status(url: str, form: Mapping[str, str], signature: str | None, auth_token: str, *,
                      policy: MachinePolicy) -> ReceiptUpdate:
    """Verify and map one call status callback (``url`` with its query string, ``form``, the
    ``X-Twilio-Signature``). Raises ``ForgedCallback`` (bad or missing signature) or ``MalformedCallback``
    (no ``CallSid``/``CallStatus``, or an unknown status)."""
    params = verified_params(url, form, signature, auth_token)
    sid, status = params.get("CallSid"), params.get("CallStatus")
    if not sid or not status:
        raise MalformedCallback("call status callback without CallSid or CallStatus")
    return map_call_status(sid, status, answered_by=params.get("AnsweredBy"), error_code=params.get("ErrorCode"),
                           policy=policy, reference=reference_of(url))
