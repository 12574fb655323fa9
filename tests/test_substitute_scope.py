"""Each regime's substitute-notice tests count that regime's people (app.announcements.scope): a state law its
residents (Cal. Civ. Code 1798.82(j)(3), Tex. Bus. & Com. Code 521.053(f)), HIPAA everyone (45 CFR
164.404(d)(2)); the estimate before any import, the imported people after."""

from __future__ import annotations

import copy
import io
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlmodel import Session, col

from app.announcements import service as announcements
from app.clock import FixedClock
from app.dispatch.models import DispatchRun, SubstitutePoolEntry
from app.playbooks.loader import load_playbooks
from app.playbooks.schema import Playbook
from app.subjects.models import DataSubject, IncidentSubject
from tests.support import HIPAA_CLINIC, bearer, login

PLAYBOOKS = load_playbooks()
UNIT_COSTS = {"email": 1.0, "sms": 2.0, "push": 0.5, "letter": 3.0}

# 600,000 patients estimated, of whom the file puts 1,000 in California and 100 in Texas.
LARGE = copy.deepcopy(HIPAA_CLINIC) | {"subjects": {"count": 600_000, "by_jurisdiction": {"US-CA": 1000,
                                                                                         "US-TX": 100}}}
# 31 people imported: 8 Californians, all reachable (6 by email, 2 by phone only); 22 Texans, 20 of them with
# no contact at all; one person with neither contact nor address (no jurisdiction).
SUBJECTS = "external_id,full_name,email,phone,country,state\n" + "".join(
    [f"c{i},Cal Person{i},c{i}@example.org,,US,CA\n" for i in range(6)]
    + [f"cp{i},Cal Phone{i},,+1415555010{i},US,CA\n" for i in range(2)]
    + [f"t{i},Tex Person{i},t{i}@example.org,,US,TX\n" for i in range(2)]
    + [f"tu{i},Tex Hidden{i},,,US,TX\n" for i in range(20)]
    + ["x0,Nowhere Person,,,,\n"])


