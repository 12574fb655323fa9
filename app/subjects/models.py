"""Data subjects (the registry), their encrypted identifiers, links to incidents, and import runs.

Contact data (names, emails, phones, push subscriptions, postal addresses, external ids) is stored only
encrypted (AES-256-GCM, ``app.crypto.FieldCipher``); lookups and de-duplication use keyed blind indexes
(HMAC-SHA256 ``digest``), so the database never holds a plaintext email or phone.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime

MATCHING_KINDS = ("external_id", "email", "phone", "name_address")
CONTACT_KINDS = ("email", "phone", "push", "address")


def digest_key(kind: str, digest: str) -> int | None:
    """The indexed look-up key of an identifier that identifies one person (``MATCHING_KINDS``): the first
    64 bits of its blind-index ``digest`` as a signed integer (fits BIGINT); None for push and address.

    Look-ups probe this 8-byte key and then compare ``kind`` and the whole digest, so a shared prefix
    (about one pair in 10^12 among a million people) never mixes two people up. The narrow key keeps the
    index small enough to stay in the import's page cache (docs/performance.md).
    """
    return int.from_bytes(bytes.fromhex(digest[:16]), "big", signed=True) if kind in MATCHING_KINDS else None


class DataSubject(SQLModel, table=True):
    """One person in the registry (one row per person, however many files mention them).

    ``jurisdiction`` is an ISO 3166-1/3166-2 code or None; ``jurisdiction_source`` is ``address``,
    ``inferred`` (from the phone number) or ``unknown``. The ``has_*`` flags say which channels can reach
    the person without decrypting anything.
    """

    __tablename__ = "data_subject"

    id: int | None = Field(default=None, primary_key=True)
    full_name_enc: str | None = Field(default=None, sa_type=Text)
    preferred_language: str | None = Field(default=None, max_length=35)
    jurisdiction: str | None = Field(default=None, max_length=10, index=True)
    jurisdiction_source: str = Field(default="unknown", max_length=10)
    data_categories: list[str] = Field(default_factory=list, sa_type=JSON)
    has_email: bool = False
    has_phone: bool = False
    has_push: bool = False
    has_postal: bool = False
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(sa_type=UTCDateTime)


def _not_null_index(column: str) -> Index:
    """A partial index of ``subject_identifier.column`` holding only the rows a look-up can find (migration 0014)."""
    where = text(f"{column} IS NOT NULL")
    return Index(f"ix_subject_identifier_{column}", column, sqlite_where=where, postgresql_where=where)


class SubjectIdentifier(SQLModel, table=True):
    """An identifier or contact of a subject: ``kind`` is ``external_id``, ``email``, ``phone``, ``push``,
    ``address`` or ``name_address`` (the name-and-address identity of a row with no other key, see
    :mod:`app.subjects.dedupe`; no channel uses it); ``digest`` its blind index; ``value_enc`` the encrypted
    value; ``source_system`` where it came from. ``MATCHING_KINDS`` digests identify one person
    (de-duplication) and are looked up by ``digest_key`` (:func:`digest_key`)."""

    __tablename__ = "subject_identifier"
    __table_args__ = (
        UniqueConstraint("subject_id", "kind", "digest", name="uq_subject_identifier"),
        _not_null_index("digest_key"),
        _not_null_index("source_system"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key="data_subject.id")  # indexed first in uq_subject_identifier
    kind: str = Field(max_length=12)
    digest: str = Field(max_length=64)
    digest_key: int | None = Field(default=None, sa_type=BigInteger)
    value_enc: str = Field(sa_type=Text)
    source_system: str | None = Field(default=None, max_length=100)
    usable: bool = True  # False once a channel reports it dead (bounced address, opted-out number)


class IncidentSubject(SQLModel, table=True):
    """A subject affected by an incident; ``added_by`` says how (``import:<id>``, ``evidence``, ``source``)."""

    __tablename__ = "incident_subject"
    __table_args__ = (UniqueConstraint("incident_id", "subject_id", name="uq_incident_subject"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")  # indexed first in uq_incident_subject
    subject_id: int = Field(foreign_key="data_subject.id", index=True)
    added_by: str = Field(max_length=40)
    added_at: dt.datetime = Field(sa_type=UTCDateTime)


class SubjectImport(SQLModel, table=True):
    """One import run: what was read, what it did, and where its rejects report is."""

    __tablename__ = "subject_import"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    filename: str = Field(max_length=300)
    file_format: str = Field(max_length=10)
    encoding: str = Field(max_length=30)
    rows_read: int = 0
    imported: int = 0
    merged_duplicates: int = 0
    already_known: int = 0
    linked: int = 0
    rejected: int = 0
    warnings: int = 0
    rejects_file: str | None = Field(default=None, max_length=500)
    actor: str = Field(max_length=200)
    started_at: dt.datetime = Field(sa_type=UTCDateTime)
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
