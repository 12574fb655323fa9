"""The channel interface: one outbound message in, one ``SendResult`` out; provider vocabulary stops here.

A channel (``SmtpChannel``, ``TwilioSmsChannel``, ``TwilioVoiceChannel``, ``WebPushChannel``, ``SandboxChannel``)
never touches the database, never reads global configuration and never raises for a provider answer: every
provider outcome is mapped to ``SendResult`` (``accepted``, ``temporary_failure`` or ``permanent_failure``). Only
programming errors (a message of the wrong kind: ``WrongMessageKind``) raise.

Delivery receipts that arrive later (Twilio message and call status callbacks) are mapped to ``ReceiptUpdate``.

Privacy rule for every channel: ``error_message`` and log lines never contain the recipient's address,
number, push endpoint or the message body. Provider texts are not copied verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol

Outcome = Literal["accepted", "temporary_failure", "permanent_failure"]
ReceiptState = Literal["delivered", "failed_permanent", "failed_temporary", "sent"]
Urgency = Literal["very-low", "low", "normal", "high"]

_EMAILISH = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")
_PHONEISH = re.compile(r"\+?\d[\d ().-]{5,}\d")


def redact(text: str, limit: int = 200) -> str:
    """``text`` with anything that looks like an email address or phone number replaced by ``<redacted>``.

    Used on provider texts before they become ``SendResult.error_message``; the result is cut to ``limit``
    characters.
    """
    cleaned = _PHONEISH.sub("<redacted>", _EMAILISH.sub("<redacted>", text))
    return " ".join(cleaned.split())[:limit]


@dataclass(frozen=True)
class SendResult:
    """What a provider said about one send attempt.

    * ``outcome``: ``accepted`` (the provider took the message; a later receipt may still fail it),
      ``temporary_failure`` (retry later, after ``retry_after_seconds`` when given) or
      ``permanent_failure`` (do not retry on this channel; fall back).
    * ``provider_id``: the provider's message id (Twilio ``SM...`` sid, Web Push ``Location``, sandbox id).
    * ``provider_status``: the provider's own status word or enhanced code (``queued``, ``5.1.1``, ``201``).
    * ``error_code``: the provider's code as text (``"21610"``, ``"550"``, ``"410"``) or one of ours
      (``"connect"``, ``"timeout"``, ``"tls"``, ``"auth"``, ``"disconnected_in_data"``).
    * ``error_message``: a short, redacted explanation; never the address, number or body.
    * ``retry_after_seconds``: seconds to wait before retrying, from the provider's ``Retry-After``.
    * ``dead_contact``: the address itself can never work (push subscription gone, invalid number,
      mailbox unknown); the caller retires it for every channel that uses it (a phone number serves SMS
      and voice), so a channel-only refusal (SMS opt-out, not a mobile number) is not dead.
    """

    outcome: Outcome
    provider_id: str | None = None
    provider_status: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    retry_after_seconds: float | None = None
    dead_contact: bool = False

    @property
    def accepted(self) -> bool:
        """True when ``outcome == "accepted"``."""
        return self.outcome == "accepted"


@dataclass(frozen=True)
class ReceiptUpdate:
    """A delivery receipt mapped to our states.

    ``state``: ``sent`` (still in flight: queued, accepted, sending or handed to the carrier),
    ``delivered``, ``failed_temporary`` (worth retrying) or ``failed_permanent`` (fall back).
    ``reference`` is our delivery id when the channel put it in the callback URL; ``provider_status`` is
    the provider's word (``undelivered``); ``dead_contact`` as in ``SendResult``.
    """

    provider_id: str
    state: ReceiptState
    error_code: str | None = None
    provider_status: str | None = None
    reference: str | None = None
    dead_contact: bool = False


@dataclass(frozen=True)
class EmailOutbound:
    """An email plus its SMTP envelope: ``message`` is built by ``app.notices.email_build.build_email``, or is
    already the wire form (CRLF bytes from ``wire_email``, what dispatch sends).

    ``envelope_from`` is the MAIL FROM (bounce) address, ``envelope_to`` the one RCPT TO address;
    ``reference`` is our delivery id (for logs; the Message-ID already carries it).
    """

    message: EmailMessage | bytes
    envelope_from: str
    envelope_to: str
    reference: str


@dataclass(frozen=True)
class SmsOutbound:
    """One SMS: ``to`` in E.164 (``+4915112345678``), the ``body``, the ``status_callback`` URL of our
    receipt webhook (or ``None``) and ``reference``, our delivery id, which the channel adds to the
    callback URL as ``?ref=`` so a receipt joins back to the delivery even before the sid is stored."""

    to: str
    body: str
    status_callback: str | None
    reference: str


@dataclass(frozen=True)
class PushOutbound:
    """One Web Push: the browser's ``subscription`` (``{"endpoint", "keys": {"p256dh", "auth"}}``), the
    plaintext ``payload`` (at most 3993 bytes, see ``app.notices.push``), ``ttl_seconds`` the push service
    keeps it for an offline device, ``urgency`` (RFC 8030 5.3) and ``reference``, our delivery id."""

    subscription: Mapping[str, Any]
    payload: bytes
    ttl_seconds: int
    urgency: Urgency
    reference: str
    topic: str | None = field(default=None)


@dataclass(frozen=True)
class VoiceOutbound:
    """One voice call: ``to`` in E.164, the spoken ``parts`` rendered from the person's ``voice`` notice
    (``notice``, ``voicemail``, ``menu``, ``sent``, and the link SMS ``sms`` as it is sent:
    ``app.notices.sms.sms_text``), ``locale`` of the rendered templates (picks the ``<Say>`` voice),
    ``answer_url`` (Twilio fetches the TwiML there, with ``AnsweredBy``), ``status_callback`` (or ``None``),
    ``machine_detection`` (``DetectMessageEnd``, ``Enable`` or ``None``) and ``reference``, our delivery id
    (added to both URLs as ``?ref=``)."""

    to: str
    parts: Mapping[str, str]
    locale: str
    answer_url: str
    status_callback: str | None
    machine_detection: str | None
    reference: str


OutboundMessage = EmailOutbound | SmsOutbound | PushOutbound | VoiceOutbound


class WrongMessageKind(TypeError):
    """A channel was given a message of another channel's kind (a programming error)."""

    def __init__(self, channel: str, message: object) -> None:
        super().__init__(f"channel {channel!r} cannot send {type(message).__name__}")


class Channel(Protocol):
    """A sender for one kind of message.

    ``send`` maps every provider answer to a ``SendResult`` and raises only ``WrongMessageKind``;
    ``close`` releases connections (the channel may be used again afterwards and reconnects).
    Implementations serialise concurrent ``send`` calls; use one channel per worker thread for speed.
    """

    name: str

    def send(self, message: OutboundMessage) -> SendResult:
        """Send one message; see ``SendResult`` for the outcomes."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (RFC 9110 10.2.3): delta-seconds or an HTTP-date.

    ``now`` is the current Unix time in seconds (injected). Returns ``None`` for a missing or unreadable
    value, never a negative number.
    """
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)