def _verdicts(document: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    assert document is not None
    return {v["regime"]: v for v in document["verdicts"]}


def _counts(verdict: dict[str, Any]) -> tuple[Any, ...]:
    c = verdict["counts"]
    return c["total"], c["unreachable"], c["individual_cost"], c["who"], c["scope"], c["source"]


def _with_ca_thresholds(class_size_over: int, cost_over: float) -> dict[str, Playbook]:
    """The playbooks with California's substitute-notice thresholds lowered (the test imports 31 people)."""
    ca = PLAYBOOKS["us-ca"]
    audiences = [a.model_copy(update={"substitute_notice": a.substitute_notice.model_copy(
        update={"class_size_over": class_size_over, "cost_over": cost_over})}) if a.substitute_notice else a
        for a in ca.audiences]
    return {**PLAYBOOKS, "us-ca": ca.model_copy(update={"audiences": audiences})}


def _incident(client: FlaskClient, user: Any) -> int:
    filed = client.post("/api/incidents", json=LARGE, headers=bearer(user))
    assert filed.status_code == 201, filed.json
    return int(filed.json["id"])


def _import(client: FlaskClient, user: Any, incident_id: int) -> None:
    imported = client.post(f"/api/incidents/{incident_id}/subjects/import", headers=bearer(user),
                           data={"file": (io.BytesIO(SUBJECTS.encode()), "patients.csv")},
                           content_type="multipart/form-data")
    assert imported.status_code == 201, imported.json
    assert imported.json["imported"] == 31


def test_before_import_each_state_uses_its_estimate(client: FlaskClient, make_user: Any, session: Session) -> None:
    user = make_user("privacy_officer")
    incident_id = _incident(client, user)
    document = announcements.latest_decision(session, incident_id=incident_id)
    verdicts = _verdicts(document)
    assert document is not None and document["inputs"] == {"total": 600_000, "unreachable": 0,
                                                            "individual_cost": 0.0}
    # 600,000 people, 1,000 of them in California: not California's class-size basis (more than 500,000)
    ca = verdicts["us-ca"]
    assert _counts(ca) == (1000, 0, 0.0, "California residents", "residents", "estimate")
    assert (ca["allowed"], ca["basis"], ca["stands_for"]) == (False, [], 0)
    assert ca["reasons"][0].startswith("no condition of the rule is met (1,000 California residents, 0 unreachable")
    assert _counts(verdicts["us-tx"]) == (100, 0, 0.0, "Texas residents", "residents", "estimate")
    assert _counts(verdicts["us-hipaa"]) == (600_000, 0, 0.0, "people", "everyone", "incident")
    login(client, user)
    workspace = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert ("<td>1,000 California residents <span class=\"muted\">(the incident file's estimate)</span>; "
            "0 unreachable; $0</td>") in workspace


def test_unreachable_people_count_only_for_their_state_and_hipaa(client: FlaskClient, make_user: Any,
                                                                  session: Session, clock: FixedClock) -> None:
    user = make_user("privacy_officer")
    incident_id = _incident(client, user)
    _import(client, user, incident_id)
    document = announcements.decide_for(session, clock=clock, actor="test", incident_id=incident_id,
                                        playbooks=PLAYBOOKS, unit_costs=UNIT_COSTS)
    assert document["inputs"] == {"total": 600_000, "unreachable": 21, "individual_cost": 12.0}
    verdicts = _verdicts(document)
    # 20 unreachable Texans, no unreachable Californian: California's insufficient-contact test is not met
    ca, tx, hipaa = verdicts["us-ca"], verdicts["us-tx"], verdicts["us-hipaa"]
    assert _counts(ca) == (8, 0, 10.0, "California residents", "residents", "subjects")
    assert (ca["allowed"], ca["basis"], ca["stands_for"]) == (False, [], 0)
    assert _counts(tx) == (22, 20, 2.0, "Texas residents", "residents", "subjects")
    assert (tx["allowed"], tx["basis"], tx["stands_for"]) == (True, ["insufficient_contact"], 20)
    assert tx["reasons"] == ["20 Texas residents have insufficient contact information"]
    # HIPAA counts every patient, the one without a jurisdiction too
    assert _counts(hipaa) == (600_000, 21, 12.0, "people", "everyone", "incident")
    assert (hipaa["required"], hipaa["basis"], hipaa["stands_for"]) == (True, ["unreachable_threshold"], 21)
    assert hipaa["reasons"][0].startswith("21 unreachable of 600,000 people; substitute notice required at 10")
    assert document["stands_for"] == 21  # one notice: HIPAA's 21 unreachable include Texas's 20

    # A dispatch run left one reachable Californian (every channel failed) and one Texan without contact
    # (already unreachable: counted once) in the substitute pool.
    run = DispatchRun(incident_id=incident_id, state="finished", regime="us-ca", channel_order=["email"],
                      versions={}, plan={}, created_by="test", created_at=clock.now(), updated_at=clock.now())
    session.add(run)
    session.flush()
    linked = select(col(IncidentSubject.subject_id)).where(col(IncidentSubject.incident_id) == incident_id)
    ca_reachable = session.execute(select(col(DataSubject.id)).where(
        col(DataSubject.id).in_(linked), col(DataSubject.jurisdiction) == "US-CA",
        col(DataSubject.has_email))).scalars().first()
    tx_hidden = session.execute(select(col(DataSubject.id)).where(
        col(DataSubject.id).in_(linked), col(DataSubject.jurisdiction) == "US-TX",
        ~col(DataSubject.has_email))).scalars().first()
    assert ca_reachable is not None and tx_hidden is not None
    session.add_all([SubstitutePoolEntry(run_id=run.id or 0, incident_id=incident_id, subject_id=sid,
                                         kind="exhausted", reason="failed", added_at=clock.now())
                     for sid in (ca_reachable, tx_hidden)])
    session.commit()
    verdicts = _verdicts(announcements.decide_for(session, clock=clock, actor="test", incident_id=incident_id,
                                                  playbooks=PLAYBOOKS, unit_costs=UNIT_COSTS))
    assert _counts(verdicts["us-ca"])[:3] == (8, 1, 10.0)  # the cost rule does not change with the pool
    assert (verdicts["us-ca"]["basis"], verdicts["us-ca"]["stands_for"]) == (["insufficient_contact"], 1)
    assert verdicts["us-ca"]["reasons"] == ["1 California resident has insufficient contact information"]
    assert _counts(verdicts["us-tx"])[:3] == (22, 20, 2.0)
    assert _counts(verdicts["us-hipaa"])[:3] == (600_000, 22, 12.0)
    # Without HIPAA, one notice stands in for California's 1 and Texas's 20: the union, not the larger count
    states = {regime: book for regime, book in PLAYBOOKS.items() if regime != "us-hipaa"}
    document = announcements.decide_for(session, clock=clock, actor="test", incident_id=incident_id,
                                        playbooks=states, unit_costs=UNIT_COSTS)
    assert [v["stands_for"] for v in document["verdicts"]] == [1, 20] and document["stands_for"] == 21


def test_class_size_and_cost_count_the_states_residents(client: FlaskClient, make_user: Any, session: Session,
                                                       clock: FixedClock) -> None:
    user = make_user("privacy_officer")
    incident_id = _incident(client, user)
    _import(client, user, incident_id)
    # California's thresholds lowered to 8 people and $10: its 8 residents at $10 meet neither ...
    verdicts = _verdicts(announcements.decide_for(session, clock=clock, actor="test", incident_id=incident_id,
                                                  playbooks=_with_ca_thresholds(8, 10.0), unit_costs=UNIT_COSTS))
    assert (verdicts["us-ca"]["allowed"], verdicts["us-ca"]["stands_for"]) == (False, 0)
    # ... and one below both, they meet both: the notice stands for the 8 Californians, not the 600,000
    document = announcements.decide_for(session, clock=clock, actor="test", incident_id=incident_id,
                                        playbooks=_with_ca_thresholds(7, 9.99), unit_costs=UNIT_COSTS)
    ca = _verdicts(document)["us-ca"]
    assert (ca["allowed"], ca["basis"], ca["stands_for"]) == (True, ["class_size", "cost"], 8)
    # HIPAA's 21 unreachable and California's 8 (all reachable) are different people: 29 in all
    assert _verdicts(document)["us-hipaa"]["stands_for"] == 21 and document["stands_for"] == 29
    assert ca["reasons"] == ["8 California residents affected: more than 7",
                             "estimated cost of individual notice to 8 California residents $10 is over $9.99"]
