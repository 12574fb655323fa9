"""Letter batch tables: one row per print-and-post batch handed to the printer, one row per letter in it.

A ``LetterBatch`` is the evidence of a hand-over: where it went (``destination``, never a password), the
file names and SHA-256 of the merged PDF and of the manifest CSV, how many letters and pages, the cost in
USD. ``LetterBatchItem`` ties each letter delivery to its batch and its position (the manifest order, which
is the order of the letters in the merged PDF). Neither table holds names or addresses: those are only in
the files handed over.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class LetterBatch(SQLModel, table=True):
    """One print-and-post batch (see the module docstring). ``reference`` (``LB-<incident>-<n>``) is the
    name of the files and the ``provider_id`` of its deliveries."""

    __tablename__ = "letter_batch"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    reference: str = Field(max_length=80, unique=True, index=True)
    destination: str = Field(max_length=500)
    pdf_name: str = Field(max_length=200)
    pdf_sha256: str = Field(max_length=64)
    manifest_name: str = Field(max_length=200)
    manifest_sha256: str = Field(max_length=64)
    letters: int
    pages: int
    cost: float
    created_by: str = Field(max_length=200)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


class LetterBatchItem(SQLModel, table=True):
    """One letter of a batch: the ``delivery_id``, its ``position`` (1-based, manifest and PDF order), its
    ``first_page`` in the merged PDF, ``pages``, destination ``country`` (ISO 3166-1 alpha-2) and
    ``mail_class``."""

    __tablename__ = "letter_batch_item"
    __table_args__ = (UniqueConstraint("delivery_id", name="uq_letter_batch_item_delivery"),)

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="letter_batch.id", index=True)
    delivery_id: int = Field(foreign_key="delivery.id")
    position: int
    first_page: int
    pages: int
    country: str = Field(max_length=2)
    mail_class: str = Field(max_length=40)
