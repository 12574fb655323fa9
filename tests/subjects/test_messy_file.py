"""A 2,000-row messy file generated with seeded Faker: the summary matches what was injected."""

import csv
import io
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from faker import Faker

from app.crypto import Keys
from app.subjects import NormalisedRow, Rejection, normalise_stream, open_subject_file
from tests.support import merge_rows

HEADERS = ["Customer ID", "Name", "E-Mail", "Mobile", "Street", "Address Line 2", "City", "State", "ZIP",
           "Country", "Language", "Categories", "Source"]
ROWS = 2000
LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass
class Injected:
    lines: dict[int, str] = field(default_factory=dict)  # physical line -> external id
    postal_codes: dict[int, str] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)


def phone(rng: random.Random, country: str) -> str:
    digits = "".join(rng.choice("0123456789") for _ in range(8))
    if country == "DE":
        return rng.choice([f"0151 {digits}", f"+49 151 {digits}", f"0049 151 {digits}"])
    if country == "FR":
        return f"06 12 {digits[2:4]} {digits[4:6]} {digits[6:]}"
    return f"({rng.choice(['212', '415', '617', '312'])}) {rng.randint(200, 999)}-{digits[:4]}"


def person(fakes: dict[str, Faker], rng: random.Random, i: int) -> dict[str, str]:
    country = rng.choice(["DE", "FR", "US"])
    fake = fakes[country]
    return {
        "Customer ID": f"C{i:05d}", "Name": fake.name(), "E-Mail": f"user{i}@{fake.free_email_domain()}",
        "Mobile": phone(rng, country), "Street": fake.street_address(), "Address Line 2": "",
        "City": fake.city(), "State": fake.state() if country == "US" else "",
        "ZIP": fake.zipcode() if country == "US" else fake.postcode(),
        "Country": {"DE": "Germany", "FR": "FR", "US": "USA"}[country],
        "Language": {"DE": "de", "FR": "fr_FR", "US": "en-US"}[country],
        "Categories": rng.choice(["contact", "contact;health", "name; payment_card"]), "Source": "crm",
    }


def inject(row: dict[str, str], i: int, rng: random.Random, clean: list[dict[str, str]], inj: Injected) -> str:
    """Damage some rows; returns the kind of damage (or 'clean')."""
    kind = "clean"
    if i % 97 == 5:
        kind, row["Mobile"] = "sci_phone", f"4.{rng.randint(10, 99)}E+11"
    elif i % 89 == 7:
        kind, row["E-Mail"] = "bad_email", rng.choice(["no-at-sign.example.org", "two@@mail.de", "x@"])
    elif i % 83 == 11:
        kind, row["Categories"] = "unknown_category", "contact;shoe size"
    elif i % 79 == 13:
        kind = "unreachable"
        row.update({"E-Mail": "", "Mobile": "", "Street": ""})
    elif i % 71 == 17 and clean:
        kind, twin = "duplicate", rng.choice(clean)
        row.update({"E-Mail": twin["E-Mail"].upper(), "Mobile": "", "Source": "shop"})
        clean.remove(twin)
    elif i % 61 == 19:
        kind = "ragged"
    elif i % 53 == 23:
        kind, row["Address Line 2"] = "multiline", "Hinterhaus\n2. OG"
    inj.counts[kind] += 1
    return kind


def generate(path: Path) -> Injected:
    fakes = {"DE": Faker("de_DE"), "FR": Faker("fr_FR"), "US": Faker("en_US")}
    for fake in fakes.values():
        fake.seed_instance(1234)
    rng = random.Random(99)
    inj, clean, line = Injected(), [], 2
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADERS)
    for i in range(ROWS):
        row = person(fakes, rng, i)
        kind = inject(row, i, rng, clean, inj)
        values = [row[h] for h in HEADERS]
        start = out.tell()
        writer.writerow(values[:-3] if kind == "ragged" else values)
        if kind != "ragged":
            inj.lines[line] = row["Customer ID"]
            inj.postal_codes[line] = row["ZIP"]
        if kind == "clean":
            clean.append(row)
        line += len(LINE_BREAK.findall(out.getvalue()[start:]))
    path.write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode())
    return inj


def test_messy_file_summary_matches_injected_damage(tmp_path: Path) -> None:
    path = tmp_path / "messy.csv"
    injected = generate(path)
    reader = open_subject_file(path)
    assert (reader.encoding, reader.delimiter, reader.header_map.unmapped) == ("utf-8-sig", ";", ())
    outcomes = list(normalise_stream(reader, default_country=None, chunk_rows=500))
    rows = [o for o in outcomes if isinstance(o, NormalisedRow)]
    rejections = [o for o in outcomes if isinstance(o, Rejection)]
    counts = injected.counts

    assert len(outcomes) == ROWS
    assert len(rejections) == counts["ragged"] > 0
    assert all(r.reason == "ragged row: expected 13 fields, found 10" for r in rejections)
    assert {r.line: r.external_id for r in rows} == injected.lines
    assert {r.line: r.address.postal_code for r in rows} == injected.postal_codes
    assert any(code.startswith("0") for code in injected.postal_codes.values())

    issues = Counter((i.column, i.kind.value, i.reason.split(":")[0].split(" (")[0]) for r in rows for i in r.issues)
    assert issues == Counter({
        ("phone", "rejected", "scientific notation"): counts["sci_phone"],
        ("email", "rejected", "invalid email"): counts["bad_email"],
        ("data_categories", "rejected", "unknown data category 'shoe size' dropped"): counts["unknown_category"],
        (None, "warning", "no usable contact channel"): counts["unreachable"],
    })
    assert min(counts.values()) > 5
    assert sum(not r.reachable for r in rows) == counts["unreachable"]
    assert sum(r.address.line2 == "Hinterhaus 2. OG" for r in rows) == counts["multiline"]

    subjects, merged = merge_rows(rows, Keys((b"d" * 32,), b"i" * 32))
    assert merged == counts["duplicate"]
    assert len(subjects) == ROWS - counts["ragged"] - counts["duplicate"]
    kinds = [Counter(i[0] for i in s.identifiers) for s in subjects]  # (kind, digest, ...)
    merged_subjects = [k for k in kinds if k["external_id"] > 1]
    assert len(merged_subjects) == counts["duplicate"]
    assert all(k["email"] == 1 and k["external_id"] == 2 for k in merged_subjects)
    assert all(r.jurisdiction.source == "address" for r in rows)
    assert {r.jurisdiction.code.split("-")[0] for r in rows if r.jurisdiction.code} == {"DE", "FR", "US"}
    assert all(r.jurisdiction.code.startswith("US-") for r in rows if r.address.country == "US"
               and r.jurisdiction.code)
