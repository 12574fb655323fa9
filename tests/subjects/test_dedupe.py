"""De-duplication: identity keys, blind-index keys, merging, idempotence."""

import base64
import json
from typing import Any

from app.crypto import BlindIndex, Keys
from app.subjects import NormalisedRow, RawRow, dedupe_keys, identity_keys, normalise_row
from app.subjects.models import CONTACT_KINDS
from app.subjects.store import IDENTIFIER_COLUMNS, Prepared, merge_prepared
from tests.support import merge_rows

KEYS = Keys((b"d" * 32,), b"i" * 32)
CIPHER = KEYS.cipher()

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


def dedupe(records: list[NormalisedRow]) -> tuple[list[Prepared], int]:
    return merge_rows(records, KEYS)


def idents(subject: Prepared) -> list[dict[str, Any]]:
    """The subject's identifiers by column name."""
    return [dict(zip(IDENTIFIER_COLUMNS, i, strict=True)) for i in subject.identifiers]


def decrypted(subject: Prepared, kind: str) -> list[str]:
    """Decrypted values of one kind, in stored order."""
    return [CIPHER.decrypt(i["value_enc"]) for i in idents(subject) if i["kind"] == kind]


def shape(subject: Prepared) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """What a subject is, without the random nonces of its encrypted values."""
    return ([(i["kind"], i["digest"]) for i in idents(subject)],
            {k: v for k, v in subject.values().items() if k != "full_name_enc"})


THREE_ROWS_TWO_SYSTEMS = (
    {"source_system": "crm", "external_id": "C-1", "email": "Ann.Lee@Mail.de", "data_categories": "contact",
     "country": "DE"},
    {"source_system": "crm", "external_id": "C-1", "phone": "0151 12345678", "data_categories": "health"},
    {"source_system": "shop", "external_id": "S-9", "email": "ann.lee@mail.DE", "push_subscription": PUSH,
     "data_categories": "payment_card;contact"},
)


def test_three_rows_from_two_systems_merge_into_one_subject_with_three_contacts() -> None:
    subjects, merged = dedupe(rows(*THREE_ROWS_TWO_SYSTEMS))
    assert merged == 2
    [subject] = subjects
    assert decrypted(subject, "email") == ["Ann.Lee@mail.de"]
    assert decrypted(subject, "phone") == ["+4915112345678"]
    assert len(decrypted(subject, "push")) == 1
    assert [(i["source_system"], CIPHER.decrypt(i["value_enc"])) for i in idents(subject)
            if i["kind"] == "external_id"] == [("crm", "C-1"), ("shop", "S-9")]
    assert subject.values()["data_categories"] == ["contact", "health", "payment_card"]
    assert (subject.values()["jurisdiction"], subject.values()["jurisdiction_source"]) == ("DE", "address")
    assert sum(i["kind"] in CONTACT_KINDS for i in idents(subject)) == 3


def test_same_external_id_in_other_system_is_another_person() -> None:
    subjects, merged = dedupe(rows(
        {"source_system": "crm", "external_id": "42", "email": "a@mail.de"},
        {"source_system": "billing", "external_id": "42", "email": "b@mail.de"},
    ))
    assert (len(subjects), merged) == (2, 0)


def test_transitive_links_and_first_seen_order() -> None:
    subjects, merged = dedupe(rows(
        {"email": "x@mail.de"},
        {"email": "solo@mail.de"},
        {"email": "y@mail.de", "phone": "+4930123456"},
        {"email": "x@mail.de", "phone": "+4930123456"},
    ))
    assert merged == 2
    assert [decrypted(s, "email") for s in subjects] == [["x@mail.de", "y@mail.de"], ["solo@mail.de"]]
    assert decrypted(subjects[0], "phone") == ["+4930123456"]


def test_importing_the_same_rows_twice_changes_nothing() -> None:
    once, _ = dedupe(rows(*THREE_ROWS_TWO_SYSTEMS))
    twice, merged = dedupe(rows(*THREE_ROWS_TWO_SYSTEMS) + rows(*THREE_ROWS_TWO_SYSTEMS))
    assert merged == 5
    assert [shape(s) for s in twice] == [shape(s) for s in once]
    assert merge_prepared(once[0], once[0]) == once[0]


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
