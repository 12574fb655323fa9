"""A later dispatch run of the same incident reaches the people found since the earlier run and those a cancelled
run had not reached, never the same notice twice; with nobody left it is refused with a clear conflict (it used
to fail on the outbox's unique (notice version, subject, channel) key with a 500). The whole path against the
sandbox peers: ``test_dispatch_cancel_requeue.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from app.dispatch import runs
from app.dispatch.models import DELIVERED, FAILED_PERMANENT, SKIPPED, Delivery
from app.dispatch.wiring import run_request
from app.errors import Conflict
from tests.dispatch.dispatch_support import Person, approved_laptop_incident, import_people
from tests.support import csrf_from, login


def test_a_second_run_reaches_only_people_found_since(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    drafter = make_user("privacy_officer")
    incident_id = approved_laptop_incident(client, drafter, make_user("privacy_officer"), channels=("email",))
    import_people(app, session, tmp_path, incident_id,
                  [Person(f"a-{i}", f"Ann {i}", email=f"ann{i}@example.org") for i in range(3)])
    clock, request = app.extensions["clock"], run_request(app, chain="email")
    with app.app_context():
        first = runs.start(session, clock=clock, actor="test", incident_id=incident_id, request=request)
    ann = sorted(session.exec(select(Delivery).where(Delivery.run_id == first.id)).all(), key=lambda d: d.id or 0)
    _set_state(session, ann[0].id, DELIVERED)  # reached: never again
    _set_state(session, ann[1].id, FAILED_PERMANENT)  # tried: left out as before
    with app.app_context():
        runs.control(session, clock=clock, actor="test", run_id=first.id or 0, action="cancel")
    (tmp_path / "late").mkdir()
    import_people(app, session, tmp_path / "late", incident_id, [Person("b-1", "Ben Late", email="ben@example.org")])
    with app.app_context():
        doc = runs.plan(session, clock=clock, incident_id=incident_id, request=request)
        assert (doc["people"], doc["already_sent"], doc["requeued"]) == (2, 2, 1)
        assert doc["first_channel"] == {"email": 2}
        assert any(w.startswith("2 people already have these notices") for w in doc["warnings"])
        assert "1 person was not reached by a cancelled run (every delivery skipped): this run notifies them, " \
               "queueing their skipped deliveries again" in doc["warnings"]
        second = runs.start(session, clock=clock, actor="test", incident_id=incident_id, request=request)
    session.expire_all()
    rows = sorted(session.exec(select(Delivery).where(Delivery.run_id == second.id)).all(), key=lambda d: d.id or 0)
    assert [(r.id == ann[2].id, r.subject_id == ann[2].subject_id, r.state) for r in rows] == [
        (True, True, "queued"), (False, False, "queued")]  # Ann 2's skipped row moved, Ben's is new
    assert sorted(session.exec(select(Delivery.state).where(Delivery.run_id == first.id)).all()) == [
        DELIVERED, FAILED_PERMANENT]
    for row in rows:
        _set_state(session, row.id, DELIVERED)
    with app.app_context():
        runs.control(session, clock=clock, actor="test", run_id=second.id or 0, action="cancel")
        with pytest.raises(Conflict, match=r"everyone in incident \d+ \(4 people\) already has"):
            runs.start(session, clock=clock, actor="test", incident_id=incident_id, request=request)
    assert session.exec(select(Delivery).where(col(Delivery.run_id) > (second.id or 0))).all() == []
    assert session.exec(select(Delivery).where(Delivery.state == SKIPPED)).all() == []
    login(client, drafter)  # the web button answers the conflict, not a 500
    page = client.get(f"/incidents/{incident_id}/dispatch").get_data(as_text=True)
    answer = client.post(f"/incidents/{incident_id}/dispatch/start",
                         data={"csrf_token": csrf_from(page), "chain": "email"})
    assert answer.status_code == 409 and "already has these notices" in answer.get_data(as_text=True)


def _set_state(session: Session, delivery_id: int | None, state: str) -> None:
    """Stand in for a worker's outcome (the peers test sends for real)."""
    session.execute(update(Delivery).where(col(Delivery.id) == delivery_id).values(state=state))
    session.commit()
