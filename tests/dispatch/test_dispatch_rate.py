"""Rate limits: a configured 20 messages/s is kept exactly (token bucket), measured by the arrival times at the
SMTP peer (never faster overall, no burst within any second) and the run's wall time; runs on SQLite and PostgreSQL."""

from __future__ import annotations

import bisect
import time
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from app.dispatch import runs
from app.dispatch.ratelimit import TokenBucket
from app.dispatch.wiring import make_worker, run_request
from app.dispatch.worker import WorkerOptions
from app.sandbox import SandboxPeers
from tests.dispatch.dispatch_support import Person, approved_laptop_incident, dispatch_app, import_people

RATE, COUNT = 20.0, 60


def test_token_bucket_paces_exactly_without_sleeping() -> None:
    now = [0.0]
    bucket = TokenBucket(4.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    starts = []
    for _ in range(9):
        bucket.acquire()
        starts.append(now[0])
    assert starts == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]


def test_email_rate_limit_is_kept(app: Flask, client: FlaskClient, make_user: Any, session: Session,
                                  tmp_path: Path) -> None:
    incident_id = approved_laptop_incident(client, make_user("privacy_officer"), make_user("privacy_officer"),
                                           channels=("email",))
    people = [Person(f"r-{i}", f"Rae {i}", email=f"rae{i}@example.org") for i in range(COUNT)]
    import_people(app, session, tmp_path, incident_id, people)
    with SandboxPeers() as peers:
        live = dispatch_app(app, peers.settings(), DISPATCH_RATES=f"email={RATE:g}",
                            DISPATCH_CONCURRENCY="email=4")
        with live.app_context():
            run = runs.start(session, clock=live.extensions["clock"], actor="test", incident_id=incident_id,
                             request=run_request(live, chain="email"))
            assert run.plan["channels"]["email"] == {"messages": COUNT, "rate": RATE, "seconds": COUNT / RATE}
            worker = make_worker(live, WorkerOptions(once=True, poll=0.05))
        began = time.monotonic()
        worker.run()
        elapsed = time.monotonic() - began
        assert len(peers.smtp.messages) == COUNT
    ideal = (COUNT - 1) / RATE  # 2.95 s: the first message goes at once
    arrivals = sorted(m.received_at for m in peers.smtp.messages)
    assert arrivals[-1] - arrivals[0] >= ideal - 0.1, arrivals[-1] - arrivals[0]  # never faster than the rate
    busiest = max(bisect.bisect_right(arrivals, t + 1.0) - i for i, t in enumerate(arrivals))
    assert busiest <= RATE + 2, busiest  # no second holds more than the rate (+ one edge, + one jitter)
    assert ideal - 0.05 <= elapsed <= ideal + 2.5, elapsed  # and the limiter does not slow it much
