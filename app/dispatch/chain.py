"""The fallback chain per person: which channel, contact and notice version come next, and why.

A person's chain is the run's channel order, keeping only channels that have an approved notice version, a
sender (in live mode a channel without settings has none; ``letter`` has one when a letter drop is
configured: its deliveries wait in ``queued`` for a print-and-post batch, ``app.letters``) and a
usable contact of the person. Every channel left out is named in the explanation (``reason``) of the next
delivery, or of the substitute-pool entry when nothing is left. Explanations never hold contact data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session, col

from app.notices.rendering import locale_chain
from app.subjects.models import DataSubject, SubjectIdentifier

CONTACT_KIND = {"email": "email", "sms": "phone", "voice": "phone", "push": "push", "letter": "address"}
CONTACT_WORD = {"email": "email address", "sms": "mobile number", "voice": "phone number",
                "push": "push subscription", "letter": "postal address"}


@dataclass(frozen=True)
class Person:
    """What the chain needs about one subject: ``contacts`` maps a contact kind to the id of its first usable
    identifier; ``language`` is the preferred language tag or None."""

    subject_id: int
    language: str | None
    contacts: Mapping[str, int]


@dataclass(frozen=True)
class Step:
    """The next delivery for a person: ``channel``, the contact ``identifier_id``, the ``version_id`` in the
    person's locale and the ``reason`` it was chosen (with the channels skipped on the way)."""

    channel: str
    identifier_id: int
    version_id: int
    reason: str


@dataclass(frozen=True)
class Exhausted:
    """No channel is left: ``kind`` is ``unreachable`` (no delivery was ever possible) or ``exhausted``."""

    kind: str
    reason: str


def people(session: Session, subject_ids: Sequence[int]) -> list[Person]:
    """``Person`` rows for ``subject_ids`` (database only, nothing decrypted), in the given order."""
    contacts: dict[int, dict[str, int]] = {sid: {} for sid in subject_ids}
    rows = session.execute(select(col(SubjectIdentifier.subject_id), col(SubjectIdentifier.kind),
                                  col(SubjectIdentifier.id))
                           .where(col(SubjectIdentifier.subject_id).in_(subject_ids),
                                  col(SubjectIdentifier.usable).is_(True),
                                  col(SubjectIdentifier.kind).in_(tuple(CONTACT_KIND.values())))
                           .order_by(col(SubjectIdentifier.id)))
    for sid, kind, ident in rows:
        contacts[sid].setdefault(kind, ident)
    languages = dict(session.execute(select(col(DataSubject.id), col(DataSubject.preferred_language))
                                     .where(col(DataSubject.id).in_(subject_ids))).all())
    return [Person(sid, languages.get(sid), contacts[sid]) for sid in subject_ids]


def pick_version(by_locale: Mapping[str, int], language: str | None, default_locale: str) -> int | None:
    """The version id for the person's language (with truncation), else the default locale, else any."""
    for locale in locale_chain(language, default_locale):
        if locale in by_locale:
            return by_locale[locale]
    return next(iter(sorted(by_locale.items())), (None, None))[1]


def next_step(person: Person, *, order: Sequence[str], after: str | None, versions: Mapping[str, Mapping[str, int]],
              senders: Iterable[str], default_locale: str, tried: Iterable[str] = (),
              why: str | None = None) -> Step | Exhausted:
    """The first usable channel of ``order`` after ``after`` (from the start when None) not in ``tried``.

    ``why`` says what happened on the previous channel ("email failed permanently: 550 ..."); it starts
    the explanation. Returns ``Exhausted`` when no channel is left.
    """
    start = order.index(after) + 1 if after in order else 0
    notes = [why] if why else []
    can_send, done = set(senders), set(tried)
    for channel in order[start:]:
        if channel in done:
            continue
        version = pick_version(versions.get(channel, {}), person.language, default_locale)
        identifier = person.contacts.get(CONTACT_KIND[channel])
        if version is None:
            notes.append(f"{channel} skipped: no approved notice version")
        elif channel not in can_send:
            notes.append(f"{channel} skipped: no sender configured"
                         + (" (no letter drop: BREACH_NOTIFY_LETTER_DROP)" if channel == "letter" else ""))
        elif identifier is None:
            notes.append(f"{channel} skipped: no usable {CONTACT_WORD[channel]}")
        else:
            head = "first channel" if after is None else f"fallback from {after}"
            return Step(channel, identifier, version, "; ".join([head, *notes]))
    kind = "unreachable" if after is None and not done else "exhausted"
    return Exhausted(kind, "; ".join([*notes, "no channel left: substitute notice"]))
