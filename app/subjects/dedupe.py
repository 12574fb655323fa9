"""One subject per person: identity keys, blind-index keys, merging and in-memory de-duplication.

Two records are the same person when they share any identity key:

* ``external_id`` - scoped by ``source_system`` (``crm`` #42 and ``billing`` #42 are different
  people unless something else links them);
* ``email`` - the whole address case-folded (``John@X.com`` == ``john@x.com``);
* ``phone`` - E.164.

:func:`dedupe_keys` gives the blind-index form of those keys for database look-ups. Merging happens once,
on encrypted and indexed subjects: :func:`app.subjects.store.merge_groups` within a chunk (union-find over
shared digests) and the database look-ups across chunks and imports.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.crypto import BlindIndex
from app.subjects.model import Jurisdiction, NormalisedRow, PostalAddress

KEY_SEPARATOR = "\x1f"


@dataclass(frozen=True, slots=True)
class Subject:
    """A person as one row gives them, in the shape :func:`app.subjects.store.prepare` encrypts.

    Attributes:
        lines: the row's source line.
        external_ids: ``(source_system or "", external_id)`` pairs.
        jurisdictions: the row's jurisdiction.
    """

    lines: tuple[int, ...]
    external_ids: tuple[tuple[str, str], ...]
    full_names: tuple[str, ...]
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    push_subscriptions: tuple[str, ...]
    addresses: tuple[PostalAddress, ...]
    preferred_language: str | None
    data_categories: tuple[str, ...]
    jurisdictions: tuple[Jurisdiction, ...]

    @classmethod
    def from_row(cls, row: NormalisedRow) -> Subject:
        """A one-row subject."""
        return cls(
            lines=(row.line,),
            external_ids=((row.source_system or "", row.external_id),) if row.external_id else (),
            full_names=_opt(row.full_name),
            emails=_opt(row.email),
            phones=_opt(row.phone),
            push_subscriptions=_opt(row.push_subscription),
            addresses=() if row.address.is_empty else (row.address,),
            preferred_language=row.preferred_language,
            data_categories=row.data_categories,
            jurisdictions=(row.jurisdiction,),
        )

    @property
    def jurisdiction(self) -> Jurisdiction:
        """The strongest jurisdiction (address over inferred over unknown)."""
        return self.jurisdictions[0]

    @property
    def reachable(self) -> bool:
        """True when any email, phone, push subscription or deliverable postal address is known."""
        return bool(self.emails or self.phones or self.push_subscriptions
                    or any(a.is_deliverable for a in self.addresses))


def _opt(value: str | None) -> tuple[str, ...]:
    return (value,) if value else ()


def identity_keys(item: NormalisedRow | Subject) -> list[tuple[str, str]]:
    """Plain ``(kind, normal form)`` identity keys; kinds are ``external_id``, ``email``, ``phone``.

    Contains contact data: never log it. Use :func:`dedupe_keys` for anything stored.
    """
    subject = Subject.from_row(item) if isinstance(item, NormalisedRow) else item
    keys = [("external_id", f"{system.casefold()}{KEY_SEPARATOR}{ext}") for system, ext in subject.external_ids]
    keys += [("email", email.casefold()) for email in subject.emails]
    keys += [("phone", phone) for phone in subject.phones]
    return keys


def dedupe_keys(item: NormalisedRow | Subject, index: BlindIndex) -> list[str]:
    """Blind-index identity keys as ``"<kind>:<32 hex>"`` (kind = external_id, email or phone).

    Two items are the same person iff their lists share an element. The purpose label given to
    :meth:`BlindIndex.digest` is the kind, so the same text under two kinds never collides.
    """
    return [f"{kind}:{index.digest(kind, value)}" for kind, value in identity_keys(item)]
