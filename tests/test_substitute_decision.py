"""The substitute-notice rules on their own: thresholds at their boundaries, cost, class size, GDPR."""

from __future__ import annotations

from typing import cast

import pytest

from app.announcements.decision import Counts, RegimeCounts, RegimeVerdict, as_document, decide
from app.announcements.scope import Scope, scope_of
from app.incidents.schema import IncidentFile
from app.playbooks.loader import load_playbooks
from tests.support import HIPAA_CLINIC

PLAYBOOKS = load_playbooks()


def _one(regime: str, counts: Counts) -> tuple[bool, bool, list[str]]:
    (verdict,) = decide(playbooks=PLAYBOOKS, regimes=[regime], counts=counts)
    return verdict.required, verdict.allowed, verdict.reasons


@pytest.mark.parametrize(("unreachable", "required"), [(0, False), (9, False), (10, True), (12, True)])
def test_hipaa_ten_person_rule(unreachable: int, required: bool) -> None:
    assert _one("us-hipaa", Counts(600, unreachable, 10.0))[0] is required


@pytest.mark.parametrize(("unreachable", "label"), [(0, "not needed"), (1, "alternative notice (not public)"),
                                                   (9, "alternative notice (not public)"), (10, "required")])
def test_hipaa_under_ten_unreachable_still_need_an_alternative_notice(unreachable: int, label: str) -> None:
    """45 CFR 164.404(d)(2)(i): fewer than 10 people with insufficient contact information get a substitute
    notice by alternative written notice, telephone or other means; only 10 or more call for a public one."""
    (verdict,) = decide(playbooks=PLAYBOOKS, regimes=["us-hipaa"], counts=Counts(600, unreachable, 10.0))
    assert verdict.label == label
    assert as_document(Counts(600, unreachable, 10.0), [verdict])["verdicts"][0]["alternative_notice"] is (
        label.startswith("alternative"))


@pytest.mark.parametrize(("count", "who", "said"), [
    (1, "California residents", "1 California resident"), (2, "people", "2 people"),
    (1, "unreachable residents where eu-gdpr applies", "1 unreachable resident where eu-gdpr applies"),
    (1, "residents of US-CA, US-NV", "1 resident of US-CA, US-NV"), (1_000, "people", "1,000 people")])
def test_people_agree_with_their_number(count: int, who: str, said: str) -> None:
    from app.announcements.decision import _people

    assert _people(count, who) == said


@pytest.mark.parametrize(("cost", "allowed"), [(250_000.0, False), (250_000.01, True)])
def test_california_cost_over_250k(cost: float, allowed: bool) -> None:
    assert _one("us-ca", Counts(1000, 0, cost))[1] is allowed


@pytest.mark.parametrize(("total", "allowed"), [(500_000, False), (500_001, True)])
def test_california_more_than_500k_people(total: int, allowed: bool) -> None:
    assert _one("us-ca", Counts(total, 0, 1.0))[1] is allowed


def test_gdpr_disproportionate_effort_needs_unreachable_people() -> None:
    assert _one("eu-gdpr", Counts(100, 0, 1.0))[1] is False
    required, allowed, reasons = _one("eu-gdpr", Counts(100, 3, 1.0))
    assert (required, allowed) == (False, True) and "disproportionate" in reasons[0]


def test_regimes_without_individual_duty_get_no_verdict() -> None:
    assert decide(playbooks=PLAYBOOKS, regimes=[], counts=Counts(10, 10, 0.0)) == []


def _verdict(regime: str, counts: Counts) -> RegimeVerdict:
    (verdict,) = decide(playbooks=PLAYBOOKS, regimes=[regime], counts=counts)
    return verdict


@pytest.mark.parametrize("unreachable", [0, 5])
def test_cost_basis_stands_for_everyone(unreachable: int) -> None:
    verdict = _verdict("us-ca", Counts(1000, unreachable, 300_000.0))
    assert verdict.allowed and "cost" in verdict.basis
    assert verdict.stands_for == 1000


def test_class_size_basis_stands_for_everyone() -> None:
    verdict = _verdict("us-ca", Counts(500_001, 7, 1.0))
    assert verdict.allowed and verdict.basis[0] == "class_size" and verdict.stands_for == 500_001


def test_insufficient_contact_basis_stands_for_the_unreachable() -> None:
    verdict = _verdict("us-ca", Counts(1000, 5, 10.0))
    assert verdict.allowed and verdict.basis == ["insufficient_contact"] and verdict.stands_for == 5


