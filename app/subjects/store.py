"""Writing merged subjects into the registry, one chunk at a time, with set-based SQL.

A chunk of de-duplicated :class:`~app.subjects.dedupe.Subject` values is encrypted, its blind-index keys
looked up in one query per kind, and then: new people are inserted in bulk; people already known get the
union of their contacts and categories; rows that connect two known subjects merge them into the older one.
Nothing here commits: the import runs in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import delete, select, update
from sqlmodel import Session, col

from app import db
from app.crypto import BlindIndex, FieldCipher
from app.subjects import bulk
from app.subjects.dedupe import Subject, identity_keys
from app.subjects.model import PostalAddress
from app.subjects.models import MATCHING_KINDS, DataSubject, IncidentSubject, SubjectIdentifier, digest_key

ADDRESS_FIELDS = tuple(f.name for f in fields(PostalAddress))
SUBJECTS = DataSubject.__table__  # type: ignore[attr-defined]
IDENTIFIERS = SubjectIdentifier.__table__  # type: ignore[attr-defined]
LINKS = IncidentSubject.__table__  # type: ignore[attr-defined]
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


@dataclass
class Prepared:
    """One subject of a chunk, ready for the database: encrypted identifiers and plain flags.

    ``match_keys``: ``(kind, digest)`` of the identifiers that identify one person, worked out once (in the
    worker that prepares the subject; the main process reads them twice per chunk).
    """

    identifiers: list[dict[str, Any]]
    fields: dict[str, Any]
    match_keys: list[tuple[str, str]] = field(init=False)

    def __post_init__(self) -> None:
        self.match_keys = [(i["kind"], i["digest"]) for i in self.identifiers if i["kind"] in MATCHING_KINDS]


@lru_cache(maxsize=1024)
def shared_categories(categories: frozenset[str]) -> list[str]:
    """The sorted list for a set of data categories, one list object per set in a process: a chunk's
    subjects then share it, so it is pickled once per chunk and turned into JSON once per run of equal
    rows (:func:`app.db.executemany`). Never mutate the result."""
    return sorted(categories)


def prepare(subject: Subject, *, cipher: FieldCipher, index: BlindIndex) -> Prepared:
    """Encrypt and index one merged subject (AES-256-GCM values, HMAC-SHA256 digests)."""
    shown = [(ext, system or None) for system, ext in subject.external_ids]
    shown += [(value, None) for value in (*subject.emails, *subject.phones)]
    plain = [(kind, key, value, source) for (kind, key), (value, source)
             in zip(identity_keys(subject), shown, strict=True)]
    plain += [("push", push, push, None) for push in subject.push_subscriptions]
    for address in subject.addresses:
        if not (address.line1 or address.line2 or address.city or address.postal_code):
            continue  # a bare country or region is kept as the jurisdiction, not as a postal contact
        text = address_text(address)
        plain.append(("address", text, text, None))
    identifiers = []
    for kind, key, value, source in plain:
        digest = index.digest(kind, key)
        identifiers.append({"kind": kind, "digest": digest, "digest_key": digest_key(kind, digest),
                            "value_enc": cipher.encrypt(value), "source_system": source, "usable": True})
    jurisdiction = subject.jurisdiction
    return Prepared(identifiers, {
        "full_name_enc": cipher.encrypt(subject.full_names[0]) if subject.full_names else None,
        "preferred_language": subject.preferred_language,
        "jurisdiction": jurisdiction.code, "jurisdiction_source": jurisdiction.source,
        "data_categories": shared_categories(frozenset(subject.data_categories)),
        "has_email": bool(subject.emails), "has_phone": bool(subject.phones),
        "has_push": bool(subject.push_subscriptions),
        "has_postal": any(a.is_deliverable for a in subject.addresses)})


def lookup(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Existing owners of ``(kind, digest)`` keys (``kind`` in ``MATCHING_KINDS``): one query per kind and
    batch on the 8-byte ``digest_key`` index, then the whole digest compared (see :mod:`.bulk`)."""
    by_kind: dict[str, set[str]] = {}
    for kind, digest in keys:
        by_kind.setdefault(kind, set()).add(digest)
    found: dict[tuple[str, str], int] = {}
    for kind, digests in by_kind.items():
        probes = sorted({key for digest in digests if (key := digest_key(kind, digest)) is not None})
        rows = db.driver_rows(session.connection(), _LOOKUP_SQL, (kind,), probes, array_type="BIGINT[]")
        found.update({(kind, digest): subject_id for subject_id, digest in rows if digest in digests})
    return found


_LOOKUP_SQL = "SELECT subject_id, digest FROM subject_identifier WHERE kind = {mark} AND digest_key {match}"
_OWNED_SQL = "SELECT subject_id, kind, digest FROM subject_identifier WHERE subject_id {match}"
_LINKED_SQL = "SELECT subject_id FROM incident_subject WHERE incident_id = {mark} AND subject_id {match}"


@dataclass
class ChunkResult:
    """Subject ids touched by a chunk, split into new and already-known ones."""

    created: list[int] = field(default_factory=list)
    matched: list[int] = field(default_factory=list)


