"""Helpers for the dispatch tests (plain helpers, not fixtures): the laptop incident with approved us-ca
notices, subjects imported from a generated CSV, an app wired to sandbox peers and served on loopback."""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlmodel import Session

from app import create_app, db
from app.clock import SystemClock
from app.dispatch.models import Delivery, DispatchRun
from app.dispatch.wiring import make_worker
from app.dispatch.worker import WorkerOptions
from app.sandbox.common import HttpPeer, free_port
from app.subjects import service as subjects
from tests.notices.notices_workflow_sample import act, draft, file_incident, put_facts

FAST = {"DISPATCH_RATES": "email=0,sms=0,push=0", "DISPATCH_CONCURRENCY": "email=2,sms=2,push=2",
        "RECEIPT_TIMEOUTS": "sms=8", "DISPATCH_MAX_ATTEMPTS": 3, "DISPATCH_BACKOFF": 0.2, "CLAIM_TIMEOUT": 30}


@dataclass
class Person:
    """One row of the generated subject file."""

    external_id: str
    full_name: str
    email: str = ""
    phone: str = ""
    push: dict[str, Any] | None = None
    language: str = "en"
    country: str = "US"
    state: str = "CA"
    address: str = ""
    city: str = ""
    postal_code: str = ""


def write_csv(path: Path, people: Sequence[Person]) -> Path:
    """The subject file for ``people`` (address country and state per person, US-CA by default; a postal
    address when ``address`` is given)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["external_id", "full_name", "email", "phone", "push_subscription", "country", "state",
                      "preferred_language", "address_line1", "city", "postal_code"])
        for p in people:
            out.writerow([p.external_id, p.full_name, p.email, p.phone, json.dumps(p.push) if p.push else "",
                          p.country, p.state, p.language, p.address, p.city, p.postal_code])
    return path


def approved_laptop_incident(client: FlaskClient, drafter: Any, approver: Any,
                             channels: Sequence[str] = ("email", "sms", "push")) -> int:
    """The 600-patient laptop incident with us-ca individual notices approved for ``channels``."""
    incident_id = file_incident(client, drafter)
    put_facts(client, drafter, incident_id)
    for version in draft(client, drafter, incident_id, regimes=["us-ca"], channels=list(channels)):
        assert act(client, drafter, incident_id, version["id"], "submit").status_code == 200
        assert act(client, approver, incident_id, version["id"], "approve").status_code == 200
    return incident_id


def import_people(app: Flask, session: Session, tmp_path: Path, incident_id: int, people: Sequence[Person]) -> None:
    """Import ``people`` into the incident with the real import service."""
    summary = subjects.import_file(session, clock=app.extensions["clock"], actor="test",
                                   path=write_csv(tmp_path / "subjects.csv", people), keys=app.extensions["keys"],
                                   rejects_dir=tmp_path / "rejects", incident_id=incident_id)
    assert summary.imported == len(people) and summary.rejected == 0, summary


def dispatch_app(app: Flask, channel_settings: dict[str, str], **overrides: Any) -> Flask:
    """A copy of the test app with the real clock, the peers' channel settings and fast dispatch settings."""
    return create_app(dict(app.config, CLOCK=SystemClock(), **channel_settings, **{**FAST, **overrides}))


@contextmanager
def served(build: Any) -> Iterator[tuple[str, Any]]:
    """Serve the app returned by ``build(public_url)`` on a loopback port; yields (url, app)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    holder: dict[str, Any] = {}
    peer = HttpPeer(lambda environ, start: holder["app"](environ, start), port=port)
    holder["app"] = build(url)
    peer.start()
    try:
        yield url, holder["app"]
    finally:
        peer.stop()


@contextmanager
def running_worker(app: Flask, **options: Any) -> Iterator[Any]:
    """An in-process worker thread for ``app`` until the block ends."""
    with app.app_context():
        worker = make_worker(app, WorkerOptions(**{"sweep_every": 0.3, "poll": 0.05, **options}))
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(timeout=30)


def wait_for_run(engine: Any, run_id: int, timeout: float = 90.0, state: str = "done") -> None:
    """Poll until the run reaches ``state``; AssertionError naming the open counts on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.session_scope(engine) as s:
            run = s.get(DispatchRun, run_id)
            if run is not None and run.state == state:
                return
        time.sleep(0.2)
    with db.session_scope(engine) as s:
        counts = s.execute(select(Delivery.channel, Delivery.state, func.count()).group_by(
            Delivery.channel, Delivery.state)).all()
    raise AssertionError(f"run {run_id} not {state} after {timeout} s: {counts}")


@dataclass
class Counts:
    """Per (channel, state) delivery counts of a run."""

    by: dict[tuple[str, str], int] = field(default_factory=dict)

    def __getitem__(self, key: tuple[str, str]) -> int:
        return self.by.get(key, 0)


def counts(session: Session, run_id: int) -> Counts:
    """Delivery counts of the run by (channel, state)."""
    rows = session.execute(select(Delivery.channel, Delivery.state, func.count()).where(Delivery.run_id == run_id)
                           .group_by(Delivery.channel, Delivery.state)).all()
    return Counts({(c, s): n for c, s, n in rows})
