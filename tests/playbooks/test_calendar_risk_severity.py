"""Deadline arithmetic, general risk factors and the ENISA 2013 severity score."""

from __future__ import annotations

import copy
import datetime as dt
import zoneinfo
from typing import Any

import pytest

from app.incidents.schema import IncidentFile
from app.playbooks.calendar import add_period, calendar_year_end
from app.playbooks.risk import RiskLevel, assess_risk
from app.playbooks.schema import BreachType, ClockUnit, holiday_calendar
from app.playbooks.severity import band, enisa_severity

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
DE_HOLIDAYS = holiday_calendar("DE", None)


def test_hours_are_elapsed_time() -> None:
    start = dt.datetime(2026, 3, 28, 10, 0, tzinfo=BERLIN)  # clocks go forward on 29 March
    due = add_period(start, unit=ClockUnit.hours, amount=72, zone=BERLIN)
    assert due - start == dt.timedelta(hours=72)
    assert due == dt.datetime(2026, 3, 31, 9, 0, tzinfo=dt.UTC)


def test_business_days_skip_weekend_easter_and_keep_local_time_over_dst() -> None:
    # Fri 27 March 2026 10:00 CET; Good Friday 3 April and Easter Monday 6 April are holidays.
    start = dt.datetime(2026, 3, 27, 10, 0, tzinfo=BERLIN)
    due = add_period(start, unit=ClockUnit.business_days, amount=5, zone=BERLIN, holidays=DE_HOLIDAYS)
    assert due == dt.datetime(2026, 4, 7, 8, 0, tzinfo=dt.UTC)  # Tue 7 April 10:00 CEST


def test_business_days_from_a_weekend_start_count_from_monday() -> None:
    start = dt.datetime(2026, 5, 9, 12, 0, tzinfo=BERLIN)  # Saturday
    due = add_period(start, unit=ClockUnit.business_days, amount=1, zone=BERLIN, holidays=DE_HOLIDAYS)
    assert due == dt.datetime(2026, 5, 11, 10, 0, tzinfo=dt.UTC)


def test_calendar_days_keep_local_time() -> None:
    start = dt.datetime(2026, 10, 20, 9, 0, tzinfo=BERLIN)  # clocks go back on 25 October
    due = add_period(start, unit=ClockUnit.calendar_days, amount=10, zone=BERLIN)
    assert due == dt.datetime(2026, 10, 30, 8, 0, tzinfo=dt.UTC)
    assert due - start == dt.timedelta(days=10, hours=1)


