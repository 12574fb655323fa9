"""``/n/<token>``: the personal link in every SMS, push and email, showing that one person their full notice.

The token (``app.notices.links``) is HMAC-signed and expiring, and names a delivery (``d<id>``); the page
renders the approved email notice (or letter, or the delivery's own version) of the same regime and language
for that person, from the version's stored templates. It shows nothing about anyone else; a tampered or
unknown token answers 404, an expired one 410.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, make_response, render_template
from markupsafe import escape
from sqlalchemy import select
from sqlmodel import Session, col

from app.db import get_session
from app.dispatch.models import Delivery
from app.dispatch.render import NAMELESS, load_versions
from app.dispatch.wiring import settings_for
from app.errors import BreachNotifyError, NotFound
from app.notices.context import NoticeContext, Recipient
from app.notices.links import LinkTokenError, personal_link, verify_link_token
from app.notices.models import NoticeVersion
from app.subjects.models import DataSubject

bp = Blueprint("personal_notice", __name__)
FULL_NOTICE_CHANNELS = ("email", "letter")


class LinkExpired(BreachNotifyError):
    """The personal link is past its expiry."""

    status = 410
    code = "expired"


def _full_version(session: Session, own: NoticeVersion) -> NoticeVersion:
    for channel in FULL_NOTICE_CHANNELS:
        found: NoticeVersion | None = session.execute(select(NoticeVersion).where(
            col(NoticeVersion.incident_id) == own.incident_id, col(NoticeVersion.regime) == own.regime,
            col(NoticeVersion.audience) == own.audience, col(NoticeVersion.locale) == own.locale,
            col(NoticeVersion.channel) == channel, col(NoticeVersion.state) == "approved")).scalars().first()
        if found is not None:
            return found
    return own


def notice_for(session: Session, *, token: str, key: bytes, public_url: str, cipher: Any, now: Any
               ) -> tuple[str, str]:
    """``(locale, html)`` of the person's full notice; ``NotFound`` or ``LinkExpired``."""
    try:
        ref = verify_link_token(token, key=key, now=now)
    except LinkTokenError as exc:
        if exc.reason == "expired":
            raise LinkExpired("this link has expired; contact the organisation that wrote to you") from exc
        raise NotFound("no such notice") from exc
    delivery = session.get(Delivery, int(ref[1:])) if ref.startswith("d") and ref[1:].isdigit() else None
    own = session.get(NoticeVersion, delivery.notice_version_id) if delivery else None
    subject = session.get(DataSubject, delivery.subject_id) if delivery else None
    if delivery is None or own is None or subject is None:
        raise NotFound("no such notice")
    version = _full_version(session, own)
    info = load_versions(session, [version.id or 0])[version.id or 0]
    name = cipher.decrypt(subject.full_name_enc).strip() if subject.full_name_enc else NAMELESS
    recipient = Recipient(full_name=" ".join(name.split()) or NAMELESS, preferred_language=subject.preferred_language,
                          personal_link=personal_link(public_url, token))
    notice = info.renderer.render_resolved(channel=info.channel, folder=info.folder, requested_regime=info.regime,
                                           context=NoticeContext(facts=info.facts, recipient=recipient,
                                                                 notice_date=now.date()))
    text = notice.parts.get("text") or notice.parts.get("notice", "")  # a voice notice speaks its "notice" part
    html = notice.parts.get("html") or "<pre>" + str(escape(text)) + "</pre>"
    return version.locale, html


PRIVATE_PAGE_HEADERS = {"Cache-Control": "no-store, private", "X-Robots-Tag": "noindex, nofollow",
                        "Referrer-Policy": "no-referrer"}
"""A personal notice carries the person's name: no shared or browser cache keeps it, no search engine indexes
it, and no link on it tells another site the token (the link is the credential)."""


@bp.get("/n/<token>")
def show(token: str) -> Response:
    """The person's notice (public; the unguessable, signed token is the credential), never cached or indexed."""
    settings = settings_for(current_app)
    locale, html = notice_for(get_session(), token=token, key=settings.link_key, public_url=settings.public_url,
                              cipher=current_app.extensions["keys"].cipher(), now=current_app.extensions["clock"].now())
    response = make_response(render_template("public/personal.html", locale=locale, body=html))
    response.headers.update(PRIVATE_PAGE_HEADERS)
    return response
