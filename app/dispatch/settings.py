"""Dispatch settings from the Flask config: channel order, rates, concurrency, timeouts, retries, channels.

``parse_per_channel("email=50,sms=1")`` -> ``{"email": 50.0, "sms": 1.0}``; every value is a number.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.channels.registry import CHANNEL_NAMES
from app.channels.twilio_voice import MACHINE_POLICIES, MachinePolicy
from app.dispatch.quiet import Window, parse_window

CHANNEL_SETTING_KEYS = ("DISPATCH_MODE", "SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_USERNAME", "SMTP_PASSWORD",
                        "SMTP_TIMEOUT", "SMTP_CA_FILE", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM",
                        "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_BASE_URL", "TWILIO_TIMEOUT", "TWILIO_VOICE_FROM",
                        "VAPID_PRIVATE_KEY", "VAPID_SUBJECT", "WEBPUSH_TIMEOUT")
KNOWN_CHAIN = (*CHANNEL_NAMES, "letter")
DEFAULT_CHAIN = "email,sms,voice,push,letter"
DEFAULT_RECEIPT_TIMEOUTS = "sms=600,voice=900"
WEBHOOK_PATH = "/webhooks/twilio/status"
VOICE_ANSWER_PATH = "/webhooks/twilio/voice/answer"
VOICE_GATHER_PATH = "/webhooks/twilio/voice/gather"
VOICE_STATUS_PATH = "/webhooks/twilio/voice/status"


def parse_per_channel(name: str, text: str) -> dict[str, float]:
    """``"email=50,sms=1"`` -> ``{"email": 50.0, "sms": 1.0}``; ``ValueError`` naming ``name`` on a bad item."""
    out: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{name}: {item!r} is not channel=number") from None
        if key.strip() not in KNOWN_CHAIN or number < 0:
            raise ValueError(f"{name}: {item!r} names an unknown channel or a negative number")
        out[key.strip()] = number
    return out


def parse_chain(text: str) -> tuple[str, ...]:
    """``"email,sms,push,letter"`` -> the tuple; ``ValueError`` on an unknown or repeated channel."""
    chain = tuple(p.strip() for p in text.split(",") if p.strip())
    if not chain or any(c not in KNOWN_CHAIN for c in chain) or len(set(chain)) != len(chain):
        raise ValueError(f"channel order must be distinct names out of {', '.join(KNOWN_CHAIN)}: {text!r}")
    return chain


@dataclass(frozen=True)
class DispatchSettings:
    """Everything the dispatch services and workers need besides the session and the clock.

    Rates are messages per second per worker process (already divided by the worker count; 0 = unlimited);
    timeouts, backoff and claim timeout in seconds; ``channels`` the mapping for
    ``app.channels.build_channels``; ``link_key`` the HMAC key of personal links (32 bytes); ``letters``:
    a letter drop is configured, so ``letter`` deliveries are made and posted in batches (``app.letters``);
    ``quiet_hours`` the local calling window of voice calls (``app.dispatch.quiet``); ``voice_machine`` what a
    call does on an answering machine (``voicemail``, ``hangup`` or ``notice``: ``app.channels.twilio_voice``).
    """

    chain: tuple[str, ...] = ("email", "sms", "voice", "push", "letter")
    rates: Mapping[str, float] = field(default_factory=dict)
    concurrency: Mapping[str, int] = field(default_factory=dict)
    receipt_timeouts: Mapping[str, float] = field(default_factory=lambda: {"sms": 600.0, "voice": 900.0})
    max_attempts: int = 5
    backoff_base: float = 30.0
    backoff_cap: float = 3600.0
    claim_timeout: float = 300.0
    public_url: str = "http://127.0.0.1:5000"
    link_days: int = 365
    link_key: bytes = b"\0" * 32
    channels: Mapping[str, str] = field(default_factory=dict)
    letters: bool = False

    def with_letters(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """``names`` (channels with a sender) plus ``letter`` when a letter drop is configured."""
        return (*names, "letter") if self.letters and "letter" not in names else names
    quiet_hours: Window = field(default_factory=lambda: parse_window("08:00-21:00"))
    voice_machine: MachinePolicy = "voicemail"

    def voice_url(self, path: str) -> str:
        """A voice webhook URL (``VOICE_ANSWER_PATH``, ``VOICE_GATHER_PATH``, ``VOICE_STATUS_PATH``)."""
        return self.public_url.rstrip("/") + path

    @property
    def sandbox(self) -> bool:
        """True unless ``DISPATCH_MODE`` is ``live``."""
        return self.channels.get("DISPATCH_MODE", "sandbox") != "live"

    @property
    def callback_url(self) -> str:
        """Where Twilio posts status callbacks."""
        return self.public_url.rstrip("/") + WEBHOOK_PATH

    def rate(self, channel: str) -> float:
        """Messages per second for ``channel`` in this worker (0 = unlimited)."""
        return float(self.rates.get(channel, 0.0))

    def threads(self, channel: str) -> int:
        """Parallel senders for ``channel`` (at least 1)."""
        return max(1, int(self.concurrency.get(channel, 1)))


def link_key(secret_key: str) -> bytes:
    """The personal-link HMAC key derived from the Flask ``SECRET_KEY`` (32 bytes)."""
    return hmac.new(secret_key.encode(), b"breach-notify/notice-link", hashlib.sha256).digest()


def machine_policy(text: str) -> MachinePolicy:
    """``VOICE_MACHINE_POLICY`` checked: ``voicemail``, ``hangup`` or ``notice``; ``ValueError`` otherwise."""
    for policy in MACHINE_POLICIES:
        if text.strip() == policy:
            return policy
    raise ValueError(f"VOICE_MACHINE_POLICY: {text!r} is not one of {', '.join(MACHINE_POLICIES)}")


def from_config(config: Mapping[str, Any]) -> DispatchSettings:
    """``DispatchSettings`` from a Flask config mapping (see ``app.config.SETTINGS``); ``ValueError`` naming
    the setting on a bad value."""
    workers = max(1, int(config.get("DISPATCH_WORKERS", 1)))
    rates = {k: v / workers for k, v in parse_per_channel("DISPATCH_RATES",
                                                          str(config.get("DISPATCH_RATES", ""))).items()}
    concurrency = {k: int(v) for k, v in parse_per_channel(
        "DISPATCH_CONCURRENCY", str(config.get("DISPATCH_CONCURRENCY", ""))).items()}
    channels = {k: str(config[k]) for k in CHANNEL_SETTING_KEYS if config.get(k) not in (None, "")}
    return DispatchSettings(
        chain=parse_chain(str(config.get("DISPATCH_CHANNELS", DEFAULT_CHAIN))), rates=rates,
        concurrency=concurrency,
        receipt_timeouts=parse_per_channel("RECEIPT_TIMEOUTS",
                                           str(config.get("RECEIPT_TIMEOUTS", DEFAULT_RECEIPT_TIMEOUTS))),
        max_attempts=int(config.get("DISPATCH_MAX_ATTEMPTS", 5)),
        backoff_base=float(config.get("DISPATCH_BACKOFF", 30)),
        claim_timeout=float(config.get("CLAIM_TIMEOUT", 300)),
        public_url=str(config.get("PUBLIC_URL", "http://127.0.0.1:5000")),
        link_days=int(config.get("LINK_DAYS", 365)), link_key=link_key(str(config.get("SECRET_KEY", ""))),
        channels=channels, letters=bool(config.get("LETTER_DROP")),
        quiet_hours=parse_window(str(config.get("VOICE_QUIET_HOURS", "08:00-21:00"))),
        voice_machine=machine_policy(str(config.get("VOICE_MACHINE_POLICY", "voicemail"))))
