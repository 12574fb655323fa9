"""Phone numbers to E.164: spreadsheet damage, 00 prefix, row country vs --default-country."""

import pytest

from app.subjects import IssueKind, NormalisedRow, RawRow, normalise_row


def normalised(values: dict[str, str], default_country: str | None = None) -> NormalisedRow:
    result = normalise_row(RawRow(2, {"external_id": "x", **values}), default_country=default_country)
    assert isinstance(result, NormalisedRow)
    return result


def phone_issues(row: NormalisedRow) -> list[tuple[int, str | None, IssueKind, str]]:
    return [(i.line, i.column, i.kind, i.reason) for i in row.issues if i.column == "phone"]


@pytest.mark.parametrize("value", ["4.47E+11", "4,47E+11", "4.4712E11", "447E+9"])
def test_scientific_notation_is_rejected_with_the_reason_never_guessed(value: str) -> None:
    row = normalised({"phone": value, "country": "GB"})
    assert row.phone is None
    [(line, column, kind, reason)] = phone_issues(row)
    assert (line, column, kind) == (2, "phone", IssueKind.rejected)
    assert "scientific notation" in reason and "digits were lost" in reason


def test_decimal_suffix_from_spreadsheet_is_rejected() -> None:
    row = normalised({"phone": "4915112345678.0"})
    assert row.phone is None
    assert "decimal part" in phone_issues(row)[0][3]


@pytest.mark.parametrize(("value", "country", "expected"), [
    ("0049 151 12345678", "US", "+4915112345678"),
    ("0049 151 12345678", None, "+4915112345678"),
    ("0044 20 7946 0958", "DE", "+442079460958"),
    ("+1 (415) 555-2671", None, "+14155552671"),
])
def test_international_formats(value: str, country: str | None, expected: str) -> None:
    row = normalised({"phone": value, **({"country": country} if country else {})})
    assert row.phone == expected
    assert phone_issues(row) == []


def test_national_format_uses_the_rows_country_before_the_default() -> None:
    row = normalised({"phone": "030 1234567", "country": "Germany"}, default_country="FR")
    assert row.phone == "+49301234567"
    assert phone_issues(row) == []


def test_national_format_falls_back_to_default_country_and_says_so() -> None:
    row = normalised({"phone": "01 42 68 53 00"}, default_country="FR")
    assert row.phone == "+33142685300"
    assert phone_issues(row) == [(2, "phone", IssueKind.changed, "national number read as FR (--default-country)")]


def test_national_format_without_any_country_is_rejected() -> None:
    row = normalised({"phone": "030 1234567"})
    assert row.phone is None
    assert "without a country" in phone_issues(row)[0][3]


def test_invalid_number_for_region_is_rejected() -> None:
    row = normalised({"phone": "12", "country": "DE"})
    assert row.phone is None
    assert phone_issues(row)[0][3] == "not a valid phone number for DE"
