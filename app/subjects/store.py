"""Writing merged subjects into the registry, one chunk at a time, with set-based SQL.

A chunk of checked rows is encrypted and merged (:func:`prepare`, :func:`merge_groups`), its blind-index keys
looked up in one query per kind, and then: new people are inserted in bulk; people already known get the
union of their contacts and categories; rows that connect two known subjects merge them into the older one, or
into the one dispatch records name (:func:`merge_target`). Nothing here commits: the import runs in one
transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import fields
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlmodel import Session, SQLModel, col

from app import db
from app.crypto import BlindIndex, FieldCipher
from app.errors import Conflict
from app.incidents.models import Incident
from app.subjects import bulk
from app.subjects.dedupe import identity_keys
from app.subjects.model import NormalisedRow, PostalAddress
from app.subjects.models import DataSubject, IncidentSubject, SubjectIdentifier, digest_key

ADDRESS_FIELDS = tuple(f.name for f in fields(PostalAddress))
SUBJECTS = DataSubject.__table__  # type: ignore[attr-defined]
IDENTIFIERS = SubjectIdentifier.__table__  # type: ignore[attr-defined]
LINKS = IncidentSubject.__table__  # type: ignore[attr-defined]
INCIDENTS = Incident.__table__  # type: ignore[attr-defined]
_RANK = {"address": 0, "inferred": 1, "unknown": 2}
_SORTED_ADDRESS_FIELDS = tuple(sorted(ADDRESS_FIELDS))


def address_text(address: PostalAddress) -> str:
    """The text an address is encrypted and blind-indexed as: exactly what ``json.dumps`` of its fields
    (``sort_keys=True, ensure_ascii=False``) writes, built without an encoder per address (the fields are
    ``str`` or ``None``; strings go through the encoder's own ``encode_basestring``)."""
    parts = []
    for name in _SORTED_ADDRESS_FIELDS:
        value = getattr(address, name)
        parts.append(f'"{name}": ' + ("null" if value is None else encode_basestring(value)))
    return "{" + ", ".join(parts) + "}"


IDENTIFIER_COLUMNS = ("kind", "digest", "digest_key", "value_enc", "source_system")
"""The order of an identifier tuple of :class:`Prepared` (``subject_id`` is added on writing)."""
FIELD_NAMES = ("full_name_enc", "preferred_language", "jurisdiction", "jurisdiction_source", "data_categories",
               "has_email", "has_phone", "has_push", "has_postal")
"""The order of :attr:`Prepared.fields` (``data_subject`` columns)."""
Identifier = tuple[str, str, "int | None", str, "str | None"]


class Prepared:
    """One subject of a chunk, ready for the database: encrypted identifiers and plain flags, as tuples.

    Attributes:
        identifiers: ``(kind, digest, digest_key, value_enc, source_system)`` per identifier
            (:data:`IDENTIFIER_COLUMNS`).
        fields: the ``data_subject`` values in :data:`FIELD_NAMES` order.

    The identifiers that identify one person (``external_id``, ``email``, ``phone``) are those with a
    ``digest_key``; de-duplication keys them by ``digest`` alone, because each kind's digests come from its
    own HMAC sub-key (:class:`app.crypto.BlindIndex`), so digests of two kinds never coincide.

    Tuples, not dicts: a worker sends every chunk's subjects to the importing process, and pickling tuples
    costs about half as much on each side (docs/performance.md).
    """

    __slots__ = ("fields", "identifiers")

    def __init__(self, identifiers: list[Identifier], fields: tuple[Any, ...]) -> None:
        self.identifiers = identifiers
        self.fields = fields

    def __reduce__(self) -> tuple[Any, ...]:
        return Prepared, (self.identifiers, self.fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Prepared) and (self.identifiers, self.fields) == (other.identifiers, other.fields)

    __hash__ = None  # type: ignore[assignment]

    def values(self) -> dict[str, Any]:
        """:attr:`fields` by column name."""
        return dict(zip(FIELD_NAMES, self.fields, strict=True))


@lru_cache(maxsize=1024)
def shared_categories(categories: frozenset[str]) -> list[str]:
    """The sorted list for a set of data categories, one list object per set in a process: a chunk's
    subjects then share it, so it is pickled once per chunk and turned into JSON once per run of equal
    rows (:func:`app.db.executemany`). Never mutate the result."""
    return sorted(categories)


def prepare(row: NormalisedRow, *, cipher: FieldCipher, index: BlindIndex) -> Prepared:
    """Encrypt and index one checked row (AES-256-GCM values, HMAC-SHA256 digests).

    Identifiers come in the order external_id, email, phone (those that identify one person, with their
    ``digest_key``), push subscription, postal address. A bare country or region is the jurisdiction, not a
    postal contact, so an address without a street, city or postal code is not stored as one.

    The row's ``source_system`` goes on its first identifier (the external id when there is one), so a
    selection by source system (:func:`app.subjects.evidence.select_source_system`) finds every person the
    system's file named, with or without an external id.
    """
    encrypt = cipher.encrypt
    shown = {"external_id": row.external_id, "email": row.email, "phone": row.phone}  # name_address: the key
    identifiers: list[Identifier] = []
    for kind, key in identity_keys(row):
        digest, prefix = index.digest_and_prefix(kind, key)
        identifiers.append((kind, digest, prefix, encrypt(shown.get(kind) or key), None))
    if row.push_subscription:
        push = row.push_subscription
        identifiers.append(("push", index.digest("push", push), None, encrypt(push), None))
    address = row.address
    if address.line1 or address.line2 or address.city or address.postal_code:
        text = address_text(address)
        identifiers.append(("address", index.digest("address", text), None, encrypt(text), None))
    if row.source_system and identifiers:
        identifiers[0] = (*identifiers[0][:4], row.source_system)
    jurisdiction = row.jurisdiction
    return Prepared(identifiers, (
        encrypt(row.full_name) if row.full_name else None, row.preferred_language, jurisdiction.code,
        jurisdiction.source, shared_categories(frozenset(row.data_categories)),
        bool(row.email), bool(row.phone), bool(row.push_subscription), address.is_deliverable))


Probes = dict[str, dict[str, int]]
"""``kind -> digest -> digest_key`` of identifying identifiers: what a look-up of owners needs."""


def probes(subjects: Iterable[Prepared]) -> Probes:
    """The identifying identifiers (those with a ``digest_key``) of ``subjects``, by kind: worked out where a
    chunk is prepared (a pool worker), so the importing process only queries."""
    found: Probes = {}
    for subject in subjects:
        for ident in subject.identifiers:
            if ident[2] is not None:
                found.setdefault(ident[0], {})[ident[1]] = ident[2]
    return found


def lookup(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Existing owners of ``(kind, digest)`` keys (``kind`` in ``MATCHING_KINDS``; others find nothing); see
    :func:`lookup_owners`."""
    wanted: Probes = {}
    for kind, digest in keys:
        if (key := digest_key(kind, digest)) is not None:
            wanted.setdefault(kind, {})[digest] = key
    return {(kind, digest): subject_id for kind, digests in wanted.items()
            for digest, subject_id in lookup_owners(session, {kind: digests}).items()}


def lookup_owners(session: Session, wanted: Probes) -> dict[str, int]:
    """Existing owners by ``digest`` of the identifiers in ``wanted`` (:func:`probes`): one query per kind and
    batch on the 8-byte ``digest_key`` index, then the whole digest compared (see :mod:`.bulk`). Keyed by
    digest alone: each kind's digests come from its own HMAC sub-key, so two kinds never share one."""
    found: dict[str, int] = {}
    for kind, digests in wanted.items():
        keys = sorted(set(digests.values()))
        rows = db.driver_rows(session.connection(), _LOOKUP_SQL, (kind,), keys, array_type="BIGINT[]")
        found.update({digest: subject_id for subject_id, digest in rows if digest in digests})
    return found


_LOOKUP_SQL = "SELECT subject_id, digest FROM subject_identifier WHERE kind = {mark} AND digest_key {match}"
_OWNED_SQL = "SELECT subject_id, kind, digest FROM subject_identifier WHERE subject_id {match}"
_LINKED_SQL = "SELECT subject_id FROM incident_subject WHERE incident_id = {mark} AND subject_id {match}"


SUBJECT_COLUMNS = ("id", *FIELD_NAMES, "created_at", "updated_at")
IDENTIFIER_ROW = ("subject_id", *IDENTIFIER_COLUMNS)  # the table's column order
LINK_COLUMNS = ("incident_id", "subject_id", "added_by", "added_at")


def insert_new(session: Session, prepared: Sequence[Prepared], now: dt.datetime) -> list[int]:
    """Insert new subjects and their identifiers in bulk (ids drawn first, then COPY or executemany);
    returns their ids in order."""
    ids = bulk.allocate_ids(session, SUBJECTS, len(prepared))
    bulk.write_rows(session, SUBJECTS, [(sid, *p.fields, now, now) for sid, p in zip(ids, prepared, strict=True)],
                    columns=SUBJECT_COLUMNS)
    rows = [(sid, *ident) for sid, p in zip(ids, prepared, strict=True) for ident in p.identifiers]
    bulk.write_rows(session, IDENTIFIERS, rows, columns=IDENTIFIER_ROW, references_locked=True)  # ours
    return ids


def _owned(session: Session, subject_ids: Sequence[int]) -> set[tuple[int, str, str]]:
    rows = db.driver_rows(session.connection(), _OWNED_SQL, (), subject_ids)
    return {(sid, kind, digest) for sid, kind, digest in rows}


def merge_prepared(a: Prepared, b: Prepared) -> Prepared:
    """Union of two prepared subjects: ``a``'s values win, ``b`` fills gaps; identifiers unite by digest;
    categories unite; the stronger jurisdiction (address over inferred over unknown) is kept."""
    seen = {(i[0], i[1]) for i in a.identifiers}
    identifiers = a.identifiers + [i for i in b.identifiers if (i[0], i[1]) not in seen]
    name, language, place, source, categories, *flags = a.fields
    b_name, b_language, b_place, b_source, b_categories, *b_flags = b.fields
    if b_place and _RANK[b_source] < _RANK[source]:
        place, source = b_place, b_source
    return Prepared(identifiers, (
        name if name is not None else b_name, language if language is not None else b_language, place, source,
        shared_categories(frozenset(categories) | frozenset(b_categories)),
        *(bool(mine or theirs) for mine, theirs in zip(flags, b_flags, strict=True))))


def merge_groups(items: Sequence[Prepared]) -> tuple[list[Prepared], int]:
    """Merge prepared rows sharing any identifying digest (transitively), in first-seen order.

    Returns ``(subjects, merged)`` where ``merged`` is how many rows folded into an earlier one.
    """
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}  # identifying digest -> first row holding it
    for position, item in enumerate(items):
        for key in (i[1] for i in item.identifiers if i[2] is not None):
            if key in owner:
                a, b = find(owner[key]), find(position)
                parent[max(a, b)] = min(a, b)
            else:
                owner[key] = position
    groups: dict[int, Prepared] = {}
    for position, item in enumerate(items):
        root = find(position)
        groups[root] = merge_prepared(groups[root], item) if root in groups else item
    return list(groups.values()), len(items) - len(groups)


def _merged_fields(mine: tuple[Any, ...], new: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``(merged fields, the columns that change)`` for a known subject's ``mine`` and a new row's fields."""
    merged = merge_prepared(Prepared([], mine), Prepared([], new)).fields
    return merged, {name: value for name, value, old in zip(FIELD_NAMES, merged, mine, strict=True)
                    if value != old and not (name == "data_categories" and sorted(value) == sorted(old))}


def update_known(session: Session, pairs: Sequence[tuple[int, Prepared]], now: dt.datetime) -> None:
    """Give known subjects the union of what the new rows add; writes nothing when nothing is new.

    The subjects are read and locked ``FOR KEY SHARE`` in one query per batch, so their new identifiers are
    written with the per-row foreign-key checks off where the database allows it; raises ``Conflict`` if one
    no longer exists. Core statements only (no ORM objects): nothing of the session's identity map is read or
    left stale."""
    if not pairs:
        return
    ids = sorted({sid for sid, _ in pairs})
    wanted = select(SUBJECTS.c.id, *(SUBJECTS.c[name] for name in FIELD_NAMES)).with_for_update(key_share=True)
    current = {row[0]: tuple(row[1:]) for match in bulk.in_batches(session, SUBJECTS.c.id, ids)
               for row in session.execute(wanted.where(match))}  # locked: the identifiers below refer to them
    _require(ids, current, "data subject")
    owned = _owned(session, ids)
    new_identifiers = []
    changed: dict[int, tuple[Any, ...]] = {}
    for sid, prepared in pairs:
        current[sid], changes = _merged_fields(current[sid], prepared.fields)
        if changes:
            changed[sid] = current[sid]
        for ident in prepared.identifiers:
            if (sid, ident[0], ident[1]) not in owned:
                owned.add((sid, ident[0], ident[1]))
                new_identifiers.append((sid, *ident))
    db.executemany(session.connection(), _UPDATE_FIELDS, [(sid, *fields, now) for sid, fields in changed.items()],
                   columns=_UPDATE_KEYS)
    bulk.write_rows(session, IDENTIFIERS, new_identifiers, columns=IDENTIFIER_ROW, references_locked=True)


_UPDATE_KEYS = tuple(f"b_{name}" for name in ("id", *FIELD_NAMES, "updated_at"))  # a column's own name is reserved
_UPDATE_FIELDS = update(SUBJECTS).where(SUBJECTS.c.id == bindparam("b_id")).values(
    {name: bindparam(f"b_{name}") for name in (*FIELD_NAMES, "updated_at")})
"""Every ``data_subject`` field of one subject, for ``db.executemany``: one statement for all the subjects a chunk
changes (one ``UPDATE`` per subject cost about 0.15 ms each on PostgreSQL, most of it round trips)."""


def _require(wanted: Iterable[int], found: Iterable[int], what: str) -> None:
    """Raise ``Conflict`` naming the ids of ``wanted`` missing from ``found`` (deleted since they were read)."""
    missing = sorted(set(wanted).difference(found))
    if missing:
        raise Conflict(f"{what} {', '.join(map(str, missing[:5]))} no longer exists (deleted during this write)",
                       details=[{"path": what.replace(" ", "_"), "reason": f"ids {missing[:20]} not found"}])


def merge_subjects(session: Session, target: int, others: Sequence[int], now: dt.datetime) -> None:
    """Fold ``others`` into ``target``: identifiers and incident links move, fields unite, others go."""
    owned = _owned(session, [target])
    moving = session.execute(select(SubjectIdentifier).where(col(SubjectIdentifier.subject_id).in_(others))).scalars()
    for ident in list(moving):
        if (target, ident.kind, ident.digest) in owned:
            session.execute(delete(SubjectIdentifier).where(col(SubjectIdentifier.id) == ident.id))
        else:
            owned.add((target, ident.kind, ident.digest))
            session.execute(update(SubjectIdentifier).where(col(SubjectIdentifier.id) == ident.id)
                            .values(subject_id=target))
    linked = set(session.execute(select(col(IncidentSubject.incident_id))
                                 .where(col(IncidentSubject.subject_id) == target)).scalars())
    for link in list(session.execute(select(IncidentSubject).where(col(IncidentSubject.subject_id).in_(others)))
                     .scalars()):
        if link.incident_id in linked:
            session.execute(delete(IncidentSubject).where(col(IncidentSubject.id) == link.id))
        else:
            linked.add(link.incident_id)
            session.execute(update(IncidentSubject).where(col(IncidentSubject.id) == link.id).values(subject_id=target))
    for other in session.execute(select(DataSubject).where(col(DataSubject.id).in_(others))).scalars():
        update_known(session, [(target, Prepared([], tuple(getattr(other, k) for k in FIELD_NAMES)))], now)
    _require_unreferenced(session, others)
    session.execute(delete(DataSubject).where(col(DataSubject.id).in_(others)))


def merge_target(session: Session, subject_ids: Sequence[int]) -> int:
    """The subject a merge of ``subject_ids`` (ascending) keeps: the one that dispatch records refer to when only
    one is, so that the merge can go ahead (it cannot remove a subject such records name); else the lowest id,
    the oldest. Where several are referred to, :func:`merge_subjects` refuses whichever is kept."""
    referenced = _referenced(session, subject_ids)
    return next(iter(referenced)) if len(referenced) == 1 else subject_ids[0]


def _referenced(session: Session, subject_ids: Sequence[int]) -> dict[int, str]:
    """Subject id -> a table (other than identifiers and incident links, which a merge moves) with rows that
    refer to it, for those of ``subject_ids`` any such row refers to."""
    found: dict[int, str] = {}
    for table in SQLModel.metadata.sorted_tables:
        for key in table.foreign_keys:
            if key.column.table is not SUBJECTS or table is IDENTIFIERS or table is LINKS:
                continue
            for sid in session.execute(select(key.parent).where(key.parent.in_(subject_ids)).distinct()).scalars():
                found.setdefault(sid, table.name)
    return found


def _require_unreferenced(session: Session, subject_ids: Sequence[int]) -> None:
    """Raise ``Conflict`` if a row of any table other than identifiers and incident links (which a merge
    moves) refers to one of ``subject_ids``: a merge must not leave dispatch records pointing nowhere. Checked
    here because an import may write with SQLite's foreign-key enforcement off (:func:`bulk.references_per_chunk`)."""
    if referenced := _referenced(session, subject_ids):
        table = next(iter(referenced.values()))
        raise Conflict(f"these people cannot be merged: {table} records refer to one of them that the merge would "
                       "remove (when several have such records, each was handled as a separate person)",
                       details=[{"path": table, "reason": "refers to a subject the merge removes"}])


def link(session: Session, *, incident_id: int, subject_ids: Iterable[int], added_by: str, now: dt.datetime,
         unlinked: Iterable[int] = ()) -> int:
    """Link subjects to an incident (already linked ones are left alone); returns how many were new.

    ``unlinked``: ids the caller knows are linked to nothing yet (created in this transaction and not linked
    since), written without a look-up.

    The incident and the other subjects are locked ``FOR KEY SHARE`` in one query each (on PostgreSQL) and
    must exist: raises ``Conflict`` naming what is missing. The links are then written with the per-row
    foreign-key checks off where the database allows it (:func:`app.subjects.bulk.write_rows`).
    """
    fresh = set(unlinked)
    wanted = sorted(set(subject_ids) - fresh)
    # the links' references, checked and locked as a set (per-row foreign-key checks may be off: bulk.write_rows)
    _require([incident_id], bulk.lock_rows(session, INCIDENTS, [incident_id]), "incident")
    _require(wanted, bulk.lock_rows(session, SUBJECTS, wanted), "data subject")
    have = {row[0] for row in db.driver_rows(session.connection(), _LINKED_SQL, (incident_id,), wanted)}
    rows = [(incident_id, sid, added_by, now) for sid in sorted(fresh.union(wanted)) if sid not in have]
    bulk.write_rows(session, LINKS, rows, columns=LINK_COLUMNS, references_locked=True)
    return len(rows)
