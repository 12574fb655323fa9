"""Returned mail: bad files are reported by line and field with nothing written; a good file fails the letters
and moves each person along the fallback chain (letter -> email) or into the substitute-notice pool."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.clock import FixedClock
from app.dispatch.models import DeliveryAttempt, SubstitutePoolEntry
from app.errors import InvalidInput
from app.letters import flows
from app.letters.scheduled import presume_delivered
from app.scheduler import sweeps
from app.subjects.models import SubjectIdentifier
from tests.letters.letters_support import deliveries, letters_setup


def _posted(app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path) -> Any:
    setup = letters_setup(app, client, make_user, session, tmp_path, {"LETTER_DROP": str(tmp_path / "drop")})
    assert flows.batch(setup.app, session, actor="test", incident_id=setup.incident_id).batch is not None
    return setup


def test_bad_rows_are_named_by_line_and_field_and_nothing_changes(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    setup = _posted(app, client, make_user, session, tmp_path)
    letters = deliveries(session, setup.run.id or 0, "letter")
    email = deliveries(session, setup.run.id or 0, "email")[0]
    text = ("delivery_id,reason\n"
            f"{letters[0].id},moved\n"
            "abc,unknown addressee\n"
            f"{email.id},refused\n"
            "99999,moved\n"
            f"{letters[1].id},\n"
            f"{letters[0].id},again\n")
    with pytest.raises(InvalidInput) as caught:
        flows.returns(setup.app, session, actor="test", incident_id=setup.incident_id, text=text)
    details = {d["path"]: d["reason"] for d in caught.value.details}
    assert set(details) == {"line 3.delivery_id", "line 4.delivery_id", "line 5.delivery_id", "line 6.reason",
                            "line 7.delivery_id"}
    assert "not a letter" in details["line 4.delivery_id"] and "already on line 2" in details["line 7.delivery_id"]
    assert {d.state for d in deliveries(session, setup.run.id or 0, "letter")} == {"sent"}
    assert session.exec(select(DeliveryAttempt).where(DeliveryAttempt.outcome == "returned_mail")).all() == []
    with pytest.raises(InvalidInput, match="columns"):
        flows.returns(setup.app, session, actor="test", incident_id=setup.incident_id, text="id,why\n1,x\n")


def test_returned_letters_move_people_on(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    setup = _posted(app, client, make_user, session, tmp_path)
    letters = {d.subject_id: d for d in deliveries(session, setup.run.id or 0, "letter")}
    emails_before = {d.subject_id for d in deliveries(session, setup.run.id or 0, "email")}
    returned = sorted(letters)[:2]  # Maria (letter only) and Jörg (also has an email address)
    path = tmp_path / "returns.csv"
    path.write_text("delivery_id,reason\n" + "".join(f'{letters[s].id},"Moved, left no address"\n' for s in returned),
                    encoding="utf-8")
    result = setup.app.test_cli_runner().invoke(args=["letters", "returns", str(setup.incident_id), str(path)])
    assert result.exit_code == 0, result.output
    assert "2 letters returned; people moved: 1 to email, 1 to substitute" in result.output
    after = {d.subject_id: d for d in deliveries(session, setup.run.id or 0, "letter")}
    assert [after[s].state for s in returned] == ["failed_permanent"] * 2
    assert all(after[s].error == "returned mail: Moved, left no address" for s in returned)
    new_email = [d for d in deliveries(session, setup.run.id or 0, "email") if d.subject_id not in emails_before]
    assert [d.subject_id for d in new_email] == [returned[1]] and new_email[0].state == "queued"
    assert new_email[0].reason.startswith("fallback from letter; letter returned mail: Moved")
    pool = session.exec(select(SubstitutePoolEntry).where(SubstitutePoolEntry.run_id == setup.run.id)).all()
    assert [(e.subject_id, e.kind) for e in pool] == [(returned[0], "exhausted")]
    dead = session.exec(select(SubjectIdentifier).where(SubjectIdentifier.id.in_(  # type: ignore[attr-defined]
        [letters[s].identifier_id for s in returned]))).all()
    assert {i.usable for i in dead} == {False}
    assert {d.state for s, d in after.items() if s not in returned} == {"sent"}
    again = setup.app.test_cli_runner().invoke(args=["letters", "returns", str(setup.incident_id), str(path)])
    assert again.exit_code == 2 and "only letters handed over (sent) can come back" in again.output
    assert audit.verify(session).ok


def test_letters_without_returns_count_as_delivered_after_the_wait(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    setup = _posted(app, client, make_user, session, tmp_path)
    sent_at = deliveries(session, setup.run.id or 0, "letter")[0].sent_at
    assert sent_at is not None
    assert presume_delivered(session, clock=FixedClock(sent_at + dt.timedelta(days=29)), days=30) == 0
    assert presume_delivered(session, clock=FixedClock(sent_at + dt.timedelta(days=31)), days=30) == 5
    letters = deliveries(session, setup.run.id or 0, "letter")
    assert {d.state for d in letters} == {"delivered"}
    attempts = session.exec(select(DeliveryAttempt).where(DeliveryAttempt.outcome == "no_return")).all()
    assert sorted(a.delivery_id for a in attempts) == sorted(d.id for d in letters)
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "letters.presumed_delivered")).all()
    assert [(e.entity_id, json.loads(e.after)["deliveries"]) for e in events] == [
        (str(setup.run.id), sorted(d.id for d in letters))]
    assert presume_delivered(session, clock=FixedClock(sent_at + dt.timedelta(days=40)), days=30) == 0
    assert audit.verify(session).ok
    assert "_letters" in [job.__name__ for job in sweeps()]
