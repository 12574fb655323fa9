"""Obligations in parts (GDPR Art. 33(1) and 33(4), HHS notice or annual log) and deadlines that move: the
parts are reminded, escalated and closed; the parent follows them; a moved deadline is a new deadline."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from app import create_app
from app import scheduler as sched
from app.audit import service as audit
from app.audit.models import AuditEvent
from app.clock import FixedClock
from app.obligations.models import ObligationAlert, ObligationRecord
from app.obligations.scheduled import sweep
from tests.notices.notices_workflow_sample import LAPTOP
from tests.support import AFTER_LAPTOP, bearer


@pytest.fixture
def clock() -> FixedClock:
    """The test clock, frozen an hour after the GDPR case's awareness (27 March 09:00 UTC): incidents are filed
    once known. The laptop case's tests move it to ``AFTER_LAPTOP`` first."""
    return FixedClock(dt.datetime(2026, 3, 27, 10, 0, tzinfo=dt.UTC))

OFFSETS = (86400, 21600)
INITIAL, PHASES = "initial notification", "further information in phases"
GDPR = {"title": "Customer database exfiltrated", "aware_at": "2026-03-27T10:00:00+01:00",
        "controller": {"name": "Beispiel GmbH", "establishment": "DE"}, "cause": "hacking", "malicious": True,
        "confidentiality": {"affected": True, "recipients": "unknown", "exfiltrated": True},
        "data_categories": ["name", "contact", "financial_account"],
        "subjects": {"count": 1000, "by_jurisdiction": {"DE": 1000}}}
GDPR_DUE = dt.datetime(2026, 3, 30, 9, 0, tzinfo=dt.UTC)  # 72 h after awareness (Art. 33(1))


def _file(client: FlaskClient, user: Any, doc: dict[str, Any]) -> int:
    response = client.post("/api/incidents", json=doc, headers=bearer(user))
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def _record(session: Session, regime: str, audience: str, part: str = "") -> ObligationRecord:
    session.expire_all()
    return session.exec(select(ObligationRecord).where(ObligationRecord.regime == regime,
                                                       ObligationRecord.audience == audience,
                                                       ObligationRecord.part == part)).one()


def _close(client: FlaskClient, user: Any, obligation_id: int | None, outcome: str = "met") -> Any:
    path = "met" if outcome == "met" else "waive"
    return client.post(f"/api/obligations/{obligation_id}/{path}", json={"reason": "filed"}, headers=bearer(user))


def test_one_deadline_gives_one_reminder_and_a_met_part_is_not_escalated(
    client: FlaskClient, make_user: Any, session: Session, clock: FixedClock
) -> None:
    responder = make_user("responder")
    _file(client, responder, GDPR)
    parent, initial = _record(session, "eu-gdpr", "regulator"), _record(session, "eu-gdpr", "regulator", INITIAL)
    assert parent.due_at == initial.due_at == GDPR_DUE
    clock.set(GDPR_DUE - dt.timedelta(hours=24))
    report = sweep(session, clock=clock, offsets=OFFSETS)
    assert [r for r in report.reminders if r[0] in (parent.id, initial.id)] == [(initial.id, "reminder:86400")]
    assert _close(client, responder, initial.id).status_code == 200
    assert _record(session, "eu-gdpr", "regulator").status == "due"  # the Art. 33(4) phases are still open
    assert _record(session, "eu-gdpr", "regulator").due_at is None  # ... and have no fixed period
    clock.set(GDPR_DUE + dt.timedelta(seconds=5))
    report = sweep(session, clock=clock, offsets=OFFSETS)
    assert parent.id not in report.escalations and initial.id not in report.escalations
    assert not session.exec(select(ObligationAlert).where(ObligationAlert.obligation_id == parent.id)).all()
    assert _record(session, "eu-gdpr", "regulator").status == "due"


def test_the_parent_follows_its_parts_and_is_not_closed_directly(
    client: FlaskClient, make_user: Any, session: Session, clock: FixedClock
) -> None:
    responder, officer = make_user("responder"), make_user("privacy_officer")
    _file(client, responder, GDPR)
    parent = _record(session, "eu-gdpr", "regulator")
    initial = _record(session, "eu-gdpr", "regulator", INITIAL)
    phases = _record(session, "eu-gdpr", "regulator", PHASES)
    direct = _close(client, responder, parent.id)
    assert direct.status_code == 409 and f"{initial.id} ({INITIAL})" in direct.json["message"]
    clock.set(GDPR_DUE + dt.timedelta(minutes=1))
    assert initial.id in sweep(session, clock=clock, offsets=OFFSETS).escalations
    assert _record(session, "eu-gdpr", "regulator").status == "overdue"  # an overdue part makes it overdue
    assert _close(client, responder, initial.id).status_code == 200
    assert _record(session, "eu-gdpr", "regulator").status == "due"
    assert _close(client, officer, phases.id, "waived").status_code == 200
    closed = _record(session, "eu-gdpr", "regulator")
    assert closed.status == "waived" and closed.due_at == GDPR_DUE  # not every part was met
    assert closed.close_reason == f"through its parts: {INITIAL} met; {PHASES} waived"
    # recomputing keeps it (closed records stay closed) and changes nothing
    assert client.post("/api/incidents/1/assess", headers=bearer(responder)).status_code == 200
    assert _record(session, "eu-gdpr", "regulator").status == "waived"
    rolled = [json.loads(e.after)["status"] for e in session.exec(select(AuditEvent).where(
        AuditEvent.action == "obligation.status_from_parts").order_by(AuditEvent.seq)).all()]  # type: ignore[arg-type]
    assert rolled == ["overdue", "due", "waived"]
    assert audit.verify(session).ok


