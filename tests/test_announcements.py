"""Substitute notice: the decision from live numbers (HIPAA 10-person rule), publishing from an approved
announcement, public pages and feeds without personal data, withdrawal and the posting-period reminder."""

from __future__ import annotations

import datetime as dt
import json
from html import escape
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select, update
from sqlmodel import Session

from app import db
from app.announcements import service
from app.audit.models import AuditEvent
from app.clock import FixedClock
from app.dispatch.models import DispatchRun, SubstitutePoolEntry
from app.notices.models import NoticeVersion
from app.subjects.models import IncidentSubject
from app.webhooks.models import WebhookEvent
from tests.notices.notices_workflow_sample import CONTACT, LAPTOP, facts
from tests.substitute_sample import approve_announcement, incident_with
from tests.support import AFTER_LAPTOP, bearer, login


@pytest.fixture
def clock() -> FixedClock:
    """The test clock, frozen the day after the laptop case's discovery (``AFTER_LAPTOP``): incidents are filed
    once known."""
    return FixedClock(AFTER_LAPTOP)


def _decision(client: FlaskClient, user: Any, incident_id: int) -> dict[str, Any]:
    response = client.get(f"/api/incidents/{incident_id}/substitute-notice", headers=bearer(user))
    assert response.status_code == 200
    return dict(response.json["decision"])


def _hipaa(decision: dict[str, Any]) -> dict[str, Any]:
    return next(v for v in decision["verdicts"] if v["regime"] == "us-hipaa")


def test_nine_unreachable_is_not_enough_under_hipaa(client: FlaskClient, make_user: Any, runner: FlaskCliRunner,
                                                    tmp_path: Path) -> None:
    user = make_user("responder")
    decision = _decision(client, user, incident_with(client, runner, user, tmp_path, 9))
    assert decision["inputs"]["unreachable"] == 9
    assert decision["inputs"]["total"] == 600  # the incident file says 600; 597 people were imported
    hipaa = _hipaa(decision)
    assert hipaa["required"] is False and hipaa["allowed"] is False
    assert "alternative written notice" in hipaa["reasons"][0]
    assert hipaa["citation"].startswith("45 CFR 164.404(d)(2)")


