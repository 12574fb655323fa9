"""Reading real HHS breach-portal records and turning one into an incident file and a synthetic population.

The portal's columns are: Name of Covered Entity, State, Covered Entity Type, Individuals Affected, Breach
Submission Date (MM/DD/YYYY), Type of Breach, Location of Breached Information, Business Associate Present,
Web Description. People are generated (seeded Faker), never real.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "hhs-ocr-breach-portal-2009-10-to-2021-03.csv"
COLUMNS = ("Name of Covered Entity", "State", "Covered Entity Type", "Individuals Affected",
           "Breach Submission Date", "Type of Breach", "Location of Breached Information",
           "Business Associate Present", "Web Description")
CAUSES = {"Hacking/IT Incident": "hacking", "Theft": "theft", "Loss": "loss",
          "Unauthorized Access/Disclosure": "insider_error", "Improper Disposal": "insider_error",
          "Other": "other", "Unknown": "other"}
AREAS = (201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219, 224, 225, 228)
US_STATES = ("AL", "AZ", "CA", "CO", "FL", "GA", "IL", "MA", "MI", "MN", "NC", "NJ", "NY", "OH", "PA", "TX", "VA",
             "WA")


@dataclass(frozen=True)
class Record:
    """One portal record: ``row`` is its 0-based index among the records (header excluded)."""

    row: int
    values: dict[str, str]

    @property
    def breach_types(self) -> list[str]:
        """``Type of Breach`` split on commas (the portal joins several)."""
        return [t.strip() for t in self.values["Type of Breach"].split(",") if t.strip()]

    @property
    def locations(self) -> list[str]:
        """``Location of Breached Information`` split on commas."""
        return [t.strip() for t in self.values["Location of Breached Information"].split(",") if t.strip()]

    @property
    def affected(self) -> int:
        """Individuals Affected (0 when the portal left it empty)."""
        text = self.values["Individuals Affected"].replace(",", "").strip()
        return int(text) if text.isdigit() else 0


def read_records(path: Path = DATA) -> Iterator[Record]:
    """Every record of a portal export (UTF-8, quoted fields with embedded newlines); ``ValueError`` naming the
    missing columns when the file is not a portal export."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path.name} is not an HHS breach-portal export: missing {', '.join(missing)}")
        for index, row in enumerate(reader):
            yield Record(index, {c: row[c] or "" for c in COLUMNS})


def choose(records: list[Record], *, count: int, seed: int) -> list[Record]:
    """A seeded choice of ``count`` records with an affected count, covering different breach types and
    locations first (one per type/location pair), then at random."""
    rng = random.Random(seed)
    pool = [r for r in records if r.affected and r.values["State"].strip()]
    rng.shuffle(pool)
    chosen: list[Record] = []
    seen: set[tuple[str, str]] = set()
    for record in pool:
        key = (record.breach_types[0] if record.breach_types else "", record.locations[0] if record.locations else "")
        if key not in seen:
            seen.add(key)
            chosen.append(record)
        if len(chosen) == count:
            return chosen
    return (chosen + [r for r in pool if r not in chosen])[:count]


def incident_file(record: Record, *, aware_at: dt.datetime) -> dict[str, Any]:
    """The incident file for a record (contract shape). ``aware_at`` is the rehearsal's awareness time."""
    values = record.values
    state = values["State"].strip()
    types = record.breach_types or ["Unknown"]
    cause = CAUSES.get(types[0], "other")
    paper = record.locations == ["Paper/Films"]
    name = values["Name of Covered Entity"].strip()
    description = (values["Web Description"].strip() or f"{', '.join(types)} involving "
                   f"{values['Location of Breached Information']}.")
    return {
        "title": f"{types[0]}: {values['Location of Breached Information']} at {name}"[:300],
        "description": f"Rehearsal of HHS breach-portal record {record.row} (reported "
                       f"{values['Breach Submission Date']}). {description}",
        "aware_at": aware_at.isoformat(),
        "discovered_by": "controller",
        "controller": {"name": name, "establishment": f"US-{state}" if state else "US", "sector": "health",
                       "hipaa_covered_entity": True,
                       "contact": {"name": "Privacy Office", "email": "privacy@covered-entity.example",
                                   "phone": "+1 800 555 0100"}},
        "cause": cause,
        "malicious": cause in ("hacking", "theft"),
        "confidentiality": {"affected": True, "recipients": "unknown" if cause != "insider_error" else "known",
                            "exfiltrated": "unknown" if cause == "hacking" else False},
        "protection": {"encrypted": False, "medium": "paper" if paper else "electronic"},
        "data_categories": ["name", "postal_address", "date_of_birth", "health", "insurance"],
        "subjects": {"count": record.affected, "count_is_estimate": True,
                     "by_jurisdiction": {f"US-{state}": record.affected} if state else {}},
        "measures_taken": "Access was revoked, affected systems were secured and an investigation was opened.",
    }


@dataclass(frozen=True)
class Mix:
    """Shares of realistic gaps in a generated population (0..1)."""

    no_email: float = 0.15
    bad_phone: float = 0.03
    no_phone: float = 0.25
    push: float = 0.3
    other_state: float = 0.1
    no_contact: float = 0.02


def population(record: Record, *, size: int, seed: int, push_subscription: Callable[[], str] | None = None,
               mix: Mix = Mix()) -> Iterator[dict[str, str]]:
    """``size`` synthetic people for the record (subject-file columns), seeded; ``push_subscription`` returns a
    Web Push subscription JSON (e.g. on the sandbox peer) for the share that has push."""
    from faker import Faker

    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    home = record.values["State"].strip() or "CA"
    for i in range(size):
        state = rng.choice(US_STATES) if rng.random() < mix.other_state else home
        unreachable = rng.random() < mix.no_contact
        person = {
            "external_id": f"hhs{record.row}-{i}", "full_name": fake.name(),
            "email": "" if unreachable or rng.random() < mix.no_email else f"person{i}.{record.row}@example.com",
            "phone": "", "push_subscription": "",
            "address_line1": "" if unreachable else fake.street_address(), "city": "" if unreachable else fake.city(),
            "region": state, "postal_code": "" if unreachable else fake.zipcode(), "country": "US",
            "preferred_language": "en", "data_categories": "name;health;insurance", "source_system": "ehr"}
        if not unreachable and rng.random() >= mix.no_phone:
            area, exchange = AREAS[record.row % len(AREAS)], 200 + (record.row // len(AREAS)) % 700
            person["phone"] = "4.47E+11" if rng.random() < mix.bad_phone else f"+1 {area} {exchange} {i % 10000:04d}"
        if not unreachable and push_subscription is not None and rng.random() < mix.push:
            person["push_subscription"] = push_subscription()
        yield person


def write_population(path: Path, people: Iterator[dict[str, str]]) -> int:
    """Write people as a subject CSV; returns how many."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer: Any = None
        for person in people:
            if writer is None:
                writer = csv.DictWriter(handle, fieldnames=list(person))
                writer.writeheader()
            writer.writerow(person)
            count += 1
    return count
