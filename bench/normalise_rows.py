"""Throughput of normalise_row: single process and a Pool over 5k-row chunks, plus peak RSS.

Usage: python bench/normalise_rows.py [N_ROWS] [--processes P] [--file]
  --file  also write the rows to a CSV in a temp dir and time reading + normalising end to end.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.subjects import RawRow, normalise_stream, open_subject_file

FIRST = ["Anna", "Jonas", "Zoë", "José", "Mary", "Li", "Ahmed", "Renée"]
LAST = ["Müller", "Smith", "García", "Nguyen", "Dubois", "Kowalski", "O'Brien"]
COUNTRIES = [("DE", "Germany", "0151 {d}"), ("US", "USA", "(415) 555-{d4}"), ("FR", "FR", "06 12 {d6}"),
             ("GB", "United Kingdom", "07700 9{d5}")]


def generate(n: int, seed: int = 7) -> Iterator[RawRow]:
    """N synthetic rows with ~3% damage (bad emails, scientific-notation phones)."""
    rng = random.Random(seed)
    for i in range(n):
        code, country, pattern = COUNTRIES[i % len(COUNTRIES)]
        digits = f"{rng.randrange(10**8):08d}"
        phone = pattern.format(d=digits, d4=digits[:4], d6=digits[:6], d5=digits[:5])
        values = {
            "external_id": f"C{i}", "full_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "email": f"user{i}@Mail{i % 50}.example.org", "phone": phone, "address_line1": f"{i} Main St",
            "city": "Springfield", "region": "California" if code == "US" else "",
            "postal_code": f"{i % 100000:05d}", "country": country, "preferred_language": "de",
            "data_categories": "contact;health", "source_system": "crm",
        }
        if i % 37 == 0:
            values["email"] = "broken.example.org"
        if i % 41 == 0:
            values["phone"] = "4.47E+11"
        yield RawRow(i + 2, values)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run(label: str, items: Iterator[RawRow], n: int, processes: int) -> None:
    start = time.perf_counter()
    count = 0
    for _ in normalise_stream(items, default_country=None, processes=processes, chunk_rows=5000,
                              context=multiprocessing.get_context("fork")):
        count += 1
    elapsed = time.perf_counter() - start
    assert count == n
    print(f"{label:<34} {n:>9,} rows {elapsed:7.2f} s {n / elapsed:>10,.0f} rows/s "
          f"peak RSS parent {rss_mib():6.1f} MiB, largest child {children_rss_mib():6.1f} MiB", flush=True)


def write_csv(path: Path, n: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        rows = generate(n)
        first = next(rows)
        writer = csv.DictWriter(handle, fieldnames=list(first.values))
        writer.writeheader()
        writer.writerow(first.values)
        for row in rows:
            writer.writerow(row.values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rows", nargs="?", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=multiprocessing.cpu_count())
    parser.add_argument("--file", action="store_true")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {multiprocessing.cpu_count()} cores")
    run("normalise_row, 1 process", generate(args.rows), args.rows, 1)
    run(f"pool of {args.processes}, 5k-row chunks", generate(args.rows), args.rows, args.processes)
    if args.file:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "subjects.csv"
            write_csv(path, args.rows)
            size = path.stat().st_size / 2**20
            start = time.perf_counter()
            reader = open_subject_file(path)
            print(f"open_subject_file ({size:.0f} MiB): {time.perf_counter() - start:.2f} s")
            items = (item for item in reader if isinstance(item, RawRow))
            run(f"read CSV + pool of {args.processes}", items, args.rows, args.processes)


if __name__ == "__main__":
    main()
