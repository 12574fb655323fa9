"""The substitute-notice rules on their own: thresholds at their boundaries, cost, class size, GDPR."""

from __future__ import annotations

import pytest

from app.announcements.decision import Counts, RegimeVerdict, decide
from app.playbooks.loader import load_playbooks

PLAYBOOKS = load_playbooks()


def _one(regime: str, counts: Counts) -> tuple[bool, bool, list[str]]:
    (verdict,) = decide(playbooks=PLAYBOOKS, regimes=[regime], counts=counts)
    return verdict.required, verdict.allowed, verdict.reasons


@pytest.mark.parametrize(("unreachable", "required"), [(0, False), (9, False), (10, True), (12, True)])
def test_hipaa_ten_person_rule(unreachable: int, required: bool) -> None:
    assert _one("us-hipaa", Counts(600, unreachable, 10.0))[0] is required


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
