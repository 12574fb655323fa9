"""A delivery receipt that overtakes the worker's acceptance commit is never lost.

The provider may call back before the worker has recorded that it accepted the message. The receipt handler
reads the delivery (still ``sending``) and the worker commits ``sent`` in between. Whatever the order, the
final receipt must land: the delivery ends ``delivered``, not ``sent`` waiting for a receipt timeout. The
interleaving is forced: the worker's commit runs right after the handler's first read.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState
from sqlmodel import Session, col, select

from app.channels.base import ReceiptUpdate, SendResult
from app.dispatch import runs, sweeps
from app.dispatch.models import Delivery
from app.dispatch.outcomes import Accepted, Policy, apply_receipt, record_accepted
from app.dispatch.wiring import run_request
from tests.dispatch.dispatch_support import Person, approved_laptop_incident, import_people

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
POLICY = Policy(3, 0.2, 1.0, ("email", "sms", "push"), random.Random(1))


def _sending_sms(app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path) -> int:
    incident_id = approved_laptop_incident(client, make_user("privacy_officer"), make_user("privacy_officer"),
                                           channels=("sms",))
    import_people(app, session, tmp_path, incident_id, [Person("r-1", "Rae One", phone="+14155552001")])
    with app.app_context():
        runs.start(session, clock=app.extensions["clock"], actor="test", incident_id=incident_id,
                   request=run_request(app, chain="sms"))
    delivery = session.exec(select(Delivery)).one()
    session.execute(update(Delivery).where(col(Delivery.id) == delivery.id)
                    .values(state="sending", claimed_by="w-1", attempts=1))
    session.commit()
    assert delivery.id is not None
    return delivery.id


def test_receipt_overtaking_the_acceptance_commit_still_lands(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, engine: Engine, tmp_path: Path
) -> None:
    delivery_id = _sending_sms(app, client, make_user, session, tmp_path)
    handler = Session(engine, expire_on_commit=False)
    worker_done: list[int] = []

    def _worker_records_acceptance() -> None:
        with Session(engine) as worker:
            worker_done.append(record_accepted(worker, items=[Accepted(delivery_id, SendResult(
                "accepted", provider_id="SM1", provider_status="queued"), True, NOW)], worker="w-1", policy=POLICY))

    worker = threading.Thread(target=_worker_records_acceptance)

    @event.listens_for(handler, "do_orm_execute")
    def _worker_commits_after_first_read(state: ORMExecuteState) -> Any:
        result = state.invoke_statement()
        if not worker.is_alive() and not worker_done:
            # The handler has read the delivery in ``sending``; the worker commits now. SQLite lets it
            # through at once; PostgreSQL makes it wait for the handler's row lock (then the order is reversed).
            worker.start()
            worker.join(timeout=2)
        return result

    try:
        state = apply_receipt(handler, receipt=ReceiptUpdate("SM1", "delivered", provider_status="delivered",
                                                             reference=str(delivery_id)), policy=POLICY, now=NOW)
    finally:
        handler.close()
    worker.join(timeout=30)
    assert worker_done == [1]
    session.expire_all()
    row = session.get(Delivery, delivery_id)
    assert row is not None and row.state == "delivered" and state in ("delivered", "sending")
    assert row.delivered_at == NOW


def test_receipt_timeout_sweep_never_overrides_a_receipt_that_landed_first(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, engine: Engine, tmp_path: Path
) -> None:
    delivery_id = _sending_sms(app, client, make_user, session, tmp_path)
    session.execute(update(Delivery).where(col(Delivery.id) == delivery_id).values(
        state="sent", claimed_by=None, provider_id="SM2", sent_at=NOW - dt.timedelta(seconds=60)))
    session.commit()
    sweeper = Session(engine, expire_on_commit=False)
    reads: list[int] = []
    receipt_states: list[str | None] = []

    def _receipt_lands() -> None:
        with Session(engine) as handler:
            receipt_states.append(apply_receipt(handler, receipt=ReceiptUpdate(
                "SM2", "delivered", provider_status="delivered", reference=str(delivery_id)), policy=POLICY, now=NOW))

    receipt = threading.Thread(target=_receipt_lands)

    @event.listens_for(sweeper, "do_orm_execute")
    def _receipt_after_the_sweep_read_the_delivery(state: ORMExecuteState) -> Any:
        result = state.invoke_statement()
        reads.append(1)
        if len(reads) == 2:  # the sweep has loaded the overdue delivery; the receipt arrives now
            receipt.start()
            receipt.join(timeout=2)  # PostgreSQL: blocked by the sweep's row lock until it commits
        return result

    try:
        timed_out = sweeps.receipt_timeouts(sweeper, now=NOW, timeouts={"sms": 8.0}, policy=POLICY)
        landed_first = receipt_states == ["delivered"] and timed_out == 0
    finally:
        sweeper.close()
    receipt.join(timeout=30)
    session.expire_all()
    row = session.get(Delivery, delivery_id)
    assert row is not None and row.state == "delivered" and receipt_states
    fallbacks = session.exec(select(Delivery).where(Delivery.id != delivery_id)).all()
    if landed_first:  # the receipt committed before the sweep wrote: no timeout, nobody moved on
        assert fallbacks == []
    else:  # the sweep held the row first (PostgreSQL): it timed out, the receipt is late evidence
        assert timed_out == 1
    assert engine.dialect.name != "sqlite" or landed_first


def test_a_retry_waits_for_its_own_receipt_not_the_previous_sends(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    # send 1 is accepted, its receipt says "try again"; send 2 is accepted: it must wait for SM-2's receipt
    delivery_id = _sending_sms(app, client, make_user, session, tmp_path)
    accepted = [Accepted(delivery_id, SendResult("accepted", provider_id="SM-1", provider_status="queued"), True, NOW)]
    assert record_accepted(session, items=accepted, worker="w-1", policy=POLICY) == 1
    again = apply_receipt(session, receipt=ReceiptUpdate("SM-1", "failed_temporary", error_code="30003",
                                                         provider_status="undelivered", reference=str(delivery_id)),
                          policy=POLICY, now=NOW)
    assert again == "failed_temporary"
    session.execute(update(Delivery).where(col(Delivery.id) == delivery_id).values(
        state="sending", claimed_by="w-1", attempts=2))
    session.commit()
    second = SendResult("accepted", provider_id="SM-2", provider_status="queued")
    assert record_accepted(session, items=[Accepted(delivery_id, second, True, NOW)], worker="w-1",
                           policy=POLICY) == 1
    session.expire_all()
    row = session.get(Delivery, delivery_id)
    assert row is not None and (row.state, row.provider_id, row.attempts) == ("sent", "SM-2", 2)
    assert apply_receipt(session, receipt=ReceiptUpdate("SM-2", "delivered", provider_status="delivered",
                                                        reference=str(delivery_id)), policy=POLICY,
                         now=NOW) == "delivered"
