"""The embedded default's outbox viewer: the sandbox channel records each full message here, encrypted.

``DbRecorder`` is the ``Recorder`` given to ``SandboxChannel``; it writes one ``SandboxMessage`` in its own
short transaction (the sandbox "provider" accepting the message).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from app import db
from app.channels.sandbox import SandboxRecord
from app.clock import Clock
from app.crypto import FieldCipher
from app.dispatch.models import SandboxMessage


class DbRecorder:
    """Writes every ``SandboxRecord`` to ``sandbox_message`` (recipient and content encrypted)."""

    def __init__(self, engine: Engine, cipher: FieldCipher, clock: Clock) -> None:
        self._engine, self._cipher, self._clock = engine, cipher, clock

    def __call__(self, record: SandboxRecord) -> None:
        content = record.content.decode("utf-8", "replace")
        row = SandboxMessage(delivery_id=int(record.reference) if record.reference.isdigit() else None,
                             channel=record.channel, provider_id=record.provider_id,
                             subject_line=record.subject[:500], recipient_enc=self._cipher.encrypt(record.recipient),
                             content_enc=self._cipher.encrypt(content), recorded_at=self._clock.now())
        with db.session_scope(self._engine) as session:
            session.add(row)
            session.commit()


@dataclass(frozen=True)
class OutboxItem:
    """One recorded message, decrypted for the viewer."""

    id: int
    delivery_id: int | None
    channel: str
    provider_id: str
    subject_line: str
    recipient: str
    content: str
    recorded_at: str


def _item(row: SandboxMessage, cipher: FieldCipher) -> OutboxItem:
    return OutboxItem(row.id or 0, row.delivery_id, row.channel, row.provider_id, row.subject_line,
                      cipher.decrypt(row.recipient_enc), cipher.decrypt(row.content_enc),
                      row.recorded_at.strftime("%Y-%m-%d %H:%M:%S"))


def recent(session: Session, *, cipher: FieldCipher, limit: int = 100, channel: str | None = None) -> list[OutboxItem]:
    """The newest ``limit`` recorded messages, newest first (optionally of one ``channel``)."""
    query = select(SandboxMessage).order_by(col(SandboxMessage.id).desc()).limit(limit)
    if channel:
        query = query.where(col(SandboxMessage.channel) == channel)
    return [_item(row, cipher) for row in session.execute(query).scalars()]


def one(session: Session, *, cipher: FieldCipher, message_id: int) -> OutboxItem | None:
    """One recorded message, or None."""
    row = session.get(SandboxMessage, message_id)
    return _item(row, cipher) if row is not None else None