def test_calendar_year_end_and_naive_input() -> None:
    start = dt.datetime(2026, 12, 31, 23, 30, tzinfo=BERLIN)
    assert calendar_year_end(start, BERLIN) == dt.datetime(2026, 12, 31, 23, 0, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_period(dt.datetime(2026, 1, 1), unit=ClockUnit.hours, amount=1, zone=BERLIN)


BASE: dict[str, Any] = {
    "title": "t",
    "aware_at": "2026-03-02T09:00:00+01:00",
    "controller": {"name": "c", "establishment": "DE"},
    "subjects": {"count": 100},
}


def make(**changes: Any) -> IncidentFile:
    data = copy.deepcopy(BASE)
    data.update(changes)
    return IncidentFile.model_validate(data)


LEAK = {"affected": True, "recipients": "unknown", "exfiltrated": True}


@pytest.mark.parametrize(
    ("changes", "level"),
    [
        ({"confidentiality": LEAK, "data_categories": ["name", "contact"]}, RiskLevel.risk),
        ({"confidentiality": LEAK, "data_categories": ["name", "payment_card"]}, RiskLevel.high),
        (
            {"confidentiality": LEAK, "data_categories": ["name"], "subjects": {"count": 5, "vulnerable": True}},
            RiskLevel.high,
        ),
        ({"confidentiality": {**LEAK, "accounts_accessed": True}, "data_categories": ["contact"]}, RiskLevel.high),
        (
            {"confidentiality": LEAK, "data_categories": ["credentials", "contact"], "protection": {"hashed": True}},
            RiskLevel.risk,
        ),
        ({"confidentiality": LEAK, "data_categories": ["health"], "protection": {"encrypted": True}}, RiskLevel.none),
        ({"confidentiality": {**LEAK, "recipients": "trusted"}, "data_categories": ["health"]}, RiskLevel.risk),
        ({"confidentiality": LEAK, "data_categories": ["location"], "subjects": {"count": 20000}}, RiskLevel.high),
        ({"confidentiality": LEAK, "data_categories": ["location"]}, RiskLevel.high),
        ({"confidentiality": {**LEAK, "recipients": "known"}, "data_categories": ["location"]}, RiskLevel.risk),
    ],
)
def test_confidentiality_factors(changes: dict[str, Any], level: RiskLevel) -> None:
    incident = make(**changes)
    assert assess_risk(incident, incident.subjects.count).by_type[BreachType.confidentiality].level == level


@pytest.mark.parametrize(
    ("availability", "level"),
    [
        ({"affected": True, "outage_hours": 2, "backup_available": True}, RiskLevel.none),
        ({"affected": True, "outage_hours": 30, "backup_available": True}, RiskLevel.risk),
        ({"affected": True, "outage_hours": 2, "backup_available": False}, RiskLevel.risk),
        ({"affected": True, "outage_hours": 2, "backup_available": True, "harms_individuals": True}, RiskLevel.high),
        ({"affected": True, "permanent": True, "backup_available": False}, RiskLevel.risk),
    ],
)
def test_availability_factors(availability: dict[str, Any], level: RiskLevel) -> None:
    risk = assess_risk(make(availability=availability, data_categories=["name"]), 100)
    assert risk.by_type[BreachType.availability].level == level


def test_ransomware_with_exfiltration_is_both_types() -> None:
    incident = make(
        cause="ransomware", malicious=True, confidentiality=LEAK, data_categories=["name", "contact"],
        availability={"affected": True, "outage_hours": 72, "backup_available": False},
    )  # fmt: skip
    risk = assess_risk(incident, 100)
    assert set(risk.affected()) == {BreachType.confidentiality, BreachType.availability}
    reasons = risk.reasons_for(risk.affected())
    assert "data exfiltrated" in reasons and any("no backup" in r for r in reasons)


def test_integrity_factors() -> None:
    altered = make(integrity={"affected": True, "recoverable": True, "misused": False})
    misused = make(integrity={"affected": True, "misused": True}, data_categories=["financial_account"])
    assert assess_risk(altered, 1).by_type[BreachType.integrity].level == RiskLevel.none
    assert assess_risk(misused, 1).by_type[BreachType.integrity].level == RiskLevel.high


def test_enisa_components() -> None:
    # Health data (DPC 4), name + date of birth (EI 1), unknown recipients +0.5, malicious +0.5.
    incident = make(confidentiality=LEAK, malicious=True, data_categories=["name", "date_of_birth", "health"])
    sev = enisa_severity(incident)
    assert (sev.dpc, sev.ei, sev.cb, sev.score, sev.band) == (4, 1.0, 1.0, 5.0, "very high")
    assert sev.method == "ENISA-2013" and len(sev.reasons) == 4


def test_enisa_encryption_and_vulnerability_adjustments() -> None:
    encrypted = make(confidentiality=LEAK, data_categories=["name", "contact"], protection={"encrypted": True})
    vulnerable = make(confidentiality={**LEAK, "recipients": "known"}, data_categories=["name"],
                      subjects={"count": 3, "vulnerable": True})  # fmt: skip
    assert (enisa_severity(encrypted).ei, enisa_severity(encrypted).score) == (0.25, 0.75)
    sev = enisa_severity(vulnerable)
    assert (sev.dpc, sev.ei, sev.cb, sev.score) == (2, 0.75, 0.25, 1.75)


@pytest.mark.parametrize(
    ("score", "expected"),
    [(1.99, "low"), (2.0, "medium"), (2.99, "medium"), (3.0, "high"), (3.99, "high"), (4.0, "very high")],
)
def test_enisa_bands(score: float, expected: str) -> None:
    assert band(score) == expected
