"""De-duplication: identity keys, blind-index keys, merging, idempotence."""

import base64
import json

from app.crypto import BlindIndex
from app.subjects import (
    Jurisdiction,
    NormalisedRow,
    RawRow,
    dedupe_keys,
    dedupe_rows,
    identity_keys,
    merge,
    normalise_row,
)

PUSH = json.dumps({"endpoint": "https://push.example.net/abc",
                   "keys": {"p256dh": base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).decode().rstrip("="),
                            "auth": base64.urlsafe_b64encode(b"\x02" * 16).decode().rstrip("=")}})


def rows(*records: dict[str, str]) -> list[NormalisedRow]:
    result = []
    for line, values in enumerate(records, start=2):
        row = normalise_row(RawRow(line, values), default_country="DE")
        assert isinstance(row, NormalisedRow)
        result.append(row)
    return result


THREE_ROWS_TWO_SYSTEMS = (
    {"source_system": "crm", "external_id": "C-1", "email": "Ann.Lee@Mail.de", "data_categories": "contact",
     "country": "DE"},
    {"source_system": "crm", "external_id": "C-1", "phone": "0151 12345678", "data_categories": "health"},
    {"source_system": "shop", "external_id": "S-9", "email": "ann.lee@mail.DE", "push_subscription": PUSH,
     "data_categories": "payment_card;contact"},
)


def test_three_rows_from_two_systems_merge_into_one_subject_with_three_contacts() -> None:
    subjects, merged = dedupe_rows(rows(*THREE_ROWS_TWO_SYSTEMS))
    assert merged == 2
    [subject] = subjects
    assert subject.lines == (2, 3, 4)
    assert subject.emails == ("Ann.Lee@mail.de",)
    assert subject.phones == ("+4915112345678",)
    assert len(subject.push_subscriptions) == 1
    assert subject.external_ids == (("crm", "C-1"), ("shop", "S-9"))
    assert subject.data_categories == ("contact", "health", "payment_card")
    assert subject.jurisdiction == Jurisdiction("DE", "address")
    assert subject.contact_count == 3


def test_same_external_id_in_other_system_is_another_person() -> None:
    subjects, merged = dedupe_rows(rows(
        {"source_system": "crm", "external_id": "42", "email": "a@mail.de"},
        {"source_system": "billing", "external_id": "42", "email": "b@mail.de"},
    ))
    assert (len(subjects), merged) == (2, 0)


def test_transitive_links_and_first_seen_order() -> None:
    subjects, merged = dedupe_rows(rows(
        {"email": "x@mail.de"},
        {"email": "solo@mail.de"},
        {"email": "y@mail.de", "phone": "+4930123456"},
        {"email": "x@mail.de", "phone": "+4930123456"},
    ))
    assert merged == 2
    assert [s.lines for s in subjects] == [(2, 4, 5), (3,)]
    assert subjects[0].emails == ("x@mail.de", "y@mail.de")


def test_importing_the_same_rows_twice_changes_nothing() -> None:
    once, _ = dedupe_rows(rows(*THREE_ROWS_TWO_SYSTEMS))
    twice, merged = dedupe_rows(rows(*THREE_ROWS_TWO_SYSTEMS) + rows(*THREE_ROWS_TWO_SYSTEMS))
    assert merged == 5
    assert twice == once
    assert merge(once[0], once[0]) == once[0]


def test_dedupe_keys_are_blind_stable_and_keyed() -> None:
    index = BlindIndex(b"k" * 32)
    first, second, third = rows(*THREE_ROWS_TWO_SYSTEMS)
    keys_first = dedupe_keys(first, index)
    assert [k.split(":")[0] for k in keys_first] == ["external_id", "email"]
    assert all(len(k.split(":")[1]) == 32 for k in keys_first)
    assert "mail.de" not in "".join(keys_first)
    assert dedupe_keys(first, BlindIndex(b"k" * 32)) == keys_first
    assert set(keys_first) & set(dedupe_keys(second, index)) == {keys_first[0]}
    assert set(keys_first) & set(dedupe_keys(third, index)) == {keys_first[1]}
    assert set(dedupe_keys(first, BlindIndex(b"o" * 32))).isdisjoint(keys_first)
    assert identity_keys(first)[1] == ("email", "ann.lee@mail.de")
