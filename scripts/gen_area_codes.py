"""Regenerate app/subjects/area_codes.json: North American area code -> ISO 3166-2 subdivision.

Derived from phonenumbers' geocoder (the same data, ~200 MB and ~8 s to import), so that resolving a
subject's jurisdiction from a phone number costs a dict lookup. Run: .venv/bin/python scripts/gen_area_codes.py
"""

from __future__ import annotations

import json
from pathlib import Path

import phonenumbers
from phonenumbers import geocoder

from app.subjects.places import subdivision_code


def main() -> None:
    table: dict[str, str] = {}
    for area in range(200, 1000):
        for exchange in ("555", "234", "456", "789"):
            try:
                number = phonenumbers.parse(f"+1{area}{exchange}0100")
            except phonenumbers.NumberParseException:
                continue
            region = phonenumbers.region_code_for_number(number)
            if region not in ("US", "CA"):
                continue
            place = geocoder.description_for_number(number, "en", region=None)
            code = subdivision_code(region, place.rsplit(", ", 1)[-1]) if place else None
            if code:
                table[str(area)] = code
                break
    out = Path(__file__).resolve().parents[1] / "app" / "subjects" / "area_codes.json"
    out.write_text(json.dumps(dict(sorted(table.items())), indent=0) + "\n")
    print(f"{len(table)} area codes -> {out}")


if __name__ == "__main__":
    main()
