"""Rendering one claimed delivery into an outbound message, with no database session open.

The notice is rendered from the approved version's *stored* templates (``NoticeRenderer.from_sources``,
one renderer per version, cached) for the person: decrypted name, preferred language and a personal link
``<PUBLIC_URL>/n/<token>`` whose ref is ``d<delivery id>``. Email gets ``Message-ID:
<delivery-<id>@<sender domain>>``; SMS the status-callback URL; voice every spoken part, the answer and
status URLs and the answering-machine detection of the policy; push the compact JSON payload.

Each builder renders a version's templates once per (language, date) into a ``Skeleton``
(``app.notices.skeleton``) and fills in the person's name and link; a template that looks at those values
is rendered per person. Either way the message is the same, byte for byte.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.channels.base import EmailOutbound, OutboundMessage, PushOutbound, SmsOutbound, VoiceOutbound
from app.channels.twilio_voice import DETECTION
from app.crypto import FieldCipher
from app.dispatch.outbox import Job
from app.dispatch.settings import VOICE_ANSWER_PATH, VOICE_STATUS_PATH, DispatchSettings
from app.notices.context import IncidentFacts, NoticeContext, Recipient
from app.notices.email_build import Mailbox, wire_email
from app.notices.links import make_link_token, personal_link
from app.notices.models import NoticeVersion
from app.notices.push import build_push_payload
from app.notices.rendering import NoticeRenderer, NoticeRenderError, RenderedNotice
from app.notices.skeleton import Skeleton, make_skeleton
from app.notices.sms import sms_text

NAMELESS = "Customer"
"""The salutation name for a person whose name is unknown."""
_UNSEEN = object()
_SKELETONS = 512


@dataclass(frozen=True)
class VersionInfo:
    """An approved version ready to render: its renderer over the stored sources, folder, regime, the
    validated facts of its snapshot, the email sender and Reply-To of that snapshot (what was approved) and
    whether SMS text is normalised to GSM-7 (the setting it was approved with; ``app.notices.sms``)."""

    version_id: int
    channel: str
    regime: str
    folder: tuple[str, str]
    renderer: NoticeRenderer
    facts: IncidentFacts
    sender: Mailbox
    reply_to: Mailbox | None
    incident_id: int = 0
    sms_normalise: bool = True


def load_versions(session: Session, ids: Iterable[int]) -> dict[int, VersionInfo]:
    """``VersionInfo`` for each version id, entirely from what the version stores: its templates and its facts
    snapshot, sender and Reply-To included. The incident's live ``NoticeFacts`` are never read, so an edit
    after approval (which drafts a new version needing its own approval) cannot change what is sent."""
    out: dict[int, VersionInfo] = {}
    wanted = sorted(set(ids))
    if not wanted:
        return out
    for version in session.exec(select(NoticeVersion).where(col(NoticeVersion.id).in_(wanted))).all():
        snapshot = version.facts_snapshot
        renderer = NoticeRenderer.from_sources({t["name"]: t["source"] for t in version.templates.values()})
        reply_to = snapshot.get("reply_to")
        out[version.id or 0] = VersionInfo(version.id or 0, version.channel, version.regime,
                                           (version.template_regime, version.template_locale), renderer,
                                           IncidentFacts.model_validate(snapshot["facts"]),
                                           Mailbox(snapshot["sender_name"], snapshot["sender_address"]),
                                           Mailbox(snapshot["sender_name"], reply_to) if reply_to else None,
                                           version.incident_id, bool(version.checks.get("sms_normalise", True)))
    return out


class MessageBuilder:
    """Builds the outbound message of a ``Job`` (decrypting its contact data) at time ``now``;
    ``skeletons=False`` renders every notice in full (see ``render``).

    Raises ``ValueError`` (or a subclass: bad address, header injection, render failure) when the
    message cannot be built; the caller records that as a permanent failure.
    """

    def __init__(self, cipher: FieldCipher, settings: DispatchSettings, *, skeletons: bool = True) -> None:
        self._cipher = cipher
        self._settings = settings
        self._use_skeletons = skeletons
        self._skeletons: dict[tuple[object, ...], Skeleton | None] = {}

    def link(self, delivery_id: int, now: dt.datetime) -> str:
        """The person's link to the full notice."""
        token = make_link_token(f"d{delivery_id}", key=self._settings.link_key,
                                expires_at=now + dt.timedelta(days=self._settings.link_days))
        return personal_link(self._settings.public_url, token)

    def render(self, info: VersionInfo, recipient: Recipient, notice_date: dt.date) -> RenderedNotice:
        """The notice of ``info`` for ``recipient``: filled into the skeleton of (version, language, date)
        when its templates allow it (``app.notices.skeleton``), else rendered in full. The first person of
        each skeleton is rendered both ways and the skeleton dropped if they differ. Raises
        ``NoticeRenderError``."""
        key = (info.version_id, info.channel, info.folder, info.regime, recipient.preferred_language, notice_date)
        values = {"full_name": recipient.full_name, "personal_link": str(recipient.personal_link)}
        skeleton = self._skeletons.get(key, _UNSEEN) if self._use_skeletons else None
        if isinstance(skeleton, Skeleton):
            return skeleton.fill(values)
        context = NoticeContext(facts=info.facts, recipient=recipient, notice_date=notice_date)
        notice = info.renderer.render_resolved(channel=info.channel, folder=info.folder,
                                               requested_regime=info.regime, context=context)
        if skeleton is _UNSEEN:
            try:
                made = make_skeleton(info.renderer, channel=info.channel, folder=info.folder,
                                     requested_regime=info.regime, values=context.template_vars())
            except NoticeRenderError:
                made = None
            if len(self._skeletons) >= _SKELETONS:
                self._skeletons.clear()
            self._skeletons[key] = made if made is not None and made.fill(values) == notice else None
        return notice

    def build(self, job: Job, info: VersionInfo, now: dt.datetime) -> OutboundMessage:
        """The message for ``job`` rendered from ``info``."""
        if job.contact_enc is None:
            raise ValueError("delivery has no contact")
        contact = self._cipher.decrypt(job.contact_enc)
        name = (self._cipher.decrypt(job.name_enc) if job.name_enc else "").strip() or NAMELESS
        recipient = Recipient(full_name=" ".join(name.split()), preferred_language=job.language,
                              personal_link=self.link(job.delivery_id, now))
        notice = self.render(info, recipient, now.date())
        parts, ref = notice.parts, str(job.delivery_id)
        if info.channel == "email":
            domain = info.sender.address.rpartition("@")[2] or "localhost"
            message = wire_email(sender=info.sender, reply_to=info.reply_to, to=Mailbox(name, contact),
                                 subject=parts["subject"], text=parts["text"], html=parts["html"],
                                 delivery_id=ref, domain=domain, sent_at=now)
            return EmailOutbound(message, info.sender.address, contact, ref)
        if info.channel == "sms":
            return SmsOutbound(contact, sms_text(parts["text"], normalise=info.sms_normalise),
                               None if self._settings.sandbox else self._settings.callback_url, ref)
        if info.channel == "voice":
            spoken = {**parts, "sms": sms_text(parts["sms"], normalise=info.sms_normalise)}
            return VoiceOutbound(contact, spoken, notice.locale, self._settings.voice_url(VOICE_ANSWER_PATH),
                                 None if self._settings.sandbox else self._settings.voice_url(VOICE_STATUS_PATH),
                                 DETECTION[self._settings.voice_machine], ref)
        if info.channel == "push":
            payload = build_push_payload(title=parts["title"], body=parts["body"], url=str(recipient.personal_link))
            return PushOutbound(json.loads(contact), payload, 7 * 86400, "high", ref)
        raise ValueError(f"channel {info.channel!r} has no sender")
