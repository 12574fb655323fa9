"""One subject per person: identity keys, blind-index keys, merging and in-memory de-duplication.

Two records are the same person when they share any identity key:

* ``external_id`` - scoped by ``source_system`` (``crm`` #42 and ``billing`` #42 are different
  people unless something else links them);
* ``email`` - the whole address case-folded (``John@X.com`` == ``john@x.com``);
* ``phone`` - E.164;
* ``name_address`` - only for a row with none of those: the case-folded full name and postal address parts
  together (a file of letter recipients has nothing else; without it, importing the file twice stored
  everyone twice), with the push subscription too when the row has one and not both a name and a deliverable
  address. Two such rows match only each other: a later row of the same person that has an email is not
  linked to them by name and address. Rows alike in all of that are one person: two rows giving only the same
  name are merged (and counted as merged duplicates), since nothing in the file tells them apart.

:func:`dedupe_keys` gives the blind-index form of those keys for database look-ups. Merging happens once,
on encrypted and indexed subjects: :func:`app.subjects.store.merge_groups` within a chunk (union-find over
shared digests) and the database look-ups across chunks and imports.
"""

from __future__ import annotations

from app.crypto import BlindIndex
from app.subjects.model import NormalisedRow

KEY_SEPARATOR = "\x1f"


def external_key(source_system: str | None, external_id: str) -> str:
    """The identity key of an external id: the id as given, scoped by its case-folded source system."""
    return f"{(source_system or '').casefold()}{KEY_SEPARATOR}{external_id}"


def identity_keys(row: NormalisedRow) -> list[tuple[str, str]]:
    """Plain ``(kind, normal form)`` identity keys of a row, in this order: ``external_id``, ``email``,
    ``phone`` (each when present); else ``name_address`` when the row has a full name, a street line, a postal
    code or a push subscription (see the module's notes).

    Contains contact data: never log it. Use :func:`dedupe_keys` for anything stored.
    """
    keys = [("external_id", external_key(row.source_system, row.external_id))] if row.external_id else []
    if row.email:
        keys.append(("email", row.email.casefold()))
    if row.phone:
        keys.append(("phone", row.phone))
    address = row.address
    if not keys and (row.full_name or address.line1 or address.postal_code or row.push_subscription):
        parts = [row.full_name, address.line1, address.line2, address.city, address.postal_code, address.country]
        if row.push_subscription and not (row.full_name and address.is_deliverable):  # as before, without push
            parts.append(row.push_subscription)
        keys.append(("name_address", KEY_SEPARATOR.join((part or "").casefold() for part in parts)))
    return keys


def dedupe_keys(item: NormalisedRow, index: BlindIndex) -> list[str]:
    """Blind-index identity keys as ``"<kind>:<32 hex>"`` (kind: see :func:`identity_keys`).

    Two items are the same person iff their lists share an element. The purpose label given to
    :meth:`BlindIndex.digest` is the kind, so the same text under two kinds never collides.
    """
    return [f"{kind}:{index.digest(kind, value)}" for kind, value in identity_keys(item)]
