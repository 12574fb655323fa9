"""Dispatch throughput against the sandbox peers, next to the simplest possible sender loop (the ceiling).

Usage: python bench/dispatch.py --deliveries 10000,100000 --channel email|sms|push [--db sqlite|postgres]
                                [--concurrency 2] [--rate 0]

For each N: a fresh database, the laptop incident with an approved us-ca notice, N subjects imported with
the real import service, a dispatch run over one channel, and one in-process ``Worker`` (claim -> render ->
send -> record, one short transaction per outcome) until nothing is due. The peers run in a separate process
(no shared GIL). In the same run the raw loop of ``bench/channels_ceiling.py`` (one prepared message, the
plain client, no database) gives the ceiling. Prints messages/s and ours/ceiling; with ``--rate R`` it also
prints the achieved rate against R.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import sys
import tempfile
import time
import types
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
_tests = types.ModuleType("tests")  # our tests/ folder (an installed package may also be called "tests")
_tests.__path__ = [str(ROOT / "tests")]
sys.modules["tests"] = _tests

from channels_ceiling import bench_email, bench_push, bench_sms  # noqa: E402
from flask import Flask  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from app import create_app, db  # noqa: E402
from app.accounts import service as accounts  # noqa: E402
from app.dispatch import runs  # noqa: E402
from app.dispatch.wiring import make_worker, run_request  # noqa: E402
from app.dispatch.worker import WorkerOptions  # noqa: E402
from app.sandbox import SandboxPeers  # noqa: E402
from tests.dispatch.dispatch_support import Person, approved_laptop_incident, import_people  # noqa: E402

AREAS = (415, 510, 650, 408, 925, 707, 209, 559, 805, 916, 619, 714)
PG_ADMIN = os.environ.get("BREACH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def serve_peers(conn: Connection) -> None:
    """Child process: run the peers; answer ``("subs", n)`` with n push subscriptions; stop on ``"stop"``.

    The Twilio peer posts no status callbacks (``receipt_delay=None``): nobody listens for them here (the
    app's ``PUBLIC_URL`` is a closed port), the raw loop asks for none, and real Twilio posts them from its
    own machines. Posting them would spend the peer process's share of the two cores on connection
    attempts to a closed port during our run only, lowering both our rate and the ceiling measured after it.
    """
    with SandboxPeers(receipt_delay=None) as peers:
        peers.smtp._messages = type(peers.smtp._messages)(maxlen=100)  # keep memory flat
        conn.send((peers.settings(), peers.webpush.new_subscription()))
        while (message := conn.recv()) != "stop":
            conn.send([peers.webpush.new_subscription() for _ in range(message[1])])


def people(n: int, channel: str, conn: Connection) -> list[Person]:
    """N people reachable on ``channel`` (distinct addresses, numbers or subscriptions)."""
    subs: list[Any] = []
    if channel == "push":
        conn.send(("subs", n))
        subs = conn.recv()
    out = []
    for i in range(n):
        p = Person(f"b-{i}", f"Bench Person {i}")
        if channel == "email":
            p.email = f"person{i}@example.org"
        elif channel == "sms":
            p.phone = f"+1{AREAS[i // 10000]}555{i % 10000:04d}"
        else:
            p.push = subs[i]
        out.append(p)
    return out


def database(kind: str, folder: Path) -> tuple[str, Any]:
    """A fresh migrated database URL and a cleanup callable."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'bench.sqlite'}"
        cleanup: Any = lambda: None  # noqa: E731
    else:
        name = f"bn_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = re.sub(r"/[^/]*$", f"/{name}", PG_ADMIN)

        def cleanup() -> None:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    return url, cleanup


def bench_app(url: str, folder: Path, settings: dict[str, str], *, channels: tuple[str, ...], rate: float,
              concurrency: int) -> Flask:
    """The app on ``url`` sending through the peers' ``settings``: ``rate`` messages/s (0 = off) and
    ``concurrency`` sender threads for each of ``channels``; receipts go to a closed port (nobody listens)."""
    return create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(folder / "instance"), "SECRET_KEY": "bench",
                       "TESTING": True, "LOG_LEVEL": "WARNING", "SCHEDULER": "off", "WORKER": "off", **settings,
                       "PUBLIC_URL": "http://127.0.0.1:9",
                       "DISPATCH_RATES": ",".join(f"{c}={rate:g}" for c in channels),
                       "DISPATCH_CONCURRENCY": ",".join(f"{c}={concurrency}" for c in channels)})


