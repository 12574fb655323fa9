"""The recorder's group commit: many acceptances in one transaction land only where the claim allows, and a
sender thread never runs more than ``flush_every`` acceptances ahead of the commits. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from app.channels.base import SendResult
from app.dispatch import runs
from app.dispatch.models import Delivery, DeliveryAttempt
from app.dispatch.outbox import claim
from app.dispatch.outcomes import Accepted, record_accepted
from app.dispatch.recorder import Slots
from app.dispatch.wiring import policy_for, run_request
from app.sandbox import SandboxPeers
from tests.dispatch.dispatch_support import Person, approved_laptop_incident, dispatch_app, import_people


def test_one_transaction_records_only_what_the_claim_allows(app: Flask, client: FlaskClient, make_user: Any,
                                                            session: Session, tmp_path: Path) -> None:
    incident_id = approved_laptop_incident(client, make_user("privacy_officer"), make_user("privacy_officer"),
                                           channels=("email",))
    import_people(app, session, tmp_path, incident_id,
                  [Person(f"g-{i}", f"Gil {i}", email=f"gil{i}@example.org") for i in range(4)])
    with SandboxPeers() as peers:
        live = dispatch_app(app, peers.settings())
    with live.app_context():
        runs.start(session, clock=live.extensions["clock"], actor="test", incident_id=incident_id,
                   request=run_request(live, chain="email"))
        now = live.extensions["clock"].now()
        jobs = claim(session, worker="w1", channel="email", limit=4, now=now)
        assert len(jobs) == 4
        mine, requeued, taken, done = (j.delivery_id for j in jobs)
        session.execute(update(Delivery).where(col(Delivery.id) == requeued).values(state="queued", claimed_by=None))
        session.execute(update(Delivery).where(col(Delivery.id) == taken).values(claimed_by="w2"))
        session.execute(update(Delivery).where(col(Delivery.id) == done).values(state="failed_permanent",
                                                                                claimed_by=None))
        session.commit()
        at = now + dt.timedelta(seconds=1)
        items = [Accepted(d, SendResult("accepted", provider_id=f"q{d}", provider_status="2.0.0"), False, at)
                 for d in (mine, requeued, taken, done)]
        moved = record_accepted(session, items=items, worker="w1", policy=policy_for(live))
    assert moved == 2  # its own claim, and the row the sweeper had re-queued (it was sent: never again)
    session.expire_all()
    rows = {d.id: d for d in session.exec(select(Delivery)).all()}
    assert (rows[mine].state, rows[mine].provider_id, rows[mine].sent_at) == ("delivered", f"q{mine}", at)
    assert (rows[requeued].state, rows[requeued].claimed_by) == ("delivered", None)
    assert (rows[taken].state, rows[taken].claimed_by) == ("sending", "w2")  # another worker's claim
    assert rows[done].state == "failed_permanent"
    attempts = session.exec(select(DeliveryAttempt.delivery_id).where(DeliveryAttempt.outcome == "accepted")).all()
    assert sorted(attempts) == sorted([mine, requeued, taken, done])  # every provider answer is evidence


def test_a_sender_waits_for_its_previous_commit_before_the_next_call() -> None:
    slots = Slots(1)
    slots.take()  # first message sent, its acceptance not committed yet
    second = threading.Event()

    def next_send() -> None:
        slots.take()
        second.set()

    thread = threading.Thread(target=next_send, daemon=True)
    thread.start()
    time.sleep(0.2)
    assert not second.is_set()  # no second provider call while one acceptance is unrecorded
    slots.give()  # the recorder committed the first
    assert second.wait(5)
    thread.join(5)
    slots.give()
    slots.drain()  # nothing unrecorded: returns at once
