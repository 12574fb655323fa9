"""Turn a :class:`RawRow` into a checked :class:`NormalisedRow` (or a :class:`Rejection`).

Pure and picklable: :func:`normalise_row` and :func:`normalise_chunk` are module-level functions
that hold no state besides per-process lookup caches, so they can run in worker processes.

A bad value is dropped and reported (``IssueKind.rejected`` with line and column); the row itself
survives. Only a record with nothing identifying at all becomes a :class:`Rejection`. A subject
without any usable channel is kept and flagged (``reachable`` is False, plus a warning) because it
still counts for substitute notice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from app.subjects.columns import NAME_PART_COLUMNS
from app.subjects.fields import (
    Checked,
    check_categories,
    check_email,
    check_phone,
    check_push_subscription,
    clean_text,
    spreadsheet_damage,
)
from app.subjects.jurisdiction import resolve_jurisdiction
from app.subjects.model import Issue, IssueKind, NormalisedRow, Outcome, PostalAddress, RawRow, Rejection
from app.subjects.places import country_code, has_subdivisions, language_tag, subdivision_code

MAX_TEXT_CHARS = 300
"""Longest name or address part kept: they go into email headers (To: display name), letters' address
blocks and SMS greetings, where longer text is refused or cut by the provider."""
LIMITED_COLUMNS = ("full_name", *NAME_PART_COLUMNS, "address_line1", "address_line2", "city", "region")
SOURCE_SYSTEM_CHARS = 100
"""Longest ``source_system`` kept (its column is ``VARCHAR(100)``: PostgreSQL refused a longer one and with it
the whole import)."""
LIMITS = {**dict.fromkeys(LIMITED_COLUMNS, MAX_TEXT_CHARS), "source_system": SOURCE_SYSTEM_CHARS}
NUL_REASON = "contains a NUL character (binary data?): value dropped"
UNREACHABLE = "no usable contact channel (email, phone, push or postal address): substitute notice"


class _Issues(list[Issue]):
    """Issue collector bound to one line."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line

    def add(self, column: str | None, kind: IssueKind, reason: str) -> None:
        self.append(Issue(self.line, column, kind, reason))


def normalise_row(raw: RawRow, *, default_country: str | None) -> Outcome:
    """Check and normalise one record.

    A row without a (non-blank) ``full_name`` gets one joined from its name parts: given, middle
    and family name, single-spaced; a row with ``full_name`` keeps it and its parts are ignored.

    Args:
        raw: the record as read (canonical column -> text).
        default_country: ISO alpha-2 (or a country name) used to read national-format phone
            numbers when the row has no country; never used as the address country.

    Returns:
        A :class:`NormalisedRow` whose ``issues`` list every dropped or reinterpreted value and
        warnings, or a :class:`Rejection` for an empty record or one with nothing identifying
        (no external_id, name, contact, street line or postal code: a country or city alone tells no one apart,
        and could not be matched again on the next import). Never raises for bad data.
    """
    text = {column: clean_text(value) for column, value in raw.values.items()}
    if not any(text.values()):
        return Rejection.of(raw.line, "empty record")
    issues = _Issues(raw.line)
    for column, limit in LIMITS.items():
        if (value := text.get(column)) is not None and len(value) > limit:
            issues.add(column, IssueKind.rejected, f"longer than {limit} characters ({len(value)})")
            text[column] = None
    for column in [column for column, value in text.items() if value and "\x00" in value]:  # PostgreSQL refuses NUL
        issues.add(column, IssueKind.rejected, NUL_REASON)
        text[column] = None
    country = _country(text.get("country"), issues)
    address = _address(text, country, issues)
    phone = _phone(text.get("phone"), country, default_country, issues)
    row = NormalisedRow(
        line=raw.line,
        external_id=_external_id(text.get("external_id"), issues),
        source_system=text.get("source_system"),
        full_name=text.get("full_name") or _joined_name(text, issues),
        email=_checked("email", text.get("email"), check_email, issues),
        phone=phone,
        push_subscription=_checked("push_subscription", text.get("push_subscription"),
                                   check_push_subscription, issues),
        address=address,
        preferred_language=_language(text.get("preferred_language"), issues),
        data_categories=_categories(text.get("data_categories"), issues),
        jurisdiction=resolve_jurisdiction(country, address.subdivision, phone),
    )
    if not (row.external_id or row.full_name or row.reachable or address.line1 or address.postal_code):
        return Rejection.of(raw.line, "nothing identifying left: no external_id, name, contact, street or postal "
                            "code", tuple(issues))
    if not row.reachable:
        issues.add(None, IssueKind.warning, UNREACHABLE)
    return _with_issues(row, issues)


