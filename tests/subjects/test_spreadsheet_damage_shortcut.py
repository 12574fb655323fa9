"""``spreadsheet_damage``'s shortcut (no ``e``, ``E``, ``.`` or ``,``: no damage) answers as its full test."""

from __future__ import annotations

import random

from app.subjects.fields import _DECIMAL, SCIENTIFIC, spreadsheet_damage


def _full_test(value: str) -> bool:
    compact = value.replace(" ", "")
    return bool(SCIENTIFIC.match(compact) or _DECIMAL.match(compact))


def test_shortcut_answers_as_the_regular_expressions() -> None:
    rng = random.Random(11)
    alphabet = "0123456789 +-eE.,x\n\t\u0660\u00a0"
    values = ["4.47E+11", "4,47e11", "4915123456.0", "+4915123456,00", " 1 2 e 3 ", "1e5\n", "+1 201 555 0123",
              "62704", "90210-1234", "", "e", ".", "1.5", "12.0 0"]
    values += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 14))) for _ in range(50000)]
    values += [f"{rng.randrange(10 ** 9)}{rng.choice('.,eE')}{rng.choice(['', '+', '-'])}{rng.randrange(100)}"
               for _ in range(5000)]
    differing = [v for v in values if (spreadsheet_damage(v) is not None) != _full_test(v)]
    assert differing == []
    assert sum(spreadsheet_damage(v) is not None for v in values) > 1000
