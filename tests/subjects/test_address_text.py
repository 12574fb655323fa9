"""``store.address_text`` writes exactly what ``json.dumps(..., sort_keys=True, ensure_ascii=False)`` writes: the
address text is encrypted and blind-indexed, so one character of difference would split a stored address
from the same address imported again."""

from __future__ import annotations

import dataclasses
import json
import random

from app.subjects.model import PostalAddress
from app.subjects.store import address_text

TRICKY = ["", " ", '"', "\\", "\\\"", "/", "\x00", "\x1f", "\x7f", "\n\r\t\b\f", "\u2028\u2029", "é", "Straße 5",
          "東京都", "😀", "\ud800", "a\"b\\c", "null", "{}", "O'Brien", "  two  spaces  "]


def _reference(address: PostalAddress) -> str:
    return json.dumps(dataclasses.asdict(address), sort_keys=True, ensure_ascii=False)


def test_same_text_as_json_dumps_for_tricky_values() -> None:
    names = [f.name for f in dataclasses.fields(PostalAddress)]
    for value in TRICKY:
        for name in names:
            address = PostalAddress(**{name: value})
            assert address_text(address) == _reference(address), (name, value)
    assert address_text(PostalAddress()) == _reference(PostalAddress())


def test_same_text_as_json_dumps_for_random_addresses() -> None:
    rng = random.Random(2026)
    alphabet = [chr(c) for c in (*range(0, 0x80), 0xA0, 0xE9, 0x2028, 0x4E2D, 0x1F600, 0xD800)]
    names = [f.name for f in dataclasses.fields(PostalAddress)]
    for _ in range(2000):
        values = {n: (None if rng.random() < 0.3 else "".join(rng.choices(alphabet, k=rng.randint(0, 12))))
                  for n in names}
        address = PostalAddress(**values)
        assert address_text(address) == _reference(address)