def ours(n: int, args: argparse.Namespace, settings: dict[str, str], conn: Connection) -> tuple[float, int]:
    """(messages/s of the dispatch pipeline, deliveries accepted) for n deliveries."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url, cleanup = database(args.db, folder)
        try:
            app = bench_app(url, folder, settings, channels=(args.channel,), rate=args.rate,
                            concurrency=args.concurrency)
            with app.app_context():
                session = db.get_session()
                clock = app.extensions["clock"]
                users = [accounts.create_user(session, clock=clock, email=f"po{i}@example.org", role="privacy_officer",
                                              actor="bench", with_token=True) for i in range(2)]
                incident_id = approved_laptop_incident(app.test_client(), *users, channels=(args.channel,))
                import_people(app, session, folder, incident_id, people(n, args.channel, conn))
                runs.start(session, clock=clock, actor="bench", incident_id=incident_id,
                           request=run_request(app, chain=args.channel))
                worker = make_worker(app, WorkerOptions(once=True, batch=args.batch, poll=0.05, sweep_every=3600,
                                                        flush_every=args.flush_every))
            started, cpu = time.perf_counter(), time.process_time()
            stats = worker.run()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            accepted = stats.outcomes["accepted"]
            print(f"  worker CPU {cpu / max(1, accepted) * 1000:.2f} ms per message; "
                  f"{worker._recorder.transactions} recording transactions", flush=True)
            return accepted / elapsed, accepted
        finally:
            cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", default="10000", help="comma-separated counts, e.g. 10000,100000")
    parser.add_argument("--channel", choices=["email", "sms", "push"], default="email")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--concurrency", type=int, default=2, help="sender threads")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--flush-every", type=int, default=1, help="acceptances recorded per transaction")
    parser.add_argument("--rate", type=float, default=0.0, help="messages/s limit (0 = off)")
    parser.add_argument("--ceiling-n", type=int, default=3000, help="messages in the raw loop")
    args = parser.parse_args()
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=serve_peers, args=(child,), daemon=True)
    process.start()
    try:
        settings, subscription = parent.recv()
        loops = {"email": lambda: bench_email(args.ceiling_n, settings),
                 "sms": lambda: bench_sms(args.ceiling_n, settings),
                 "push": lambda: bench_push(args.ceiling_n, settings, subscription)}
        raw = loops[args.channel]()[0][0]
        print(f"channel={args.channel} db={args.db} concurrency={args.concurrency} rate={args.rate or 'off'} "
              f"flush_every={args.flush_every}")
        print(f"ceiling (raw loop, {args.ceiling_n} msgs): {raw:.0f} msg/s")
        for n in (int(x) for x in args.deliveries.split(",")):
            rate, accepted = ours(n, args, settings, parent)
            after = loops[args.channel]()[0][0]  # the machine's load moves: the ceiling is the mean around ours
            print(f"ceiling after: {after:.0f} msg/s")
            line = (f"deliveries={n:>7} accepted={accepted:>7} dispatch={rate:>7.1f} msg/s  "
                    f"ours/ceiling={rate / ((raw + after) / 2):.2f}")
            raw = after
            if args.rate:
                line += f"  configured={args.rate:g} achieved/configured={rate / args.rate:.3f}"
            print(line, flush=True)
    finally:
        parent.send("stop")
        process.join(timeout=10)


if __name__ == "__main__":
    main()
