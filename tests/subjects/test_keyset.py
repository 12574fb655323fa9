"""The import's in-memory set of blind-index keys answers exactly as a Python set would."""

from __future__ import annotations

import random

import pytest
from sqlmodel import Session

from app.subjects import keyset
from app.subjects.keyset import KeySet
from app.subjects.models import digest_key
from app.subjects.store import narrowed
from tests.test_subjects_db import _bulk_subjects, _digest


def test_membership_matches_a_python_set_across_merges() -> None:
    rng = random.Random(7)
    start = [rng.randrange(-2**63, 2**63) for _ in range(500)] + [0, -1, 2**63 - 1, -2**63]
    keys, expected = KeySet(start + start[:50]), set(start)  # repeats at the start are kept once
    assert len(keys) == len(expected)
    for round_ in range(2 * keyset.COMPACT_EVERY + 3):  # across several merges of the recent arrays
        added = [rng.randrange(-2**63, 2**63) for _ in range(rng.randrange(0, 300))]
        probe = added[: len(added) // 2] + [rng.randrange(-2**63, 2**63) for _ in range(200)] + start[round_::9]
        assert keys.contains(probe) == [p in expected for p in probe]
        keys.add(added)
        expected.update(added)
        assert keys.contains(probe) == [p in expected for p in probe]
    assert KeySet().contains([1, 2]) == [False, False]
    assert keys.contains([]) == []


def test_narrowed_keeps_only_keys_that_may_have_an_owner() -> None:
    known = KeySet([11, 22])
    wanted = {"email": {"e1": 11, "e2": 12}, "phone": {"p1": 22}, "external_id": {"x1": 33}}
    assert narrowed(wanted, known) == {"email": {"e1": 11}, "phone": {"p1": 22}}


def test_registry_keys_are_read_unless_there_are_too_many(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _bulk_subjects(session, 5)
    loaded = keyset.registry_keys(session)
    assert loaded is not None and len(loaded) == 5
    assert loaded.contains([digest_key("email", _digest(sid)) for sid in ids] + [12345]) == [True] * 5 + [False]
    monkeypatch.setattr(keyset, "PRELOAD_MAX_KEYS", 4)
    assert keyset.registry_keys(session) is None
    session.rollback()
