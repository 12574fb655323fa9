"""The embedded default channel: it "sends" by recording the full message, without any network.

The recorder is a callable (``SandboxRecord -> None``); ``MemoryRecorder`` keeps the newest records in
memory, and the dispatch layer can pass one that writes the outbox viewer's table instead.
"""

from __future__ import annotations

import email.policy
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser

from app.channels.base import EmailOutbound, OutboundMessage, PushOutbound, SendResult, SmsOutbound, VoiceOutbound


@dataclass(frozen=True)
class SandboxRecord:
    """One message the sandbox "sent".

    ``channel`` (the channel's name), ``provider_id`` (``sandbox-<hex>``), ``reference`` (our delivery id),
    ``kind`` (``email``/``sms``/``voice``/``push``), ``recipient`` (address, number or push endpoint), ``subject``
    (email subject, else empty), ``content`` (email: the whole RFC 5322 message; sms: the UTF-8 body;
    voice: every spoken part, labelled; push: the plaintext payload) and ``details`` (envelope sender,
    callback URL, TTL, urgency ...).
    """

    channel: str
    provider_id: str
    reference: str
    kind: str
    recipient: str
    subject: str
    content: bytes
    details: dict[str, str] = field(default_factory=dict)


Recorder = Callable[[SandboxRecord], None]


class MemoryRecorder:
    """Keeps the newest ``limit`` records in memory (thread-safe); ``records()`` returns them oldest first."""

    def __init__(self, limit: int = 10_000) -> None:
        self._items: deque[SandboxRecord] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def __call__(self, record: SandboxRecord) -> None:
        with self._lock:
            self._items.append(record)

    def records(self) -> list[SandboxRecord]:
        """A copy of the kept records, oldest first."""
        with self._lock:
            return list(self._items)


def to_record(channel: str, message: OutboundMessage, provider_id: str) -> SandboxRecord:
    """The ``SandboxRecord`` for ``message`` (any kind)."""
    if isinstance(message, EmailOutbound):
        mail = message.message
        parsed = BytesHeaderParser(policy=email.policy.default).parsebytes(mail) if isinstance(mail, bytes) else mail
        return SandboxRecord(channel, provider_id, message.reference, "email", message.envelope_to,
                             str(parsed.get("Subject", "")), mail if isinstance(mail, bytes) else mail.as_bytes(),
                             {"envelope_from": message.envelope_from})
    if isinstance(message, SmsOutbound):
        return SandboxRecord(channel, provider_id, message.reference, "sms", message.to, "",
                             message.body.encode("utf-8"), {"status_callback": message.status_callback or ""})
    if isinstance(message, VoiceOutbound):
        spoken = "\n\n".join(f"[{part}]\n{text}" for part, text in message.parts.items())
        return SandboxRecord(channel, provider_id, message.reference, "voice", message.to, "",
                             spoken.encode("utf-8"), {"locale": message.locale,
                                                      "machine_detection": message.machine_detection or ""})
    endpoint = str(message.subscription.get("endpoint", ""))
    return SandboxRecord(channel, provider_id, message.reference, "push", endpoint, "", message.payload,
                         {"ttl_seconds": str(message.ttl_seconds), "urgency": message.urgency,
                          "topic": message.topic or ""})


class SandboxChannel:
    """A ``Channel`` that records every message with ``recorder`` and answers ``accepted``.

    ``name`` is the channel it stands in for (``email``, ``sms``, ``voice``, ``push``); ``id_factory`` makes provider
    ids (default ``sandbox-<uuid4 hex>``). A recorder that raises is a bug and propagates.
    """

    def __init__(self, name: str, recorder: Recorder, *, id_factory: Callable[[], str] | None = None) -> None:
        self.name = name
        self._recorder = recorder
        self._new_id = id_factory or (lambda: f"sandbox-{uuid.uuid4().hex}")

    def send(self, message: OutboundMessage) -> SendResult:
        """Record ``message`` and return ``accepted`` with the sandbox id."""
        if not isinstance(message, EmailOutbound | SmsOutbound | PushOutbound | VoiceOutbound):
            raise TypeError(f"not an outbound message: {type(message).__name__}")
        provider_id = self._new_id()
        self._recorder(to_record(self.name, message, provider_id))
        return SendResult("accepted", provider_id=provider_id, provider_status="sandbox")

    def close(self) -> None:
        """Nothing to release."""
