"""Plain, picklable value types shared by reading, normalisation and de-duplication.

Everything here is a frozen, slotted dataclass so rows can cross process boundaries (a
``multiprocessing`` pool over chunks) cheaply and cannot be mutated by accident.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, Literal, TypeVar

_T = TypeVar("_T")


def _fast_pickle(cls: type[_T]) -> type[_T]:
    """Pickle as ``(cls, field values)``: ~2x cheaper than slotted dataclasses' default state dance."""
    getter = operator.attrgetter(*(f.name for f in fields(cls)))  # type: ignore[arg-type]

    def __reduce__(self: _T) -> tuple[type[_T], Any]:
        return cls, getter(self)

    setattr(cls, "__reduce__", __reduce__)  # noqa: B010
    return cls


class IssueKind(StrEnum):
    """How serious an entry in the rejects report is.

    ``rejected``: a value (or, with ``column=None``, the whole row) was discarded.
    ``changed``: the value was kept but interpreted in a way a person should be able to check
    (e.g. a national phone number read with the ``--default-country``).
    ``warning``: kept as given, but doubtful (e.g. a 4-digit US ZIP code, an unreachable subject).
    """

    rejected = "rejected"
    changed = "changed"
    warning = "warning"


@_fast_pickle
@dataclass(frozen=True, slots=True)
class Issue:
    """One line of the rejects report: physical line, canonical column (or None), kind, reason.

    Reasons never quote the offending value, so the report carries no contact data.
    """

    line: int
    column: str | None
    kind: IssueKind
    reason: str


@_fast_pickle
@dataclass(frozen=True, slots=True)
class RawRow:
    """One record as read from the file, before any checks.

    Attributes:
        line: 1-based physical line where the record starts (the CSV header is line 1).
        values: canonical column name -> the cell text exactly as read (never converted to a
            number); columns absent from the file are absent from the dict.
    """

    line: int
    values: dict[str, str]


@_fast_pickle
@dataclass(frozen=True, slots=True)
class Rejection:
    """A whole record that cannot become a subject (ragged row, invalid JSON, empty row...).

    ``issues`` always holds at least the row-level issue (``column=None``) carrying ``reason``.
    """

    line: int
    reason: str
    issues: tuple[Issue, ...]

    @classmethod
    def of(cls, line: int, reason: str, issues: tuple[Issue, ...] = ()) -> Rejection:
        """Build a rejection whose first issue is the row-level ``reason``."""
        return cls(line, reason, (Issue(line, None, IssueKind.rejected, reason), *issues))


JurisdictionSource = Literal["address", "inferred", "unknown"]


@_fast_pickle
@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """Where the subject's law applies.

    Attributes:
        code: ISO 3166-1 alpha-2 (``"DE"``) or ISO 3166-2 (``"US-CA"``), or None when unknown.
        source: ``address`` (from the country/region columns), ``inferred`` (from the phone
            number's region) or ``unknown``.
    """

    code: str | None
    source: JurisdictionSource

    @property
    def country(self) -> str | None:
        """The ISO 3166-1 alpha-2 part of ``code``."""
        return self.code.split("-", 1)[0] if self.code else None


@_fast_pickle
@dataclass(frozen=True, slots=True)
class PostalAddress:
    """A postal address; ``region`` as given, ``subdivision`` the ISO 3166-2 code if known."""

    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    subdivision: str | None = None
    postal_code: str | None = None
    country: str | None = None

    @property
    def is_empty(self) -> bool:
        """True when no address field at all is present."""
        return not any((self.line1, self.line2, self.city, self.region, self.postal_code, self.country))

    @property
    def is_deliverable(self) -> bool:
        """True when a letter could plausibly be sent: a street line plus a city or postal code."""
        return bool(self.line1 and (self.city or self.postal_code))


@_fast_pickle
@dataclass(frozen=True, slots=True)
class NormalisedRow:
    """One checked record, ready to be encrypted, indexed and merged.

    Attributes:
        line: physical line where the record starts.
        external_id, source_system: identifiers as given (stripped), or None.
        full_name: whitespace-collapsed, NFC; joined from given, middle and family name when the
            record has no full name; None if absent.
        email: email-validator's normalised form (local part as given, domain lower-case).
        phone: E.164 (``+4915123456789``).
        push_subscription: compact JSON with sorted keys (endpoint, keys.p256dh, keys.auth).
        address: the postal address (possibly empty).
        preferred_language: BCP 47-style tag (``de``, ``pt-BR``).
        data_categories: sorted, de-duplicated DataCategory values.
        jurisdiction: see :class:`Jurisdiction`.
        issues: rejected/changed values and warnings for the rejects report.
    """

    line: int
    external_id: str | None
    source_system: str | None
    full_name: str | None
    email: str | None
    phone: str | None
    push_subscription: str | None
    address: PostalAddress
    preferred_language: str | None
    data_categories: tuple[str, ...]
    jurisdiction: Jurisdiction
    issues: tuple[Issue, ...] = field(default=())

    @property
    def reachable(self) -> bool:
        """True when at least one channel (email, SMS/phone, push, letter) is usable.

        Unreachable subjects are still subjects: they count for substitute notice.
        """
        return bool(self.email or self.phone or self.push_subscription or self.address.is_deliverable)


Outcome = NormalisedRow | Rejection
"""What normalising one record gives."""
