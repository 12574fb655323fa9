"""Build the channels from a plain settings mapping (the dispatch layer derives it from the environment).

Settings (all strings; unknown keys are ignored):

=============================  ====================================================================
name                           meaning
=============================  ====================================================================
DISPATCH_MODE                  ``sandbox`` (default): every channel is a ``SandboxChannel`` that records
                               instead of sending. ``live``: the channels below, for those configured.
SMTP_HOST, SMTP_PORT           SMTP server; port defaults to 587 (starttls), 465 (tls) or 25 (none).
SMTP_SECURITY                  ``starttls`` (default), ``tls`` or ``none`` (loopback only).
SMTP_USERNAME, SMTP_PASSWORD   AUTH credentials (both or neither).
SMTP_TIMEOUT                   socket timeout in seconds (default 30).
SMTP_CA_FILE                   PEM bundle to trust instead of the system store.
TWILIO_ACCOUNT_SID             ``AC...``; with TWILIO_AUTH_TOKEN enables SMS.
TWILIO_AUTH_TOKEN              API auth token, also the key of status-callback signatures.
TWILIO_FROM                    sender number (E.164), or
TWILIO_MESSAGING_SERVICE_SID   ``MG...`` messaging service (one of the two is required).
TWILIO_BASE_URL                redirect the API (sandbox peer, e.g. ``http://127.0.0.1:8111``); unset in
                               production.
TWILIO_TIMEOUT                 HTTP timeout in seconds (default 10).
TWILIO_VOICE_FROM              caller ID of voice calls (E.164; default TWILIO_FROM); with the account SID
                               and token enables voice calls.
VAPID_PRIVATE_KEY              PEM or raw base64url P-256 key; with VAPID_SUBJECT enables Web Push.
VAPID_SUBJECT                  ``mailto:dpo@example.org`` or an ``https:`` URL.
WEBPUSH_TIMEOUT                HTTP timeout in seconds (default 10).
=============================  ====================================================================

In ``live`` mode a channel with none of its settings is left out (the fallback chain skips it); a channel
with some but not all required settings raises ``ChannelConfigError`` naming the missing setting.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.channels.base import Channel
from app.channels.email_smtp import SmtpChannel
from app.channels.sandbox import MemoryRecorder, Recorder, SandboxChannel
from app.channels.twilio_sms import TwilioSmsChannel
from app.channels.twilio_voice import TwilioVoiceChannel
from app.channels.webpush import WebPushChannel

CHANNEL_NAMES = ("email", "sms", "voice", "push")
_SMTP_KEYS = ("SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_USERNAME", "SMTP_PASSWORD")
_TWILIO_KEYS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM", "TWILIO_MESSAGING_SERVICE_SID")
_VAPID_KEYS = ("VAPID_PRIVATE_KEY", "VAPID_SUBJECT")
_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class ChannelConfigError(ValueError):
    """A channel setting is missing or invalid; ``setting`` names it."""

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(f"{setting}: {reason}")
        self.setting = setting


def _get(settings: Mapping[str, str], key: str) -> str | None:
    value = settings.get(key)
    return value.strip() if value and value.strip() else None


def _number(settings: Mapping[str, str], key: str, default: float) -> float:
    value = _get(settings, key)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ChannelConfigError(key, f"not a number: {value!r}") from None
    if number <= 0:
        raise ChannelConfigError(key, "must be positive")
    return number


def _require(settings: Mapping[str, str], key: str) -> str:
    value = _get(settings, key)
    if value is None:
        raise ChannelConfigError(key, "required")
    return value


def build_smtp(settings: Mapping[str, str]) -> SmtpChannel | None:
    """``SmtpChannel`` from the SMTP_* settings, ``None`` when none is set."""
    if not any(_get(settings, key) for key in _SMTP_KEYS):
        return None
    security = _get(settings, "SMTP_SECURITY") or "starttls"
    if security not in _DEFAULT_PORTS:
        raise ChannelConfigError("SMTP_SECURITY", "must be starttls, tls or none")
    port = int(_number(settings, "SMTP_PORT", _DEFAULT_PORTS[security]))
    username, password = _get(settings, "SMTP_USERNAME"), _get(settings, "SMTP_PASSWORD")
    if (username is None) != (password is None):
        raise ChannelConfigError("SMTP_PASSWORD" if password is None else "SMTP_USERNAME",
                                 "SMTP_USERNAME and SMTP_PASSWORD go together")
    return SmtpChannel(_require(settings, "SMTP_HOST"), port, security=security,  # type: ignore[arg-type]
                       username=username, password=password, timeout=_number(settings, "SMTP_TIMEOUT", 30.0),
                       ca_file=_get(settings, "SMTP_CA_FILE"))


def build_twilio(settings: Mapping[str, str]) -> TwilioSmsChannel | None:
    """``TwilioSmsChannel`` from the TWILIO_* settings, ``None`` when none is set."""
    if not any(_get(settings, key) for key in _TWILIO_KEYS):
        return None
    sender, service = _get(settings, "TWILIO_FROM"), _get(settings, "TWILIO_MESSAGING_SERVICE_SID")
    if sender is None and service is None:
        raise ChannelConfigError("TWILIO_FROM", "TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID is required")
    return TwilioSmsChannel(_require(settings, "TWILIO_ACCOUNT_SID"), _require(settings, "TWILIO_AUTH_TOKEN"),
                            from_number=sender, messaging_service_sid=service,
                            base_url=_get(settings, "TWILIO_BASE_URL"),
                            timeout=_number(settings, "TWILIO_TIMEOUT", 10.0))


def build_voice(settings: Mapping[str, str]) -> TwilioVoiceChannel | None:
    """``TwilioVoiceChannel`` from the TWILIO_* settings, ``None`` without an account or a caller ID
    (TWILIO_VOICE_FROM, else TWILIO_FROM; a messaging service cannot place calls)."""
    caller = _get(settings, "TWILIO_VOICE_FROM") or _get(settings, "TWILIO_FROM")
    if caller is None or not any(_get(settings, key) for key in _TWILIO_KEYS):
        return None
    return TwilioVoiceChannel(_require(settings, "TWILIO_ACCOUNT_SID"), _require(settings, "TWILIO_AUTH_TOKEN"),
                              from_number=caller, base_url=_get(settings, "TWILIO_BASE_URL"),
                              timeout=_number(settings, "TWILIO_TIMEOUT", 10.0))


def build_webpush(settings: Mapping[str, str]) -> WebPushChannel | None:
    """``WebPushChannel`` from the VAPID_* settings, ``None`` when none is set."""
    if not any(_get(settings, key) for key in _VAPID_KEYS):
        return None
    key, subject = _require(settings, "VAPID_PRIVATE_KEY"), _require(settings, "VAPID_SUBJECT")
    try:
        return WebPushChannel(key, subject, timeout=_number(settings, "WEBPUSH_TIMEOUT", 10.0))
    except ValueError as exc:
        raise ChannelConfigError("VAPID_SUBJECT" if "subject" in str(exc) else "VAPID_PRIVATE_KEY",
                                 str(exc)) from None


def build_channels(settings: Mapping[str, str], *, recorder: Recorder | None = None) -> dict[str, Channel]:
    """The channels by name (``email``, ``sms``, ``voice``, ``push``) for ``settings``.

    In sandbox mode all four are ``SandboxChannel`` writing to ``recorder`` (default: a new
    ``MemoryRecorder``). Raises ``ChannelConfigError`` for an unknown DISPATCH_MODE or a half-configured
    channel. The caller owns the channels and calls ``close()`` on them.
    """
    mode = _get(settings, "DISPATCH_MODE") or "sandbox"
    if mode == "sandbox":
        sink: Recorder = recorder if recorder is not None else MemoryRecorder()
        return {name: SandboxChannel(name, sink) for name in CHANNEL_NAMES}
    if mode != "live":
        raise ChannelConfigError("DISPATCH_MODE", "must be sandbox or live")
    built: dict[str, Channel | None] = {"email": build_smtp(settings), "sms": build_twilio(settings),
                                        "voice": build_voice(settings), "push": build_webpush(settings)}
    return {name: channel for name, channel in built.items() if channel is not None}
