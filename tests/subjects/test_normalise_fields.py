"""Emails, countries, regions, postal codes, languages, categories, push subscriptions, reachability."""

import base64
import json

import pytest

from app.subjects import IssueKind, NormalisedRow, RawRow, Rejection, normalise_row


def normalised(values: dict[str, str]) -> NormalisedRow:
    result = normalise_row(RawRow(7, {"external_id": "x", **values}), default_country=None)
    assert isinstance(result, NormalisedRow)
    return result


def reasons(row: NormalisedRow, column: str) -> list[str]:
    return [i.reason for i in row.issues if i.column == column]


def test_email_domain_lowercased_local_part_kept() -> None:
    row = normalised({"email": "  John.Doe@Mail.EXAMPLE.org "})
    assert row.email == "John.Doe@mail.example.org"
    assert row.issues == ()


@pytest.mark.parametrize(("value", "fragment"), [
    ("john.doe.mail.de", "@-sign"),
    ("john@", "after the @-sign"),
    ("jo hn@mail.de", "invalid character"),
])
def test_bad_email_is_rejected_with_the_reason(value: str, fragment: str) -> None:
    row = normalised({"email": value, "phone": "+4930123456"})
    assert row.email is None
    [issue] = [i for i in row.issues if i.column == "email"]
    assert (issue.line, issue.kind) == (7, IssueKind.rejected)
    assert issue.reason.startswith("invalid email:") and fragment in issue.reason
    assert value not in issue.reason


@pytest.mark.parametrize(("value", "code"), [
    ("Germany", "DE"), ("DEU", "DE"), ("de", "DE"), ("United States", "US"), ("USA", "US"), ("U.S.A.", "US"),
    ("Deutschland", "DE"), ("United Kingdom", "GB"),
])
def test_country_names_and_codes_to_alpha2(value: str, code: str) -> None:
    assert normalised({"email": "a@mail.de", "country": value}).address.country == code


def test_unknown_country_is_reported() -> None:
    row = normalised({"email": "a@mail.de", "country": "Atlantis"})
    assert row.address.country is None
    assert reasons(row, "country") == ["unknown country (use ISO 3166-1 code or English name)"]


@pytest.mark.parametrize(("country", "region", "code"), [
    ("US", "California", "US-CA"), ("US", "CA", "US-CA"), ("US", "Calif.", "US-CA"), ("USA", "ny", "US-NY"),
    ("Canada", "Province of Ontario", None), ("CA", "Québec", "CA-QC"), ("CA", "BC", "CA-BC"),
    ("AU", "New South Wales", "AU-NSW"), ("Australia", "VIC", "AU-VIC"), ("DE", "DE-BY", "DE-BY"),
    ("DE", "Bayern", None),
])
def test_region_to_iso_3166_2(country: str, region: str, code: str | None) -> None:
    row = normalised({"email": "a@mail.de", "country": country, "region": region})
    assert row.address.subdivision == code
    assert row.address.region == region


def test_unknown_us_state_is_warned_and_kept_as_text() -> None:
    row = normalised({"email": "a@mail.de", "country": "US", "region": "Narnia"})
    assert row.address.region == "Narnia" and row.address.subdivision is None
    assert reasons(row, "region") == ["not a known subdivision of US; kept as text"]


def test_leading_zero_postal_code_kept_and_4_digit_us_zip_warned() -> None:
    assert normalised({"email": "a@mail.de", "postal_code": "01067", "country": "DE"}).address.postal_code == "01067"
    row = normalised({"email": "a@mail.de", "postal_code": "2134", "country": "US"})
    assert row.address.postal_code == "2134"
    assert [(i.kind, i.reason) for i in row.issues] == [
        (IssueKind.warning, "4-digit US ZIP code: a leading zero may have been lost")
    ]


@pytest.mark.parametrize(("value", "tag"), [("de", "de"), ("pt_br", "pt-BR"), ("EN-gb", "en-GB"),
                                            ("zh-hant", "zh-Hant"), ("klingon", None), ("xx", None)])
