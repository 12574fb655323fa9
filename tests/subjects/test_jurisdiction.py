"""Jurisdiction: from the address, else inferred from the phone, else unknown."""

import pytest

from app.subjects import Jurisdiction, NormalisedRow, RawRow, normalise_row, resolve_jurisdiction


@pytest.mark.parametrize(("country", "region", "phone", "expected"), [
    ("US", "California", "+12125551234", Jurisdiction("US-CA", "address")),
    ("US", "US-TX", None, Jurisdiction("US-TX", "address")),
    ("US", None, "+14155552671", Jurisdiction("US", "address")),
    ("CA", "ON", None, Jurisdiction("CA-ON", "address")),
    ("AU", "Queensland", None, Jurisdiction("AU-QLD", "address")),
    ("DE", "Bayern", "+14155552671", Jurisdiction("DE", "address")),
])
def test_from_address_first(country: str, region: str | None, phone: str | None, expected: Jurisdiction) -> None:
    assert resolve_jurisdiction(country, region, phone) == expected


@pytest.mark.parametrize(("phone", "code"), [
    ("+14155552671", "US-CA"),
    ("+12125551234", "US-NY"),
    ("+16135550123", "CA-ON"),
    ("+4915112345678", "DE"),
    ("+61291234567", "AU"),
    ("+18005551234", "US"),
])
def test_inferred_from_phone_when_no_address_country(phone: str, code: str) -> None:
    assert resolve_jurisdiction(None, "California", phone) == Jurisdiction(code, "inferred")


def test_unknown_without_country_or_usable_phone() -> None:
    assert resolve_jurisdiction(None, None, None) == Jurisdiction(None, "unknown")
    assert resolve_jurisdiction(None, None, "+80012345678") == Jurisdiction(None, "unknown")
    assert Jurisdiction("US-CA", "address").country == "US"


def test_normalised_row_carries_its_jurisdiction() -> None:
    rows = [normalise_row(RawRow(2, values), default_country="DE") for values in (
        {"email": "a@mail.de", "country": "United States", "region": "Wash."},
        {"phone": "0151 12345678"},
        {"email": "a@mail.de"},
    )]
    assert all(isinstance(row, NormalisedRow) for row in rows)
    assert [row.jurisdiction for row in rows if isinstance(row, NormalisedRow)] == [
        Jurisdiction("US-WA", "address"), Jurisdiction("DE", "inferred"), Jurisdiction(None, "unknown"),
    ]
