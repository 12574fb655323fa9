"""Subject import throughput and memory, with the simplest possible loader as the ceiling.

Usage: .venv/bin/python bench/import_subjects.py --rows 100000,1000000 --db sqlite|postgres [--processes 2]

For each size: writes a realistic CSV (seeded Faker pools; ~5% dirty rows: bad emails, spreadsheet-damaged
phones, unknown categories, ragged rows; ~3% duplicates of earlier people with another contact), then runs,
each in its own process so its memory is that run's alone:
  * ``ceiling``: csv.reader + executemany of the raw strings into a plain table (10k rows per batch);
  * ``import``: ``app.subjects.service.import_file`` into a migrated database (normalise, encrypt, index,
    de-duplicate, link to an incident).
Prints one JSON line per run: rows, seconds, rows/s, rejected, our/ceiling ratio, CPU seconds of the importing
process, its workers and (PostgreSQL) the server process serving it, and peak memory of the importing process
and its workers together (``peak_rss_mib``: summed RSS, an upper bound; ``peak_pss_mib``: summed PSS, shared pages
split; ``peak_rss_largest_mib``: the largest single process; see bench/memory.py). The database server's own
memory is not counted.
PostgreSQL: BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test); a database is created
and dropped per run.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import os
import random
import resource
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from memory import TreePeak

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
AREAS = (201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219, 224, 225, 228)
HEADER = ["external_id", "full_name", "email", "phone", "address_line1", "city", "region", "postal_code",
          "country", "preferred_language", "data_categories", "source_system"]


def write_file(path: Path, rows: int, seed: int = 2026) -> None:
    """A realistic subject file: Faker pools combined at random (Faker per row would dominate the bench)."""
    from faker import Faker

    rng = random.Random(seed)
    fake = Faker(["en_US"])
    fake.seed_instance(seed)
    names = [fake.name() for _ in range(5000)]
    streets = [fake.street_address() for _ in range(5000)]
    places = [(fake.city(), fake.state_abbr(), fake.zipcode()) for _ in range(2000)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for i in range(rows):
            person = i if rng.random() > 0.03 or i < 100 else rng.randrange(i)  # ~3% repeat an earlier person
            city, state, zipcode = places[person % len(places)]
            area = AREAS[person % len(AREAS)]
            exchange = 200 + (person // 10000) % 700
            row = [f"C{person}", names[person % len(names)], f"user{person}@example{person % 97}.com",
                   f"+1 {area} {exchange} {person % 10000:04d}", streets[person % len(streets)], city,
                   state, zipcode, "US", "en", "name;contact", "crm"]
            roll = rng.random()
            if roll < 0.015:
                row[2] = "not-an-email"
            elif roll < 0.03:
                row[3] = "4.47E+11"
            elif roll < 0.04:
                row[10] = "name;shoe_size"
            elif roll < 0.05:
                row = row[:4]  # ragged
            out.writerow(row)


def _database(kind: str) -> tuple[str, Any]:
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="bn-bench-"))
        return f"sqlite:///{folder / 'bench.sqlite'}", folder
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"bn_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return PG_URL.rsplit("/", 1)[0] + f"/{name}", (admin, name)


def _drop(handle: Any) -> None:
    if isinstance(handle, Path):  # a SQLite run's folder (a million rows leave ~1.5 GB)
        shutil.rmtree(handle, ignore_errors=True)
    elif handle:
        from sqlalchemy import text

        admin, name = handle
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def ceiling(path: str, kind: str, queue: Any) -> None:
    """csv.reader + executemany of raw strings: the fastest a loader of this file can be here."""
    from sqlalchemy import create_engine, text

    url, handle = _database(kind)
    engine = create_engine(url)
    columns = ", ".join(f"c{i} TEXT" for i in range(len(HEADER)))
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE raw ({columns})"))
        insert = text(f"INSERT INTO raw VALUES ({', '.join(f':c{i}' for i in range(len(HEADER)))})")
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            next(reader)
            batch: list[dict[str, str]] = []
            for row in reader:
                batch.append({f"c{i}": (row[i] if i < len(row) else "") for i in range(len(HEADER))})
                if len(batch) == 10000:
                    conn.execute(insert, batch)
                    batch.clear()
            if batch:
                conn.execute(insert, batch)
    seconds = time.perf_counter() - start
    engine.dispose()
    _drop(handle)
    queue.put({"seconds": seconds, "rejected": 0})


def ours(path: str, kind: str, processes: int, queue: Any) -> None:
    """The product's import, end to end, into a migrated database."""
    from app import db
    from app.clock import SystemClock
    from app.crypto import load_keys
    from app.incidents import service as incidents
    from app.subjects import service

    url, handle = _database(kind)
    engine = db.make_engine(url)
    db.upgrade(engine)
    folder = Path(tempfile.mkdtemp(prefix="bn-bench-inst-"))
    keys = load_keys(None, folder)
    clock = SystemClock()
    with db.session_scope(engine) as session:
        incident = incidents.create(session, clock=clock, actor="bench", data={
            "title": "bench", "aware_at": "2026-03-02T09:00:00Z", "controller": {"name": "Bench"},
            "subjects": {"count": 1}})
        backend = _backend_pid(session)
        start, cpu, server = time.perf_counter(), _cpu(), _server_cpu(backend)
        summary = service.import_file(session, clock=clock, actor="bench", path=Path(path), keys=keys,
                                      rejects_dir=folder, incident_id=incident.id, processes=processes)
        seconds = time.perf_counter() - start
        main_cpu, workers_cpu = (after - before for after, before in zip(_cpu(), cpu, strict=True))
        server = _server_cpu(backend) - server
    engine.dispose()
    _drop(handle)
    queue.put({"seconds": seconds, "rejected": summary.rejected, "imported": summary.imported,
               "merged_duplicates": summary.merged_duplicates, "main_cpu_s": round(main_cpu, 2),
               "workers_cpu_s": round(workers_cpu, 2),
               **({"server_cpu_s": round(server, 2)} if backend else {})})


def _backend_pid(session: Any) -> int | None:
    """The PostgreSQL server process serving ``session`` (None on SQLite, whose work is in our process)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    from sqlalchemy import text

    return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _server_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) of server process ``pid`` so far, from /proc (the server is local)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its finished child processes (the workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def _measure(target: Any, args: tuple[Any, ...]) -> dict[str, Any]:
    """Runs ``target`` in a fresh process; its result plus the peak memory of it and its workers together."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    with TreePeak(proc.pid) as peak:
        result: dict[str, Any] = queue.get()
    proc.join()
    result.update(peak.figures())
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="100000")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    for rows in (int(r) for r in args.rows.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "subjects.csv"
            write_file(path, rows)
            base = _measure(ceiling, (str(path), args.db))
            run = _measure(ours, (str(path), args.db, args.processes))
            for name, r in (("ceiling", base), ("import", run)):
                r.update(stage=name, rows=rows, db=args.db, rows_per_s=round(rows / r["seconds"]),
                         seconds=round(r["seconds"], 2))
            run["ratio_to_ceiling"] = round(base["seconds"] / run["seconds"], 3)
            run["processes"] = args.processes
            run["cpu_us_per_row"] = round((run["main_cpu_s"] + run["workers_cpu_s"]) / rows * 1e6)
            if "server_cpu_s" in run:
                run["server_cpu_us_per_row"] = round(run["server_cpu_s"] / rows * 1e6)
            print(json.dumps(base), flush=True)
            print(json.dumps(run), flush=True)


if __name__ == "__main__":
    main()
