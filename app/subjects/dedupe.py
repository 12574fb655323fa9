"""One subject per person: identity keys, blind-index keys, merging and in-memory de-duplication.

Two records are the same person when they share any identity key:

* ``external_id`` - scoped by ``source_system`` (``crm`` #42 and ``billing`` #42 are different
  people unless something else links them);
* ``email`` - the whole address case-folded (``John@X.com`` == ``john@x.com``);
* ``phone`` - E.164.

:func:`dedupe_keys` gives the blind-index form of those keys for database look-ups;
:func:`dedupe_rows` is a union-find over a list of rows for tests and small sets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from app.crypto import BlindIndex
from app.subjects.model import Jurisdiction, NormalisedRow, PostalAddress

KEY_SEPARATOR = "\x1f"
T = TypeVar("T")
_SOURCE_RANK = {"address": 0, "inferred": 1, "unknown": 2}


@dataclass(frozen=True, slots=True)
class Subject:
    """A person after merging one or more rows; every contact field is an ordered, unique tuple.

    Attributes:
        lines: source lines merged into this subject, ascending.
        external_ids: ``(source_system or "", external_id)`` pairs.
        jurisdictions: unique, address-derived first, then inferred; ``unknown`` only if nothing else.
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
    def contact_count(self) -> int:
        """Distinct endpoints: emails + phones + push subscriptions + deliverable postal addresses."""
        postal = sum(1 for address in self.addresses if address.is_deliverable)
        return len(self.emails) + len(self.phones) + len(self.push_subscriptions) + postal

    @property
    def reachable(self) -> bool:
        """True when any email, phone, push subscription or deliverable postal address is known."""
        return bool(self.emails or self.phones or self.push_subscriptions
                    or any(a.is_deliverable for a in self.addresses))


def _opt(value: str | None) -> tuple[str, ...]:
    return (value,) if value else ()


def _union(first: tuple[T, ...], second: tuple[T, ...]) -> tuple[T, ...]:
    return tuple(dict.fromkeys((*first, *second)))


def _union_emails(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    by_key: dict[str, str] = {}
    for email in (*first, *second):
        by_key.setdefault(email.casefold(), email)
    return tuple(by_key.values())


def merge(a: Subject, b: Subject) -> Subject:
    """Union of two subjects' contacts and categories; ``a``'s values come first.

    Idempotent (``merge(s, s) == s``) and associative; ``preferred_language`` is ``a``'s unless unset.
    Emails equal up to case are one contact (the first spelling is kept).
    """
    jurisdictions = _union(a.jurisdictions, b.jurisdictions)
    known = [j for j in jurisdictions if j.code]
    return Subject(
        lines=tuple(sorted(set(a.lines) | set(b.lines))),
        external_ids=_union(a.external_ids, b.external_ids),
        full_names=_union(a.full_names, b.full_names),
        emails=_union_emails(a.emails, b.emails),
        phones=_union(a.phones, b.phones),
        push_subscriptions=_union(a.push_subscriptions, b.push_subscriptions),
        addresses=_union(a.addresses, b.addresses),
        preferred_language=a.preferred_language or b.preferred_language,
        data_categories=tuple(sorted(set(a.data_categories) | set(b.data_categories))),
        jurisdictions=tuple(sorted(known, key=lambda j: _SOURCE_RANK[j.source])) or (jurisdictions[0],),
    )


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


def dedupe_rows(rows: Iterable[NormalisedRow]) -> tuple[list[Subject], int]:
    """Merge rows sharing any identity key (transitively) into subjects, in first-seen order.

    Returns ``(subjects, merged_count)`` where ``merged_count`` is rows in minus subjects out.
    Memory grows with the rows given: for tests and small sets; large imports merge in the DB.
    """
    items = [Subject.from_row(row) for row in rows]
    parent = list(range(len(items)))
    owner: dict[tuple[str, str], int] = {}
    for position, item in enumerate(items):
        for key in identity_keys(item):
            if key in owner:
                _join(parent, owner[key], position)
            else:
                owner[key] = position
    groups: dict[int, Subject] = {}
    for position, item in enumerate(items):
        root = _find(parent, position)
        groups[root] = merge(groups[root], item) if root in groups else item
    subjects = sorted(groups.values(), key=lambda s: s.lines[0])
    return subjects, len(items) - len(subjects)


def _find(parent: list[int], position: int) -> int:
    while parent[position] != position:
        parent[position] = parent[parent[position]]
        position = parent[position]
    return position


def _join(parent: list[int], a: int, b: int) -> None:
    root_a, root_b = _find(parent, a), _find(parent, b)
    if root_a != root_b:
        parent[max(root_a, root_b)] = min(root_a, root_b)


def merge_all(subjects: Sequence[Subject]) -> Subject:
    """Fold :func:`merge` over a non-empty sequence (e.g. the DB rows one new row links together)."""
    result = subjects[0]
    for subject in subjects[1:]:
        result = merge(result, subject)
    return result