def test_twelve_unreachable_requires_and_publishes_without_personal_data(
    client: FlaskClient, make_user: Any, runner: FlaskCliRunner, tmp_path: Path, session: Session
) -> None:
    drafter, officer = make_user("responder"), make_user("privacy_officer")
    incident_id = incident_with(client, runner, drafter, tmp_path, 12)
    hipaa = _hipaa(_decision(client, drafter, incident_id))
    assert hipaa["required"] is True and hipaa["stands_for"] == 12 and hipaa["posting_days"] == 90
    refused = client.post(f"/api/incidents/{incident_id}/public-notice", json={}, headers=bearer(officer))
    assert refused.status_code == 409 and "approved announcement" in refused.json["message"]
    approve_announcement(client, drafter, officer, incident_id)
    assert client.post(f"/api/incidents/{incident_id}/public-notice", json={},
                       headers=bearer(drafter)).status_code == 403
    published = client.post(f"/api/incidents/{incident_id}/public-notice", json={}, headers=bearer(officer))
    assert published.status_code == 201, published.json
    notice = published.json
    assert notice["stands_for"] == 12
    assert notice["regimes"] == ["us-ca", "us-hipaa"]  # CA allows it for insufficient contact information
    assert dt.datetime.fromisoformat(notice["ends_at"]) - dt.datetime.fromisoformat(notice["published_at"]) \
        == dt.timedelta(days=90)
    anonymous = client.application.test_client()
    page = anonymous.get(f"/notices/{notice['slug']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Notice of Data Breach" in html and "What Happened" in html and "12 people" in html
    index = anonymous.get("/notices").get_data(as_text=True)
    atom = anonymous.get("/notices/feed.atom").get_data(as_text=True)
    feed = anonymous.get("/notices/feed.json").json
    assert notice["slug"] in index and notice["slug"] in atom
    assert feed["items"][0]["url"].endswith(notice["slug"])
    everything = html + index + atom + json.dumps(feed)
    assert not [i for i in range(12) if f"Hidden Person{i}" in everything]  # every subject's data: test below
    actions = [e.action for e in session.execute(select(AuditEvent)).scalars()]
    assert "substitute_notice.decided" in actions and "public_notice.published" in actions


def test_withdrawn_notice_leaves_the_public_side(client: FlaskClient, make_user: Any, runner: FlaskCliRunner,
                                                 tmp_path: Path) -> None:
    drafter, officer = make_user("responder"), make_user("privacy_officer")
    incident_id = incident_with(client, runner, drafter, tmp_path, 12)
    approve_announcement(client, drafter, officer, incident_id)
    slug = client.post(f"/api/incidents/{incident_id}/public-notice", json={}, headers=bearer(officer)).json["slug"]
    no_reason = client.post(f"/api/incidents/{incident_id}/public-notice/withdraw", json={}, headers=bearer(officer))
    assert no_reason.status_code == 422
    assert client.post(f"/api/incidents/{incident_id}/public-notice/withdraw", json={"reason": "posted in error"},
                       headers=bearer(officer)).status_code == 200
    assert client.get(f"/notices/{slug}").status_code == 404
    assert slug not in client.get("/notices/feed.atom").get_data(as_text=True)


def test_posting_period_reminder_and_end_fire_once_across_a_restart(
    client: FlaskClient, make_user: Any, runner: FlaskCliRunner, tmp_path: Path, session: Session, clock: FixedClock
) -> None:
    drafter, officer, admin = make_user("responder"), make_user("privacy_officer"), make_user("admin")
    events = ["public_notice.period_ending", "public_notice.period_ended"]
    hook = client.post("/api/webhooks", json={"url": "https://93.184.215.14/hook", "events": events},
                       headers=bearer(admin))
    assert hook.status_code == 201, hook.json
    incident_id = incident_with(client, runner, drafter, tmp_path, 12)
    approve_announcement(client, drafter, officer, incident_id)
    _publish(client, officer, incident_id)
    notice = service.for_incident(session, incident_id=incident_id)
    assert notice is not None and notice.ends_at is not None and notice.toll_free_ends_at == notice.ends_at
    engine = session.get_bind()

    def sweep_after_restart() -> int:  # a fresh session, as a restarted scheduler has: only the database remembers
        with db.session_scope(engine) as fresh:
            return service.sweep(fresh, clock=clock)

    clock.set(notice.ends_at - dt.timedelta(days=7, seconds=1))
    assert sweep_after_restart() == 0
    clock.advance(1)
    assert sweep_after_restart() == 1
    assert sweep_after_restart() == 0
    clock.set(notice.ends_at - dt.timedelta(seconds=1))
    assert sweep_after_restart() == 0
    clock.advance(1)
    assert sweep_after_restart() == 1
    clock.advance(86_400)
    assert sweep_after_restart() == 0 and service.sweep(session, clock=clock) == 0
    session.expire_all()
    kinds = [e.type for e in session.execute(select(WebhookEvent).order_by(WebhookEvent.id)).scalars()]
    assert kinds == events
    ended = session.execute(select(WebhookEvent).where(WebhookEvent.type == events[1])).scalar_one().payload["data"]
    assert ended["public_notice_id"] == notice.id and ended["seconds_left"] == 0
    actions = [e.action for e in session.execute(select(AuditEvent).where(
        AuditEvent.action.in_(["public_notice.period_ending", "public_notice.period_ended"]))).scalars()]
    assert actions == ["public_notice.period_ending", "public_notice.period_ended"]
    stored = service.for_incident(session, incident_id=incident_id)
    assert stored is not None and stored.period_ended_at == notice.ends_at
    login(client, officer)
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert f"ended (recorded {notice.ends_at.date().isoformat()})" in page


def test_a_sweep_that_was_down_past_the_end_records_only_the_end(
    client: FlaskClient, make_user: Any, runner: FlaskCliRunner, tmp_path: Path, session: Session, clock: FixedClock
) -> None:
    drafter, officer = make_user("responder"), make_user("privacy_officer")
    incident_id = incident_with(client, runner, drafter, tmp_path, 12)
    approve_announcement(client, drafter, officer, incident_id)
    _publish(client, officer, incident_id)
    notice = service.for_incident(session, incident_id=incident_id)
    assert notice is not None and notice.ends_at is not None
    clock.set(notice.ends_at + dt.timedelta(days=3))
    assert service.sweep(session, clock=clock) == 1 and service.sweep(session, clock=clock) == 0
    actions = [e.action for e in session.execute(select(AuditEvent).where(
        AuditEvent.action.like("public_notice.period_%"))).scalars()]
    assert actions == ["public_notice.period_ended"]


def test_decision_is_audited_only_when_it_changes(client: FlaskClient, make_user: Any, runner: FlaskCliRunner,
                                                  tmp_path: Path, session: Session) -> None:
    user = make_user("responder")
    incident_id = incident_with(client, runner, user, tmp_path, 12)
    before = len(session.execute(select(AuditEvent).where(
        AuditEvent.action == "substitute_notice.decided")).scalars().all())
    _decision(client, user, incident_id)
    _decision(client, user, incident_id)
    after = len(session.execute(select(AuditEvent).where(
        AuditEvent.action == "substitute_notice.decided")).scalars().all())
    assert after == before


def _publish(client: FlaskClient, officer: Any, incident_id: int) -> Any:
    return client.post(f"/api/incidents/{incident_id}/public-notice", json={}, headers=bearer(officer))


def test_hipaa_substitute_notice_needs_a_toll_free_number(client: FlaskClient, make_user: Any,
                                                          runner: FlaskCliRunner, tmp_path: Path) -> None:
    drafter, officer = make_user("responder"), make_user("privacy_officer")
    incident_id = incident_with(client, runner, drafter, tmp_path, 12)
    assert _hipaa(_decision(client, drafter, incident_id))["toll_free_days"] == 90
    approve_announcement(client, drafter, officer, incident_id, facts(contact={**CONTACT, "toll_free_phone": None}))
    refused = _publish(client, officer, incident_id)
    assert refused.status_code == 409
    assert "toll-free number" in refused.json["message"] and "45 CFR 164.404(d)(2)(ii)(B)" in refused.json["message"]
    assert refused.json["details"] == [{"path": "facts.contact.toll_free_phone", "reason": "missing"}]
    approve_announcement(client, drafter, officer, incident_id)  # FACTS give 1-800-555-0100
    published = _publish(client, officer, incident_id)
    assert published.status_code == 201, published.json
    notice = published.json
    assert notice["toll_free_phone"] == CONTACT["toll_free_phone"]
    assert dt.datetime.fromisoformat(notice["toll_free_ends_at"]) - dt.datetime.fromisoformat(
        notice["published_at"]) == dt.timedelta(days=90)
    page = client.application.test_client().get(f"/notices/{notice['slug']}").get_data(as_text=True)
    assert "call free of charge: <strong>1-800-555-0100</strong>" in page
    assert f"at least until {notice['toll_free_ends_at'][:10]}" in page


def test_no_toll_free_number_needed_below_the_hipaa_threshold(client: FlaskClient, make_user: Any,
                                                              runner: FlaskCliRunner, tmp_path: Path) -> None:
    drafter, officer = make_user("responder"), make_user("privacy_officer")
    incident_id = incident_with(client, runner, drafter, tmp_path, 9)  # California allows it; HIPAA does not ask
    approve_announcement(client, drafter, officer, incident_id, facts(contact={**CONTACT, "toll_free_phone": None}))
    published = _publish(client, officer, incident_id)
    assert published.status_code == 201, published.json
    assert published.json["toll_free_phone"] is None and published.json["toll_free_ends_at"] is None


def test_a_press_release_cannot_be_published_as_the_public_notice(
    client: FlaskClient, make_user: Any, runner: FlaskCliRunner, tmp_path: Path, session: Session
) -> None:
    drafter, officer = make_user("responder"), make_user("privacy_officer")
    incident_id = incident_with(client, runner, drafter, tmp_path, 12)
    approve_announcement(client, drafter, officer, incident_id, audience="media", channels=["press_release"])
    refused = _publish(client, officer, incident_id)
    assert refused.status_code == 409 and "media press release" in refused.json["message"]
    # A media version on the announcement channel (drafted before press releases had their own templates).
    approve_announcement(client, drafter, officer, incident_id)
    legacy = session.execute(select(NoticeVersion.id).where(NoticeVersion.incident_id == incident_id,
                                                            NoticeVersion.channel == "announcement")).scalar_one()
    session.execute(update(NoticeVersion).where(NoticeVersion.id == legacy).values(audience="media"))  # locked row
    session.commit()
    assert _publish(client, officer, incident_id).status_code == 409
    approve_announcement(client, drafter, officer, incident_id, audience="public")
    published = _publish(client, officer, incident_id)
    assert published.status_code == 201 and legacy not in published.json["versions"].values()


GIVEN = ("Amara", "Bruno", "Chiara", "Dmitri", "Elif", "Farid", "Greta", "Hiroshi", "Ines", "Jonas")
FAMILY = ("Okonkwo", "Lindqvist", "Marchetti", "Petrov", "Yildiz", "Haddad", "Sorensen", "Tanaka", "Duarte",
          "Brandt", "Nakamura", "Oyelaran")


def _subjects(count: int) -> list[dict[str, str]]:
    """``count`` people, each with a distinct name, email and valid US phone (E.164)."""
    people = []
    for i in range(count):
        name = f"{GIVEN[i % 10]} {FAMILY[(i // 10) % 12]}-{i:03d}"
        number = phonenumbers.parse(f"+1212200{i * 7:04d}")
        assert phonenumbers.is_valid_number(number)
        people.append({"name": name, "email": f"{name.split()[0].lower()}.{i}@mail-{i % 7}.example.net",
                       "e164": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
                       "national": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)})
    return people


