"""The files of a print-and-post batch: one merged PDF (pypdf) and the manifest CSV. Pure, no database.

Manifest columns: ``position, delivery_id, addressee, address_1 .. address_8, country, pages, first_page,
mail_class``; one row per letter in the order of the merged PDF (``first_page`` is 1-based). The address
lines are the address block below the addressee, in the destination country's format.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

from pypdf import PdfReader, PdfWriter

ADDRESS_COLUMNS = 8
HEADER = ("position", "delivery_id", "addressee", *(f"address_{n}" for n in range(1, ADDRESS_COLUMNS + 1)),
          "country", "pages", "first_page", "mail_class")


@dataclass(frozen=True)
class Letter:
    """One rendered letter: ``delivery_id``, ``addressee``, ``address`` lines below the addressee, ``country``
    (ISO alpha-2 or ``""``), ``mail_class`` and the letter's ``pdf`` bytes."""

    delivery_id: int
    addressee: str
    address: tuple[str, ...]
    country: str
    mail_class: str
    pdf: bytes


@dataclass(frozen=True)
class BatchFiles:
    """The merged ``pdf`` and the ``manifest`` (UTF-8 CSV) with their SHA-256, the ``pages`` of each letter
    (same order) and the page total."""

    pdf: bytes
    manifest: bytes
    pages: tuple[int, ...]

    @property
    def pdf_sha256(self) -> str:
        """SHA-256 (hex) of the merged PDF."""
        return hashlib.sha256(self.pdf).hexdigest()

    @property
    def manifest_sha256(self) -> str:
        """SHA-256 (hex) of the manifest."""
        return hashlib.sha256(self.manifest).hexdigest()

    @property
    def total_pages(self) -> int:
        """Pages of the merged PDF."""
        return sum(self.pages)


def page_count(pdf: bytes) -> int:
    """Pages of one PDF."""
    return len(PdfReader(io.BytesIO(pdf)).pages)


def build_files(letters: Sequence[Letter]) -> BatchFiles:
    """Merge ``letters`` in order into one PDF and write the manifest (see the module docstring)."""
    writer = PdfWriter()
    pages: list[int] = []
    for letter in letters:
        reader = PdfReader(io.BytesIO(letter.pdf))
        pages.append(len(reader.pages))
        writer.append(reader)
    merged = io.BytesIO()
    writer.write(merged)
    text = io.StringIO()
    out = csv.writer(text, lineterminator="\r\n")
    out.writerow(HEADER)
    first = 1
    for position, (letter, count) in enumerate(zip(letters, pages, strict=True), start=1):
        lines = list(letter.address[:ADDRESS_COLUMNS]) + [""] * (ADDRESS_COLUMNS - len(letter.address))
        out.writerow([position, letter.delivery_id, letter.addressee, *lines, letter.country, count, first,
                      letter.mail_class])
        first += count
    return BatchFiles(merged.getvalue(), text.getvalue().encode("utf-8"), tuple(pages))