def test_hipaa_and_gdpr_stand_for_the_unreachable() -> None:
    hipaa = _verdict("us-hipaa", Counts(600, 12, 10.0))
    assert hipaa.required and hipaa.basis == ["unreachable_threshold"] and hipaa.stands_for == 12
    gdpr = _verdict("eu-gdpr", Counts(100, 3, 1.0))
    assert gdpr.basis == ["disproportionate_effort"] and gdpr.stands_for == 3
    assert _verdict("us-hipaa", Counts(600, 9, 10.0)).stands_for == 0


def test_nothing_met_stands_for_nobody() -> None:
    verdict = _verdict("us-ca", Counts(1000, 0, 10.0))
    assert not verdict.allowed and verdict.basis == [] and verdict.stands_for == 0


def _ca(total: int, unreachable: int, cost: float) -> RegimeCounts:
    return RegimeCounts(total, unreachable, cost, who="California residents", scope="residents", source="subjects")


def test_each_regime_is_decided_on_its_own_people() -> None:
    # 600,000 people, $400,000 to notify them all, 20 of them unreachable (Texans): 1,000 Californians, all
    # reachable for $2,000; 50 Texans, 20 of them unreachable, $60 for the other 30
    overall = Counts(600_000, 20, 400_000.0)
    tx = RegimeCounts(50, 20, 60.0, who="Texas residents", scope="residents", source="subjects")
    verdicts = {v.regime: v for v in decide(playbooks=PLAYBOOKS, regimes=["us-ca", "us-tx", "us-hipaa"],
                                            counts=overall, by_regime={"us-ca": _ca(1000, 0, 2000.0), "us-tx": tx})}
    ca = verdicts["us-ca"]
    assert (ca.allowed, ca.basis, ca.stands_for) == (False, [], 0)
    assert ca.reasons == ["no condition of the rule is met (1,000 California residents, 0 unreachable, individual "
                          "notice $2,000): cost over $250,000; more than 500,000 people; insufficient contact "
                          "information"]
    assert (verdicts["us-tx"].basis, verdicts["us-tx"].stands_for) == (["insufficient_contact"], 20)
    assert verdicts["us-tx"].reasons == ["20 Texas residents have insufficient contact information"]
    # a regime without its own counts (here HIPAA) is decided on the incident-wide ones
    hipaa = verdicts["us-hipaa"]
    assert (hipaa.required, hipaa.stands_for) == (True, 20) and hipaa.counts == RegimeCounts(600_000, 20, 400_000.0)


def test_state_class_size_and_cost_stand_for_its_residents() -> None:
    (ca,) = decide(playbooks=PLAYBOOKS, regimes=["us-ca"], counts=Counts(900_000, 0, 900_000.0),
                   by_regime={"us-ca": _ca(500_001, 3, 300_000.0)})
    assert (ca.basis, ca.stands_for) == (["class_size", "cost", "insufficient_contact"], 500_001)
    assert ca.reasons[:2] == ["500,001 California residents affected: more than 500,000",
                              "estimated cost of individual notice to 500,001 California residents $300,000 is over "
                              "$250,000"]


def test_document_keeps_incident_inputs_and_adds_each_verdicts_counts() -> None:
    overall = Counts(600_000, 20, 400_000.0)
    verdicts = decide(playbooks=PLAYBOOKS, regimes=["us-ca"], counts=overall, by_regime={"us-ca": _ca(1000, 0, 2.5)})
    document = as_document(overall, verdicts)
    assert document["inputs"] == {"total": 600_000, "unreachable": 20, "individual_cost": 400_000.0}
    (verdict,) = cast(list[dict[str, object]], document["verdicts"])
    assert verdict["counts"] == {"total": 1000, "unreachable": 0, "individual_cost": 2.5,
                                 "who": "California residents", "scope": "residents", "source": "subjects"}
    assert (document["allowed"], document["required"]) == (False, False)


def _file(establishment: str, hipaa: bool = False) -> IncidentFile:
    controller = {**HIPAA_CLINIC["controller"], "establishment": establishment, "hipaa_covered_entity": hipaa}
    return IncidentFile.model_validate({**HIPAA_CLINIC, "controller": controller})


def test_who_each_regime_counts() -> None:
    assert scope_of(PLAYBOOKS["us-hipaa"], _file("US-CA", hipaa=True)) == Scope(True, (), "people")
    assert scope_of(PLAYBOOKS["us-ca"], _file("US-CA")) == Scope(False, ("US-CA",), "California residents")
    assert scope_of(PLAYBOOKS["us-tx"], _file("US-CA")).who == "Texas residents"
    # GDPR: everyone when established in the Union (Art. 3(1)), else the residents there (Art. 3(2))
    assert scope_of(PLAYBOOKS["eu-gdpr"], _file("DE")).everyone is True
    outside = scope_of(PLAYBOOKS["eu-gdpr"], _file("US-CA"))
    assert not outside.everyone and "DE*" in outside.patterns and outside.who == "residents where eu-gdpr applies"
