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
    # never faster than the rate: arrivals at the peer add each message's latency to its paced start, and the
    # first one also opens an SMTP connection (on a loaded 2-core machine 0.1-0.2 s more than the last one);
    # without the limiter all 60 arrive within a fraction of a second
    assert arrivals[-1] - arrivals[0] >= ideal - 0.25, arrivals[-1] - arrivals[0]
    busiest = max(bisect.bisect_right(arrivals, t + 1.0) - i for i, t in enumerate(arrivals))
    # no second holds more than the rate: + one edge, + jitter of the peer's own thread, which on a loaded
    # 2-core machine can hold back two or three arrivals and let them land together (23 seen)
    assert busiest <= RATE + 4, busiest
    assert ideal - 0.05 <= elapsed <= ideal + 2.5, elapsed  # and the limiter does not slow it much


def test_claim_room_bounds_a_rate_limited_lane() -> None:
    from app.dispatch.worker import claim_room

    assert claim_room(batch=100, backlog=0, available=1 << 30) == 100  # unlimited: a whole batch
    assert claim_room(batch=100, backlog=40, available=1 << 30) == 60
    assert claim_room(batch=100, backlog=0, available=3) == 3  # 1/s: what the bucket releases in 2 s
    assert claim_room(batch=100, backlog=3, available=3) == 0  # ...and no more while those wait
    assert claim_room(batch=100, backlog=5, available=3) == 0
    assert claim_room(batch=100, backlog=0, available=0) == 1  # a very slow rate still moves


def test_pause_stops_a_rate_limited_channel_within_the_lookahead(app: Flask, client: FlaskClient, make_user: Any,
                                                                  session: Session, tmp_path: Path) -> None:
    """Found by a new user: at 1 SMS/s a paused (or cancelled) run kept sending everything, because the lane had
    claimed up to half a batch ahead one delivery at a time. Now it claims only what the bucket releases within
    ``LOOKAHEAD`` seconds, so after a pause at most that many (plus one per sender) still go out."""
    from sqlmodel import func, select

    from app.dispatch.models import Delivery
    from app.dispatch.worker import LOOKAHEAD

    rate, count = 5.0, 40
    incident_id = approved_laptop_incident(client, make_user("privacy_officer"), make_user("privacy_officer"),
                                           channels=("email",))
    import_people(app, session, tmp_path, incident_id,
                  [Person(f"p-{i}", f"Pat {i}", email=f"pat{i}@example.org") for i in range(count)])
    with SandboxPeers() as peers:
        live = dispatch_app(app, peers.settings(), DISPATCH_RATES=f"email={rate:g}", DISPATCH_CONCURRENCY="email=2")
        with live.app_context():
            run = runs.start(session, clock=live.extensions["clock"], actor="test", incident_id=incident_id,
                             request=run_request(live, chain="email"))
            worker = make_worker(live, WorkerOptions(poll=0.05))
        import threading

        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 20
            while len(peers.smtp.messages) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            with live.app_context():
                runs.control(session, clock=live.extensions["clock"], actor="test", run_id=run.id or 0,
                             action="pause")
            sent_at_pause = len(peers.smtp.messages)
            time.sleep(LOOKAHEAD + 1.5)  # everything claimed before the pause has gone out by now
            sent_after = len(peers.smtp.messages)
            time.sleep(1.0)
            assert len(peers.smtp.messages) == sent_after  # and nothing more goes
        finally:
            stop.set()
            thread.join(timeout=10)
    bound = int(rate * LOOKAHEAD) + 1 + 2  # the lookahead's tokens, the saved-up one, one per sender thread
    assert sent_after - sent_at_pause <= bound, (sent_at_pause, sent_after)
    session.expire_all()
    queued = session.exec(select(func.count()).select_from(Delivery).where(Delivery.state == "queued")).one()
    assert queued == count - sent_after >= count - sent_at_pause - bound
