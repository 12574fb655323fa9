"""The staff UI without a browser: security headers and cookie flags, the dashboard's deadline urgency and
counts, and the dispatch page's live data (progress and the delivery chart series)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from app import create_app
from app.clock import FixedClock
from app.dispatch.wiring import make_worker
from app.dispatch.worker import WorkerOptions
from app.incidents.dashboard import countdown, urgency
from app.obligations import scheduled
from tests.dispatch.dispatch_support import FAST, Person, approved_laptop_incident, import_people
from tests.reports.reports_sample import GDPR_INCIDENT
from tests.support import AFTER_LAPTOP, T0, bearer, csrf_from, login


def test_every_page_carries_the_policy_and_the_session_cookie_is_locked_down(app: Flask, client: FlaskClient,
                                                                             make_user: Any) -> None:
    page = client.get("/login")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-eval" not in policy and "script-src 'self' 'unsafe-inline'" not in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff" and page.headers["Referrer-Policy"] == "same-origin"
    assert "<script>" not in page.get_data(as_text=True) and " on" + "change=" not in page.get_data(as_text=True)
    user = make_user("responder")
    body = page.get_data(as_text=True)
    signed_in = client.post("/login", data={"email": user.user.email, "password": user.password,
                                            "csrf_token": csrf_from(body)})
    cookie = signed_in.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # http://127.0.0.1
    https = create_app(dict(app.config, PUBLIC_URL="https://breach.example.org")).test_client()
    page = https.get("/login").get_data(as_text=True)
    cookie = https.post("/login", data={"email": user.user.email, "password": user.password,
                                        "csrf_token": csrf_from(page)}).headers["Set-Cookie"]
    assert "; Secure" in cookie and "HttpOnly" in cookie
    assert client.get("/static/app.js").headers["Content-Security-Policy"] == policy


def test_urgency_and_countdown_at_the_boundaries() -> None:
    assert urgency(None, T0) == "none" and countdown(None, T0) == ""
    assert urgency(T0 + dt.timedelta(hours=24, seconds=1), T0) == "due"
    assert urgency(T0 + dt.timedelta(hours=24), T0) == "soon"
    assert urgency(T0 + dt.timedelta(seconds=1), T0) == "soon"
    assert urgency(T0, T0) == "overdue"
    assert countdown(T0 + dt.timedelta(days=2, hours=22, minutes=5, seconds=30), T0) == "2 d 22 h 5 min"
    assert countdown(T0 - dt.timedelta(hours=3, minutes=10), T0) == "overdue by 0 d 3 h 10 min"


def test_the_dashboard_shows_the_next_deadline_coloured_and_the_counts(client: FlaskClient, make_user: Any) -> None:
    user = make_user("reporter")
    # aware 2026-03-01 08:00 UTC; the test clock is 03-02 10:00 UTC: GDPR Art. 33's 72 hours end 03-04 08:00 UTC
    filed = client.post("/api/incidents", json=GDPR_INCIDENT, headers=bearer(user))
    assert filed.status_code == 201, filed.json
    late = client.post("/api/incidents", json={**GDPR_INCIDENT, "title": "Old lost USB stick",
                                               "aware_at": "2026-02-20T09:00:00+00:00"}, headers=bearer(user))
    login(client, user)
    html = client.get("/").get_data(as_text=True)
    rows = re.findall(r'<tr data-incident="(\d+)">(.*?)</tr>', html, re.S)
    assert [int(i) for i, _ in rows] == [late.json["id"], filed.json["id"]]  # most urgent first
    fresh = dict(rows)[str(filed.json["id"])]
    assert "2026-03-04 08:00" in fresh and "eu-gdpr · regulator" in fresh
    listed = client.get(f"/api/incidents/{filed.json['id']}/obligations", headers=bearer(user)).json["obligations"]
    duties = [(o["regime"], o["audience"], o["part"]) for o in listed if o["status"] in ("due", "overdue")]
    split = {(regime, audience) for regime, audience, part in duties if part}
    assert split, duties  # the GDPR report to the regulator is in parts (Art. 33(1) and 33(4))
    counted = [d for d in duties if d[2] or d[:2] not in split]  # each part, never its parent again
    assert f"eu-gdpr · regulator (+{len(counted) - 1} more)" in fresh
    assert 'class="countdown urgency-due" data-due="2026-03-04T08:00:00+00:00" data-urgency="due">1 d 22 h 0 min<' \
        in fresh
    assert '<td class="affected">1200</td><td class="notified">0</td><td class="unreachable">0</td>' in fresh
    old = dict(rows)[str(late.json["id"])]
    assert 'data-urgency="overdue">overdue by 7 d 1 h 0 min<' in old  # due 2026-02-23 09:00 UTC
    assert '<span class="n" id="total-overdue">1</span>' in html and '<span class="n" id="total-affected">2400</span>' \
        in html


def test_the_dispatch_page_data_has_progress_and_cumulative_series(app: Flask, client: FlaskClient, make_user: Any,
                                                                   session: Session, tmp_path: Path,
                                                                   clock: FixedClock) -> None:
    clock.set(AFTER_LAPTOP)  # the laptop case is filed after its discovery
    officer = make_user("privacy_officer")
    incident_id = approved_laptop_incident(client, officer, make_user("privacy_officer"), channels=("email", "sms"))
    people = [Person(f"h-{i}", f"Hana {i}", email=f"hana{i}@example.org") for i in range(3)] + [
        Person("h-sms", "Sam Sms", phone="+14155553998"), Person("h-none", "No Contact")]
    import_people(app, session, tmp_path, incident_id, people)
    sandbox = create_app(dict(app.config, **FAST))
    web = sandbox.test_client()
    login(web, officer)
    assert web.get(f"/incidents/{incident_id}/dispatch/progress.json").json == {"progress": None, "history": None}
    page = web.get(f"/incidents/{incident_id}/dispatch").get_data(as_text=True)
    web.post(f"/incidents/{incident_id}/dispatch/start", data={"csrf_token": csrf_from(page), "chain": "email,sms"})
    with sandbox.app_context():
        make_worker(sandbox, WorkerOptions(once=True, poll=0.01)).run()
        make_worker(sandbox, WorkerOptions(once=True, poll=0.01)).run()  # the sweep marks the run done
    data = web.get(f"/incidents/{incident_id}/dispatch/progress.json").json
    assert data["progress"]["state"] == "done" and data["progress"]["done_fraction"] == 1.0
    assert data["progress"]["totals"]["delivered"] == 4 and data["progress"]["substitute"] == {"unreachable": 1}
    history = data["history"]
    assert len(history["labels"]) == len(history["seconds"]) == 30 and history["seconds"][0] == 0.0
    finals = {(s["channel"], s["state"]): s["data"][-1] for s in history["series"]}
    assert finals == {("email", "delivered"): 3, ("sms", "delivered"): 1}
    for series in history["series"]:
        assert all(a <= b for a, b in zip(series["data"], series["data"][1:], strict=False))
    done = web.get(f"/incidents/{incident_id}/dispatch").get_data(as_text=True)
    assert '<canvas id="delivery-chart"' in done and "/static/vendor/chart.js/chart.umd.min.js" in done
    assert web.get("/static/vendor/chart.js/chart.umd.min.js").status_code == 200


def _initial_notification_row(html: str) -> str:
    """The Art. 33(1) part's row: the part is reminded; its parent (the whole Art. 33 duty) follows it."""
    return next(r for r in re.findall(r"<tr >(.*?)</tr>", html, re.S) if "2026-03-04 08:00" in r
                and "initial notification" in r)


def test_the_obligations_section_shows_reminders_fired_and_to_come(client: FlaskClient, make_user: Any,
                                                                    session: Session, clock: Any) -> None:
    user = make_user("responder")
    filed = client.post("/api/incidents", json=GDPR_INCIDENT, headers=bearer(user))  # Art. 33 due 03-04 08:00 UTC
    login(client, user)
    html = client.get(f"/incidents/{filed.json['id']}").get_data(as_text=True)
    row = _initial_notification_row(html)
    assert 'class="countdown urgency-due" data-due="2026-03-04T08:00:00+00:00">1 d 22 h 0 min<' in row
    assert '<span class="muted">next: 24 h before, 6 h before</span>' in row
    clock.set(dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC))  # 23 h before the deadline
    assert len(scheduled.sweep(session, clock=clock, offsets=(86400, 21600)).reminders) >= 1
    html = client.get(f"/incidents/{filed.json['id']}").get_data(as_text=True)
    row = _initial_notification_row(html)
    assert "reminded 2026-03-03 09:00<br>" in row and '<span class="muted">next: 6 h before</span>' in row
    assert 'urgency-soon" data-due="2026-03-04T08:00:00+00:00">0 d 23 h 0 min<' in row