def test_the_parent_is_met_when_every_required_part_is_met(
    client: FlaskClient, make_user: Any, session: Session, clock: FixedClock
) -> None:
    clock.set(AFTER_LAPTOP)  # the laptop case is filed after its discovery
    responder = make_user("responder")
    _file(client, responder, LAPTOP)
    parent = _record(session, "us-hipaa", "regulator")
    part = _record(session, "us-hipaa", "regulator", "HHS notice (500 or more)")
    log = _record(session, "us-hipaa", "regulator", "HHS annual log (fewer than 500)")
    assert (parent.status, part.status, log.status) == ("due", "due", "not_required")
    assert _close(client, responder, part.id).status_code == 200
    assert _record(session, "us-hipaa", "regulator").status == "met"  # the annual log is not required


def test_hhs_notice_is_reminded_once_for_its_part(
    client: FlaskClient, make_user: Any, session: Session, clock: FixedClock
) -> None:
    clock.set(AFTER_LAPTOP)  # the laptop case is filed after its discovery
    _file(client, make_user("responder"), LAPTOP)
    parent = _record(session, "us-hipaa", "regulator")
    part = _record(session, "us-hipaa", "regulator", "HHS notice (500 or more)")
    assert parent.due_at is not None and parent.due_at == part.due_at
    clock.set(parent.due_at - dt.timedelta(hours=23))
    fired = [oid for oid, _kind in sweep(session, clock=clock, offsets=OFFSETS).reminders]
    assert part.id in fired and parent.id not in fired


def _kinds(session: Session, obligation_id: int | None) -> list[tuple[str, dt.datetime]]:
    rows = session.exec(select(ObligationAlert).where(ObligationAlert.obligation_id == obligation_id)).all()
    return sorted((a.kind, a.due_at) for a in rows)


def test_a_deadline_moved_after_its_escalation_is_reminded_and_escalated_again_once(
    client: FlaskClient, make_user: Any, session: Session, clock: FixedClock, app: Flask
) -> None:
    clock.set(AFTER_LAPTOP)  # the laptop case is filed after its discovery
    responder = make_user("responder")
    incident_id = _file(client, responder, LAPTOP)
    first = _record(session, "us-hipaa", "individuals")
    old = first.due_at
    assert old is not None
    clock.set(old + dt.timedelta(seconds=1))
    assert first.id in sweep(session, clock=clock, offsets=OFFSETS).escalations
    # awareness corrected 20 h later: the 60-day deadline moves 20 h into the future
    later = (dt.datetime.fromisoformat(LAPTOP["aware_at"]) + dt.timedelta(hours=20)).isoformat()
    assert client.patch(f"/api/incidents/{incident_id}", json={"aware_at": later},
                        headers=bearer(responder)).status_code == 200
    moved = _record(session, "us-hipaa", "individuals")
    new = moved.due_at
    assert new == old + dt.timedelta(hours=20) and moved.status == "due"

    def fired(at: dt.datetime) -> list[str]:
        clock.set(at)
        report = sweep(session, clock=clock, offsets=OFFSETS)
        return [k for oid, k in report.reminders if oid == moved.id] + ["overdue"] * report.escalations.count(
            moved.id)

    assert fired(new - dt.timedelta(hours=19)) == ["reminder:86400"]
    assert fired(new - dt.timedelta(hours=19)) == []
    assert fired(new - dt.timedelta(hours=6)) == ["reminder:21600"]
    assert fired(new + dt.timedelta(seconds=1)) == ["overdue"]
    assert fired(new + dt.timedelta(hours=1)) == []
    restarted = create_app(dict(app.config, CLOCK=clock))  # a scheduler process started afresh
    assert sched.run_sweeps(restarted, "host-b:1")
    assert _kinds(session, moved.id) == [("overdue", old), ("overdue", new), ("reminder:21600", new),
                                         ("reminder:86400", new)]
    assert _record(session, "us-hipaa", "individuals").status == "overdue"


def test_the_incident_page_offers_the_parts_not_the_parent(
    client: FlaskClient, make_user: Any, session: Session
) -> None:
    from tests.support import login

    responder = make_user("responder")
    incident_id = _file(client, responder, GDPR)
    parent, initial = _record(session, "eu-gdpr", "regulator"), _record(session, "eu-gdpr", "regulator", INITIAL)
    login(client, responder)
    html = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "closes with its parts" in html
    assert f'action="/obligations/{parent.id}/met"' not in html
    assert f'action="/obligations/{initial.id}/met"' in html