def test_public_pages_and_feeds_hold_no_subject_name_email_or_phone(
    client: FlaskClient, make_user: Any, runner: FlaskCliRunner, tmp_path: Path, session: Session, clock: FixedClock
) -> None:
    drafter, officer = make_user("responder"), make_user("privacy_officer")
    people = _subjects(600)
    path = tmp_path / "people.csv"
    path.write_text("external_id,full_name,email,phone,country,state,data_categories\n" + "".join(
        f"p{i},{p['name']},{p['email']},{p['national']},US,CA,name;health\n" for i, p in enumerate(people)))
    incident_id = int(client.post("/api/incidents", json=LAPTOP, headers=bearer(drafter)).json["id"])
    imported = runner.invoke(args=["subjects", "import", str(incident_id), str(path)])
    assert imported.exit_code == 0, imported.output
    # Every channel failed for 12 of them: a dispatch run left them in the substitute pool.
    run = DispatchRun(incident_id=incident_id, state="finished", regime="us-hipaa", channel_order=["email", "sms"],
                      versions={}, plan={}, created_by="test", created_at=clock.now(), updated_at=clock.now())
    session.add(run)
    session.flush()
    linked = session.execute(select(IncidentSubject.subject_id).where(
        IncidentSubject.incident_id == incident_id).limit(12)).scalars().all()
    session.add_all([SubstitutePoolEntry(run_id=run.id or 0, incident_id=incident_id, subject_id=sid,
                                         kind="exhausted", reason="email bounced; sms failed", added_at=clock.now())
                     for sid in linked])
    session.commit()
    assert _hipaa(_decision(client, drafter, incident_id))["required"] is True
    approve_announcement(client, drafter, officer, incident_id, locales=["en", "de"])
    published = client.post(f"/api/incidents/{incident_id}/public-notice", json={}, headers=bearer(officer))
    assert published.status_code == 201, published.json
    assert sorted(published.json["versions"]) == ["de", "en"]
    anonymous, slug = client.application.test_client(), published.json["slug"]
    pages = {url: anonymous.get(url) for url in (f"/notices/{slug}", f"/notices/{slug}?lang=en",
                                                 f"/notices/{slug}?lang=de", "/notices", "/notices/feed.atom",
                                                 "/notices/feed.json")}
    assert all(r.status_code == 200 for r in pages.values())
    assert 'lang="de"' in pages[f"/notices/{slug}?lang=de"].get_data(as_text=True)
    text = "\n".join(r.get_data(as_text=True) for r in pages.values())
    assert "What Happened" in text and CONTACT["toll_free_phone"] in text and slug in text  # the bodies are searched
    found = []
    for p in people:
        digits = p["e164"][2:]
        forms = (p["name"], p["email"], p["e164"], p["national"], digits, f"{digits[:3]}-{digits[3:6]}-{digits[6:]}")
        found += [form for form in forms if form in text or escape(form) in text]
    assert found == []