def normalise_chunk(rows: Sequence[RawRow], default_country: str | None = None) -> list[Outcome]:
    """:func:`normalise_row` over a chunk, in order; the unit of work for a process pool."""
    return [normalise_row(row, default_country=default_country) for row in rows]


def _with_issues(row: NormalisedRow, issues: list[Issue]) -> NormalisedRow:
    if not issues:
        return row
    return NormalisedRow(row.line, row.external_id, row.source_system, row.full_name, row.email, row.phone,
                         row.push_subscription, row.address, row.preferred_language, row.data_categories,
                         row.jurisdiction, tuple(issues))


def _joined_name(text: dict[str, str | None], issues: _Issues) -> str | None:
    """``given middle family`` from the parts present (each already whitespace-collapsed), or None; rejected
    (reported on ``full_name``) when the joined name is longer than ``MAX_TEXT_CHARS``."""
    joined = " ".join(part for column in NAME_PART_COLUMNS if (part := text.get(column))) or None
    if joined is not None and len(joined) > MAX_TEXT_CHARS:
        issues.add("full_name", IssueKind.rejected,
                   f"joined from its parts, longer than {MAX_TEXT_CHARS} characters ({len(joined)})")
        return None
    return joined


def _checked(column: str, value: str | None, check: Callable[[str], Checked], issues: _Issues) -> str | None:
    if value is None:
        return None
    result, reason = check(value)
    if reason:
        issues.add(column, IssueKind.rejected, reason)
    return result


def _external_id(value: str | None, issues: _Issues) -> str | None:
    damage = spreadsheet_damage(value) if value else None
    if damage:
        issues.add("external_id", IssueKind.rejected, damage)
        return None
    return value


def _country(value: str | None, issues: _Issues) -> str | None:
    if value is None:
        return None
    code = country_code(value)
    if code is None:
        issues.add("country", IssueKind.rejected, "unknown country (use ISO 3166-1 code or English name)")
    return code


def _address(text: dict[str, str | None], country: str | None, issues: _Issues) -> PostalAddress:
    region = text.get("region")
    postal_code = text.get("postal_code")
    if postal_code and spreadsheet_damage(postal_code):
        issues.add("postal_code", IssueKind.rejected, spreadsheet_damage(postal_code) or "")
        postal_code = None
    elif postal_code and country == "US" and len(postal_code) == 4 and postal_code.isdigit():
        issues.add("postal_code", IssueKind.warning, "4-digit US ZIP code: a leading zero may have been lost")
    return PostalAddress(
        line1=text.get("address_line1"),
        line2=text.get("address_line2"),
        city=text.get("city"),
        region=region,
        subdivision=_subdivision(country, region, issues),
        postal_code=postal_code,
        country=country,
    )


def _subdivision(country: str | None, region: str | None, issues: _Issues) -> str | None:
    if not region or not country:
        return None
    if has_subdivisions(country):
        code = subdivision_code(country, region)
        if code is None:
            issues.add("region", IssueKind.warning, f"not a known subdivision of {country}; kept as text")
        return code
    upper = region.upper()
    return upper if upper.startswith(f"{country}-") and 3 < len(upper) <= 6 else None


def _phone(value: str | None, country: str | None, default_country: str | None,
           issues: _Issues) -> str | None:
    if value is None:
        return None
    default = country_code(default_country) if default_country else None
    phone, reason = check_phone(value, country or default)
    if reason:
        issues.add("phone", IssueKind.rejected, reason)
    elif country is None and default and not value.lstrip().startswith(("+", "00")):
        issues.add("phone", IssueKind.changed, f"national number read as {default} (--default-country)")
    return phone


def _language(value: str | None, issues: _Issues) -> str | None:
    if value is None:
        return None
    tag = language_tag(value)
    if tag is None:
        issues.add("preferred_language", IssueKind.rejected, "not a language tag like 'de' or 'pt-BR'")
    return tag


def _categories(value: str | None, issues: _Issues) -> tuple[str, ...]:
    if value is None:
        return ()
    known, unknown = check_categories(value)
    for part in unknown:
        issues.add("data_categories", IssueKind.rejected, f"unknown data category {part!r} dropped")
    return known