def insert_new(session: Session, prepared: Sequence[Prepared], now: dt.datetime) -> list[int]:
    """Insert new subjects and their identifiers in bulk (ids drawn first, then COPY or executemany);
    returns their ids in order. Each identifier dict of ``prepared`` gets its ``subject_id``."""
    ids = bulk.allocate_ids(session, SUBJECTS, len(prepared))
    bulk.write_rows(session, SUBJECTS, [{"id": sid, **p.fields, "created_at": now, "updated_at": now}
                                        for sid, p in zip(ids, prepared, strict=True)])
    rows = []
    for sid, p in zip(ids, prepared, strict=True):
        for ident in p.identifiers:  # the caller's dicts, filled in rather than copied (the hot path)
            ident["subject_id"] = sid
            rows.append(ident)
    bulk.write_rows(session, IDENTIFIERS, rows)
    return ids


def _owned(session: Session, subject_ids: Sequence[int]) -> set[tuple[int, str, str]]:
    rows = db.driver_rows(session.connection(), _OWNED_SQL, (), subject_ids)
    return {(sid, kind, digest) for sid, kind, digest in rows}


FIELD_NAMES = ("full_name_enc", "preferred_language", "jurisdiction", "jurisdiction_source", "data_categories",
               "has_email", "has_phone", "has_push", "has_postal")
FLAGS = ("has_email", "has_phone", "has_push", "has_postal")


def merge_prepared(a: Prepared, b: Prepared) -> Prepared:
    """Union of two prepared subjects: ``a``'s values win, ``b`` fills gaps; identifiers unite by digest;
    categories unite; the stronger jurisdiction (address over inferred over unknown) is kept."""
    seen = {(i["kind"], i["digest"]) for i in a.identifiers}
    identifiers = a.identifiers + [i for i in b.identifiers if (i["kind"], i["digest"]) not in seen]
    fields = dict(a.fields)
    fields["data_categories"] = shared_categories(frozenset(a.fields["data_categories"])
                                                  | frozenset(b.fields["data_categories"]))
    for name in ("full_name_enc", "preferred_language"):
        fields[name] = fields[name] if fields[name] is not None else b.fields[name]
    if b.fields["jurisdiction"] and _RANK[b.fields["jurisdiction_source"]] < _RANK[fields["jurisdiction_source"]]:
        fields.update(jurisdiction=b.fields["jurisdiction"], jurisdiction_source=b.fields["jurisdiction_source"])
    for flag in FLAGS:
        fields[flag] = bool(fields[flag] or b.fields[flag])
    return Prepared(identifiers, fields)


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

    owner: dict[tuple[str, str], int] = {}
    for position, item in enumerate(items):
        for key in item.match_keys:
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


def _merged_fields(current: DataSubject, new: dict[str, Any]) -> dict[str, Any]:
    mine = {name: getattr(current, name) for name in FIELD_NAMES}
    merged = merge_prepared(Prepared([], mine), Prepared([], new)).fields
    return {k: v for k, v in merged.items() if v != mine[k] and not (k == "data_categories" and sorted(v) ==
                                                                     sorted(mine[k]))}


def update_known(session: Session, pairs: Sequence[tuple[int, Prepared]], now: dt.datetime) -> None:
    """Give known subjects the union of what the new rows add; writes nothing when nothing is new."""
    if not pairs:
        return
    ids = sorted({sid for sid, _ in pairs})
    current = {s.id: s for match in bulk.in_batches(session, col(DataSubject.id), ids)
               for s in session.execute(select(DataSubject).where(match)).scalars()}
    owned = _owned(session, ids)
    new_identifiers = []
    for sid, prepared in pairs:
        changes = _merged_fields(current[sid], prepared.fields)
        if changes:
            session.execute(update(DataSubject).where(col(DataSubject.id) == sid).values(**changes, updated_at=now))
            for key, value in changes.items():
                setattr(current[sid], key, value)
        for ident in prepared.identifiers:
            if (sid, ident["kind"], ident["digest"]) not in owned:
                owned.add((sid, ident["kind"], ident["digest"]))
                new_identifiers.append({**ident, "subject_id": sid})
    bulk.write_rows(session, IDENTIFIERS, new_identifiers)


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
        update_known(session, [(target, Prepared([], {k: getattr(other, k) for k in FIELD_NAMES}))], now)
    session.execute(delete(DataSubject).where(col(DataSubject.id).in_(others)))


def link(session: Session, *, incident_id: int, subject_ids: Iterable[int], added_by: str, now: dt.datetime,
         unlinked: Iterable[int] = ()) -> int:
    """Link subjects to an incident (already linked ones are left alone); returns how many were new.

    ``unlinked``: ids the caller knows are linked to nothing yet (created in this transaction and not linked
    since), written without a look-up.
    """
    fresh = set(unlinked)
    wanted = sorted(set(subject_ids) - fresh)
    have = {row[0] for row in db.driver_rows(session.connection(), _LINKED_SQL, (incident_id,), wanted)}
    rows = [{"incident_id": incident_id, "subject_id": sid, "added_by": added_by, "added_at": now}
            for sid in sorted(fresh.union(wanted)) if sid not in have]
    bulk.write_rows(session, LINKS, rows)
    return len(rows)
