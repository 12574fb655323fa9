"""Helpers for the letters tests: an incident with approved us-ca email and letter notices, people with postal
addresses in several countries, a dispatch run whose letters wait for a batch."""

from __future__ import annotations

import csv
import dataclasses
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from app import create_app
from app.dispatch import runs
from app.dispatch.models import Delivery, DispatchRun
from app.dispatch.wiring import run_request
from app.subjects import service as subjects
from tests.dispatch.dispatch_support import approved_laptop_incident

# external_id, full_name, email, address_line1, city, state, postal_code, country
PEOPLE = [
    ("p1", "Maria Example", "", "742 Evergreen Terrace", "Springfield", "CA", "90001", "US"),
    ("p2", "Jörg Müller", "joerg@example.org", "Invalidenstraße 116", "Berlin", "", "10115", "DE"),
    ("p3", "Jane Doe", "", "10 Downing Street", "London", "", "SW1A 2AA", "GB"),
    ("p4", "山田太郎", "", "千代田1-1", "千代田区", "東京都", "100-0001", "JP"),
    ("p5", "王小明", "", "东长安街1号", "东城区", "北京市", "100006", "CN"),
    ("p6", "Only Email", "only@example.org", "", "", "", "", "US"),
]


@dataclass
class Setup:
    """The live app (with the letter drop), the incident and the run."""

    app: Flask
    incident_id: int
    run: DispatchRun


def write_people(path: Path) -> Path:
    """The subject file of ``PEOPLE``."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["external_id", "full_name", "email", "address_line1", "city", "state", "postal_code",
                      "country", "preferred_language"])
        for row in PEOPLE:
            out.writerow([*row, "en"])
    return path


def letters_setup(app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path,
                  drop: dict[str, str], chain: str = "letter,email") -> Setup:
    """Approved us-ca email + letter notices, ``PEOPLE`` imported, a run started on ``chain`` with ``drop``."""
    drafter, approver = make_user("privacy_officer"), make_user("privacy_officer")
    incident_id = approved_laptop_incident(client, drafter, approver, channels=("email", "letter"))
    live = create_app(dict(app.config, **drop))
    summary = subjects.import_file(session, clock=live.extensions["clock"], actor="test",
                                   path=write_people(tmp_path / "people.csv"), keys=live.extensions["keys"],
                                   rejects_dir=tmp_path / "rejects", incident_id=incident_id)
    assert summary.imported == len(PEOPLE) and summary.rejected == 0, summary
    with live.app_context():
        run = runs.start(session, clock=live.extensions["clock"], actor="test", incident_id=incident_id,
                         # six countries under one regime: its scope (test_dispatch_scope.py) is not under test
                         request=dataclasses.replace(run_request(live, chain=chain), playbooks={}))
    return Setup(live, incident_id, run)


def deliveries(session: Session, run_id: int, channel: str) -> list[Delivery]:
    """The run's deliveries on ``channel`` by id."""
    session.expire_all()
    return list(session.exec(select(Delivery).where(Delivery.run_id == run_id, Delivery.channel == channel)
                             .order_by(Delivery.id)).all())


def pdf_pages_text(path: Path, first: int | None = None, last: int | None = None) -> str:
    """``pdftotext`` of ``path`` (pages ``first``..``last``, 1-based, when given)."""
    args = ["pdftotext", "-layout"]
    if first is not None:
        args += ["-f", str(first), "-l", str(last or first)]
    return subprocess.run([*args, str(path), "-"], check=True, capture_output=True, text=True).stdout
