"""The personal link ``/n/<token>`` in each message: it shows that person their full notice and nobody else's;
tampered tokens are 404, expired ones 410."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from app import create_app
from app.clock import FixedClock
from app.dispatch.models import SandboxMessage
from app.dispatch.wiring import make_worker
from app.dispatch.worker import WorkerOptions
from tests.dispatch.dispatch_support import FAST, Person, approved_laptop_incident, import_people


def test_link_shows_the_persons_notice_only(app: Flask, client: FlaskClient, make_user: Any, session: Session,
                                            tmp_path: Path) -> None:
    officer = make_user("privacy_officer")
    incident_id = approved_laptop_incident(client, officer, make_user("privacy_officer"), channels=("email", "sms"))
    people = [Person("p-1", "Ana Lima", phone="+14155553001"), Person("p-2", "Bo Berg", phone="+14155553002")]
    import_people(app, session, tmp_path, incident_id, people)
    sandbox = create_app(dict(app.config, **FAST))
    with sandbox.app_context():
        from app.db import get_session
        from app.dispatch import runs
        from app.dispatch.wiring import run_request

        runs.start(get_session(), clock=sandbox.extensions["clock"], actor="t", incident_id=incident_id,
                   request=run_request(sandbox, chain="email,sms"))
        make_worker(sandbox, WorkerOptions(once=True, poll=0.01)).run()
    sms = session.exec(select(SandboxMessage).where(SandboxMessage.channel == "sms")).all()
    assert len(sms) == 2
    cipher = app.extensions["keys"].cipher()
    texts = {cipher.decrypt(m.recipient_enc): cipher.decrypt(m.content_enc) for m in sms}
    link = re.search(r"/n/(\S+)", texts["+14155553001"])
    assert link, texts
    token = link.group(1).rstrip(".")
    web = sandbox.test_client()  # anonymous
    page = web.get(f"/n/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Ana Lima" in html and "Bo Berg" not in html
    assert "Notice of Data Breach" in html and "What Happened" in html
    assert page.headers["Cache-Control"] == "no-store, private"  # it names the person: never cached or indexed
    assert page.headers["X-Robots-Tag"] == "noindex, nofollow" and page.headers["Referrer-Policy"] == "no-referrer"
    assert web.get(f"/n/{token[:-2]}xx").status_code == 404
    expired = create_app(dict(app.config, **FAST, CLOCK=FixedClock(dt.datetime(2099, 1, 1, tzinfo=dt.UTC))))
    assert expired.test_client().get(f"/n/{token}").status_code == 410
