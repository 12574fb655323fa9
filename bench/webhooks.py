"""Webhook delivery throughput from the outbox to a loopback receiver.

Usage: python bench/webhooks.py [--events 500] [--subscriptions 2]

A fresh SQLite database; ``--subscriptions`` subscriptions to ``incident.created`` on one receiver (a threaded
werkzeug server on 127.0.0.1 answering 200); ``--events`` events emitted (one outbox row per subscription and
event); then ``deliver_due`` (claim -> sign -> POST with no session open -> record) until nothing is due.
Prints deliveries per second and the time to emit.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import create_app, db  # noqa: E402
from app.sandbox.common import HttpPeer  # noqa: E402
from app.webhooks import service  # noqa: E402
from app.webhooks.events import emit  # noqa: E402
from app.webhooks.jobs import settings_for  # noqa: E402
from app.webhooks.outbox import deliver_due  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--subscriptions", type=int, default=2)
    args = parser.parse_args()
    received = [0]

    def receiver(environ: dict[str, Any], start: Any) -> list[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        received[0] += 1
        start("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    peer = HttpPeer(receiver)
    peer.start()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite", "INSTANCE_PATH": f"{tmp}/instance",
                          "SECRET_KEY": "bench", "WEBHOOK_ALLOW_PRIVATE": "on", "WEBHOOK_HTTP_HOSTS": "127.0.0.1"})
        engine = db.engine_for(app)
        db.upgrade(engine)
        clock, cipher = app.extensions["clock"], app.extensions["keys"].cipher()
        with db.session_scope(engine) as session:
            for i in range(args.subscriptions):
                service.create(session, clock=clock, actor="bench", cipher=cipher, policy=settings_for(app).policy,
                               data={"url": f"{peer.url}/hook/{i}", "events": ["incident.created"]})
            started = time.perf_counter()
            for n in range(args.events):
                emit(session, clock=clock, event_type="incident.created", data={"incident_id": n, "status": "x"})
                session.commit()
            emitted = time.perf_counter() - started
        started = time.perf_counter()
        report = deliver_due(engine, clock=clock, cipher=cipher, settings=settings_for(app), worker="bench",
                             passes=10**9)
        took = time.perf_counter() - started
    peer.stop()
    total = args.events * args.subscriptions
    print(f"emitted {args.events} events x {args.subscriptions} subscriptions in {emitted:.2f} s "
          f"({emitted / args.events * 1000:.2f} ms per event, own transaction each)")
    print(f"delivered {report.states.get('delivered', 0)} of {total} (receiver saw {received[0]}) in {took:.2f} s: "
          f"{total / took:.0f} deliveries/s, one worker thread, SQLite")


if __name__ == "__main__":
    main()
