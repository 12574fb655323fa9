"""The audit chain: every change is recorded in its transaction, and tampering is detected."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import text
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.audit.models import AuditEvent
from tests.support import EXAMPLE_INCIDENT, bearer


def _walk(client: FlaskClient, user: Any) -> int:
    incident_id: int = client.post("/api/incidents", json=EXAMPLE_INCIDENT, headers=bearer(user)).json["id"]
    client.patch(f"/api/incidents/{incident_id}", json={"status": "triaged"}, headers=bearer(user))
    client.patch(f"/api/incidents/{incident_id}", json={"measures_taken": "restored"}, headers=bearer(user))
    return incident_id


def test_every_step_is_chained_and_verifies(client: FlaskClient, make_user: Any, session: Session,
                                            runner: FlaskCliRunner) -> None:
    officer = make_user("privacy_officer")
    incident_id = _walk(client, officer)
    events = client.get(f"/api/audit?incident_id={incident_id}", headers=bearer(officer)).json["events"]
    assert [e["action"] for e in events] == ["incident.created", "obligations.assessed", "incident.updated",
                                             "incident.updated", "obligations.assessed"]
    assert '"status":"detected"' in events[2]["before"] and '"status":"triaged"' in events[2]["after"]
    assert all(e["actor"].startswith(f"user:{officer.user.id}:") for e in events)
    for query in ("", "?incident_id=abc", "?incident_id=0", "?incident_id=99999999999", "?incident_id=²"):
        refused = client.get(f"/api/audit{query}", headers=bearer(officer))
        assert refused.status_code == 422 and refused.json["details"][0]["path"] == "incident_id", query
    assert client.get("/api/audit?incident_id=999", headers=bearer(officer)).status_code == 404
    report = audit.verify(session)
    assert report.ok and report.checked == 7  # user.created, token.issued, and the five above
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "7 events" in result.output


def test_altered_row_breaks_the_chain_at_that_event(make_user: Any, client: FlaskClient, session: Session,
                                                    runner: FlaskCliRunner) -> None:
    incident_id = _walk(client, make_user("responder"))
    target = session.exec(select(AuditEvent).where(AuditEvent.incident_id == incident_id)
                          .order_by(col(AuditEvent.seq))).all()[1]
    session.execute(text("UPDATE audit_event SET after = :a WHERE id = :i"),
                    {"a": '{"status":"closed"}', "i": target.id})
    session.commit()
    report = audit.verify(session)
    assert not report.ok and report.broken_seq == target.seq and "altered" in (report.reason or "")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"seq={target.seq}" in result.output


def test_removed_row_is_detected(make_user: Any, client: FlaskClient, session: Session) -> None:
    _walk(client, make_user("responder"))
    session.execute(text("DELETE FROM audit_event WHERE seq = 3"))
    session.commit()
    report = audit.verify(session)
    assert not report.ok and report.broken_seq == 4 and "removed" in (report.reason or "")


def test_rewritten_row_with_recomputed_hash_still_breaks_the_link(make_user: Any, client: FlaskClient,
                                                                   session: Session) -> None:
    _walk(client, make_user("responder"))
    event = session.exec(select(AuditEvent).where(AuditEvent.seq == 3)).one()
    event.actor = "someone-else"
    event.hash = audit.event_hash(event)
    session.add(event)
    session.commit()
    report = audit.verify(session)
    assert not report.ok and report.broken_seq == 4 and "prev_hash" in (report.reason or "")


def test_failed_change_leaves_no_audit_event(make_user: Any, client: FlaskClient, session: Session) -> None:
    user = make_user("responder")
    before = len(session.exec(select(AuditEvent)).all())
    bad = client.post("/api/incidents", json=EXAMPLE_INCIDENT | {"cause": "x"}, headers=bearer(user))
    assert bad.status_code == 422
    session.expire_all()
    assert len(session.exec(select(AuditEvent)).all()) == before
