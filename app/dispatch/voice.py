"""The voice-call webhooks' work: the TwiML Twilio fetches when a call is answered, the key-press menu, and the
link SMS of menu option 2. Call status callbacks go through the shared receipt path
(``app.dispatch.outcomes.apply_receipt``).

Each call renders the person's voice notice again from the approved version's stored templates (the same
``MessageBuilder`` the worker uses), so nothing spoken is stored outside the notice version. An unknown
delivery, or one that is not a voice delivery, gets a TwiML document that only hangs up.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlmodel import Session

from app.channels.base import Channel, SmsOutbound, VoiceOutbound
from app.channels.twilio_voice import answer_twiml, hangup_twiml, menu_twiml
from app.crypto import FieldCipher
from app.dispatch.models import DeliveryAttempt
from app.dispatch.outbox import jobs_for
from app.dispatch.render import MessageBuilder, load_versions
from app.dispatch.settings import VOICE_GATHER_PATH, DispatchSettings

log = logging.getLogger(__name__)


def call_message(session: Session, *, cipher: FieldCipher, settings: DispatchSettings, delivery_id: int,
                 now: dt.datetime) -> VoiceOutbound | None:
    """The ``VoiceOutbound`` of voice delivery ``delivery_id`` rendered at ``now``; None when there is no such
    voice delivery or it cannot be rendered."""
    found = jobs_for(session, [delivery_id])
    if not found or found[0].channel != "voice":
        return None
    job = found[0]
    info = load_versions(session, [job.version_id]).get(job.version_id)
    if info is None:
        return None
    try:
        message = MessageBuilder(cipher, settings).build(job, info, now)
    except (ValueError, KeyError):
        log.warning("delivery %s: voice notice could not be rendered for the call", delivery_id)
        return None
    return message if isinstance(message, VoiceOutbound) else None


def answer(session: Session, *, cipher: FieldCipher, settings: DispatchSettings, delivery_id: int,
           answered_by: str | None, now: dt.datetime) -> str:
    """The TwiML for an answered call (``answered_by``: Twilio's ``AnsweredBy``, None without detection)."""
    message = call_message(session, cipher=cipher, settings=settings, delivery_id=delivery_id, now=now)
    if message is None:
        return hangup_twiml()
    return answer_twiml(message, answered_by=answered_by, policy=settings.voice_machine,
                        gather_url=settings.voice_url(VOICE_GATHER_PATH))


def gather(session: Session, *, cipher: FieldCipher, settings: DispatchSettings, delivery_id: int, digits: str,
           sms: Channel | None, now: dt.datetime) -> str:
    """The TwiML after the person pressed ``digits``; for ``2`` the personal link is sent first with ``sms``
    (None: no SMS sender) and a ``voice:link_sms`` attempt row records the outcome (no number, no body).
    Commits."""
    message = call_message(session, cipher=cipher, settings=settings, delivery_id=delivery_id, now=now)
    if message is None:
        return hangup_twiml()
    sent = False
    if digits == "2":
        sent = _send_link(session, message, sms=sms, delivery_id=delivery_id, now=now)
    return menu_twiml(message, digits=digits, gather_url=settings.voice_url(VOICE_GATHER_PATH), link_sent=sent)


def _send_link(session: Session, message: VoiceOutbound, *, sms: Channel | None, delivery_id: int,
               now: dt.datetime) -> bool:
    if sms is None:
        session.add(DeliveryAttempt(delivery_id=delivery_id, at=now, outcome="voice:link_sms",
                                    error_code="no_sender", error_message="no SMS sender configured"))
        session.commit()
        return False
    result = sms.send(SmsOutbound(message.to, message.parts["sms"], None, message.reference))
    session.add(DeliveryAttempt(delivery_id=delivery_id, at=now, outcome="voice:link_sms",
                                provider_id=result.provider_id, provider_status=result.provider_status,
                                error_code=result.error_code, error_message=result.error_message or result.outcome))
    session.commit()
    return result.accepted