def test_preferred_language(value: str, tag: str | None) -> None:
    row = normalised({"email": "a@mail.de", "preferred_language": value})
    assert row.preferred_language == tag
    assert bool(reasons(row, "preferred_language")) == (tag is None)


def test_data_categories_split_validated_and_unknown_reported() -> None:
    row = normalised({"email": "a@mail.de", "data_categories": "Contact; health ;payment-card;;shoe size;health"})
    assert row.data_categories == ("contact", "health", "payment_card")
    assert reasons(row, "data_categories") == ["unknown data category 'shoe size' dropped"]


def b64(size: int) -> str:
    return base64.urlsafe_b64encode(bytes([4] + [1] * (size - 1))).decode().rstrip("=")


def test_push_subscription_validated_and_canonicalised() -> None:
    sub = {"keys": {"auth": b64(16), "p256dh": b64(65)}, "endpoint": "https://fcm.googleapis.com/fcm/send/abc",
           "expirationTime": None}
    row = normalised({"push_subscription": json.dumps(sub, indent=2)})
    assert row.push_subscription is not None
    assert json.loads(row.push_subscription) == {"endpoint": sub["endpoint"], "keys": sub["keys"]}
    assert row.reachable


@pytest.mark.parametrize(("sub", "fragment"), [
    ("not json", "not valid JSON"),
    ('{"endpoint": "ftp://x/y", "keys": {}}', "http(s) URL"),
    ('{"endpoint": "https://push.example.net/1"}', "lacks keys"),
    ('{"endpoint": "https://push.example.net/1", "keys": {"p256dh": "AAAA", "auth": "AAAA"}}', "keys.p256dh"),
])
def test_bad_push_subscriptions_are_rejected(sub: str, fragment: str) -> None:
    row = normalised({"push_subscription": sub})
    assert row.push_subscription is None
    assert fragment in reasons(row, "push_subscription")[0]


def test_row_without_usable_contact_is_kept_and_flagged_unreachable() -> None:
    row = normalised({"full_name": "Ann Lee", "email": "not-an-email", "address_line1": "1 Main St"})
    assert not row.reachable
    assert row.full_name == "Ann Lee"
    assert [i.column for i in row.issues] == ["email", None]
    assert row.issues[-1].kind == IssueKind.warning and "substitute notice" in row.issues[-1].reason


def test_postal_address_alone_makes_a_subject_reachable() -> None:
    row = normalised({"address_line1": "1 Main St", "city": "Springfield", "country": "US"})
    assert row.reachable and row.issues == ()


def test_empty_and_unidentifiable_records_are_rejections() -> None:
    empty = normalise_row(RawRow(3, {"email": "  ", "phone": ""}), default_country=None)
    assert isinstance(empty, Rejection) and (empty.line, empty.reason) == (3, "empty record")
    nothing = normalise_row(RawRow(4, {"email": "bad", "data_categories": "health"}), default_country=None)
    assert isinstance(nothing, Rejection)
    assert [i.column for i in nothing.issues] == [None, "email"]


def test_name_whitespace_collapsed_and_nfc() -> None:
    row = normalised({"email": "a@mail.de", "full_name": "  Jose\u0301   Mu\u0308ller "})
    assert row.full_name == "José Müller"


def test_names_and_address_parts_over_300_characters_are_rejected_with_their_length() -> None:
    row = normalised({"email": "a@mail.de", "full_name": "N" * 301, "city": "C" * 300, "address_line1": "x" * 5000})
    assert row.full_name is None and row.address.city == "C" * 300 and row.address.line1 is None
    assert reasons(row, "full_name") == ["longer than 300 characters (301)"]
    assert reasons(row, "address_line1") == ["longer than 300 characters (5000)"]
    assert [i.kind for i in row.issues if i.column == "full_name"] == [IssueKind.rejected]


def test_a_name_joined_from_parts_over_300_characters_is_rejected() -> None:
    row = normalised({"email": "a@mail.de", "given_name": "G" * 200, "family_name": "F" * 200})
    assert row.full_name is None
    assert reasons(row, "full_name") == ["joined from its parts, longer than 300 characters (401)"]
