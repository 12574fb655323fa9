"""US regimes: the HIPAA/California laptop, the encryption safe harbour, every threshold boundary and the
effective dates and cross-regime links of the playbooks."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from app.incidents.schema import IncidentFile
from app.playbooks.cli import assess_command
from app.playbooks.engine import Assessment, Obligation, assess
from app.playbooks.loader import load_playbooks

PLAYBOOKS = load_playbooks()
NOW = dt.datetime(2026, 4, 2, tzinfo=dt.UTC)

LAPTOP: dict[str, Any] = {
    "title": "Unencrypted laptop with patient records lost",
    "aware_at": "2026-04-01T09:00:00-07:00",
    "controller": {
        "name": "Example Clinic",
        "establishment": "US-CA",
        "sector": "health",
        "hipaa_covered_entity": True,
    },
    "cause": "loss",
    "malicious": False,
    "confidentiality": {"affected": True, "recipients": "unknown", "exfiltrated": "unknown"},
    "protection": {"encrypted": False, "medium": "electronic"},
    "data_categories": ["name", "date_of_birth", "postal_address", "health", "insurance"],
    "subjects": {"count": 600, "by_jurisdiction": {"US-CA": 600}},
}


def incident(**changes: Any) -> IncidentFile:
    """The laptop incident with top-level keys replaced and nested mappings merged."""
    data = copy.deepcopy(LAPTOP)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    return IncidentFile.model_validate(data)


def run(inc: IncidentFile, **kwargs: Any) -> Assessment:
    return assess(incident=inc, playbooks=PLAYBOOKS, now=NOW, **kwargs)


def ob(result: Assessment, regime: str, audience: str) -> Obligation:
    return next(o for o in result.obligations if (o.regime, o.audience) == (regime, audience))


def part(obligation: Obligation, name: str) -> Any:
    return next(p for p in obligation.parts if p.name.startswith(name))


def counts(state: str, n: int) -> dict[str, Any]:
    return {"subjects": {"count": n, "by_jurisdiction": {state: n}}}


# --- the HIPAA covered entity's lost laptop, 600 California patients ---------------------------------


def test_hipaa_media_recipient_without_a_state_over_500_names_no_empty_place(tmp_path: Path) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump({**LAPTOP, **counts("US-CA", 20)}), encoding="utf-8")
    result = CliRunner().invoke(assess_command, [str(path), "--format", "json", "--at", "2026-04-02T00:00:00Z"])
    assert result.exit_code == 0, result.output
    got = {(o["regime"], o["audience"]): o for o in json.loads(result.stdout)["obligations"]}
    assert got["us-hipaa", "media"]["required"] is False
    assert got["us-hipaa", "media"]["recipient"] == "prominent media outlets serving each state over the threshold"


def test_laptop_via_cli(tmp_path: Path) -> None:
    path = tmp_path / "laptop.yaml"
    path.write_text(yaml.safe_dump(LAPTOP), encoding="utf-8")
    result = CliRunner().invoke(assess_command, [str(path), "--format", "json", "--at", "2026-04-02T00:00:00Z"])
    assert result.exit_code == 0, result.output
    got = {(o["regime"], o["audience"]): o for o in json.loads(result.stdout)["obligations"]}
    discovery = dt.datetime(2026, 4, 1, 16, 0, tzinfo=dt.UTC)
    sixty_days = (discovery + dt.timedelta(days=60)).isoformat().replace("+00:00", "Z")
    assert got["us-hipaa", "individuals"]["required"] is True
    assert got["us-hipaa", "individuals"]["due_at"] == sixty_days == "2026-05-31T16:00:00Z"
    assert got["us-hipaa", "regulator"]["required"] is True
    assert got["us-hipaa", "media"]["required"] is True
    assert got["us-hipaa", "media"]["recipient"] == "prominent media outlets serving US-CA"
    assert got["us-ca", "individuals"]["required"] is True
    assert got["us-ca", "regulator"]["required"] is True
    assert got["us-ca", "regulator"]["recipient"] == "California Attorney General"
    assert "45 CFR 164.404(b)" in got["us-hipaa", "individuals"]["citations"]


def test_laptop_deadlines_and_hhs_part() -> None:
    result = run(incident())
    aware = dt.datetime(2026, 4, 1, 16, 0, tzinfo=dt.UTC)
    hhs = ob(result, "us-hipaa", "regulator")
    assert part(hhs, "HHS notice").required and not part(hhs, "HHS annual log").required
    assert hhs.due_at == aware + dt.timedelta(days=60)
    assert ob(result, "us-hipaa", "media").due_at == aware + dt.timedelta(days=60)
    # SB 446: 30 calendar days from discovery; AG sample 15 days after the consumer notice.
    assert ob(result, "us-ca", "individuals").due_at == aware + dt.timedelta(days=30)
    assert ob(result, "us-ca", "regulator").due_at == aware + dt.timedelta(days=45)
    assert ob(result, "us-hipaa", "internal_record").required
    assert {o.regime for o in result.obligations} == {"us-hipaa", "us-ca"}


def test_laptop_with_full_disk_encryption_needs_no_notice() -> None:
    result = run(incident(protection={"encrypted": True, "key_compromised": False}))
    for regime, audience in [("us-hipaa", "individuals"), ("us-hipaa", "regulator"), ("us-hipaa", "media"),
                             ("us-ca", "individuals"), ("us-ca", "regulator")]:  # fmt: skip
        obligation = ob(result, regime, audience)
        assert obligation.required is False, obligation
        assert obligation.due_at is None
        assert any("encrypted" in r for r in obligation.reasons)


def test_encryption_with_stolen_key_is_notifiable() -> None:
    result = run(incident(protection={"encrypted": True, "key_compromised": True}))
    assert ob(result, "us-hipaa", "individuals").required
    assert ob(result, "us-ca", "individuals").required


# --- threshold boundaries --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "immediate", "media", "ca_ag"),
    [(499, False, False, False), (500, True, False, False), (501, True, True, True)],
)
def test_hipaa_and_california_boundaries(n: int, immediate: bool, media: bool, ca_ag: bool) -> None:
    result = run(incident(**counts("US-CA", n)))
    hhs = ob(result, "us-hipaa", "regulator")
    assert part(hhs, "HHS notice").required is immediate
    assert part(hhs, "HHS annual log").required is not immediate
    assert hhs.required is True
    assert ob(result, "us-hipaa", "media").required is media
    assert ob(result, "us-ca", "regulator").required is ca_ag


def test_hipaa_media_counts_one_state_not_the_total() -> None:
    spread = {"subjects": {"count": 900, "by_jurisdiction": {"US-CA": 300, "US-NV": 300, "US-OR": 300}}}
    result = run(incident(**spread))
    assert ob(result, "us-hipaa", "media").required is False
    assert part(ob(result, "us-hipaa", "regulator"), "HHS notice").required is True


GENERAL = {"controller": {"sector": "general", "hipaa_covered_entity": False}}


@pytest.mark.parametrize(
    ("state", "regime", "n", "required"),
    [
        ("US-TX", "us-tx", 249, False), ("US-TX", "us-tx", 250, True),
        ("US-FL", "us-fl", 499, False), ("US-FL", "us-fl", 500, True),
        ("US-WA", "us-wa", 500, False), ("US-WA", "us-wa", 501, True),
        ("US-CA", "us-ca", 500, False), ("US-CA", "us-ca", 501, True),
    ],
)  # fmt: skip
def test_state_regulator_boundaries(state: str, regime: str, n: int, required: bool) -> None:
    result = run(incident(**GENERAL, **counts(state, n), data_categories=["name", "government_id"]))
    assert ob(result, regime, "individuals").required is True
    assert ob(result, regime, "regulator").required is required


@pytest.mark.parametrize(("n", "required"), [(5000, False), (5001, True)])
def test_new_york_cra_boundary(n: int, required: bool) -> None:
    result = run(incident(**GENERAL, **counts("US-NY", n), data_categories=["name", "government_id"]))
    assert ob(result, "us-ny", "consumer_reporting_agencies").required is required
    assert ob(result, "us-ny", "regulator").required is True


def test_hhs_annual_log_due_60_days_after_year_end() -> None:
    # HHS example: small breaches discovered in 2019 were due 29 Feb 2020 (end of day, New York time).
    result = run(incident(aware_at="2019-06-10T10:00:00-04:00", **counts("US-CA", 20)))
    hhs = ob(result, "us-hipaa", "regulator")
    assert part(hhs, "HHS annual log").required
    assert hhs.due_at == dt.datetime(2020, 3, 1, 5, 0, tzinfo=dt.UTC)


# --- covered data, safe harbours, harm tests --------------------------------------------------------


def test_state_law_needs_name_with_a_covered_element() -> None:
    result = run(incident(**GENERAL, data_categories=["name", "contact"]))
    ca = ob(result, "us-ca", "individuals")
    assert ca.required is False
    assert any("no covered data elements" in r for r in ca.reasons)


def test_acquisition_states_ignore_exposure_nobody_obtained() -> None:
    exposed = {"confidentiality": {"recipients": "none", "exfiltrated": False}}
    result = run(incident(**GENERAL, **exposed, **counts("US-TX", 300), data_categories=["name", "government_id"]))
    assert ob(result, "us-tx", "individuals").required is False


def test_florida_harm_exception_files_a_determination() -> None:
    deleted = {"confidentiality": {"recipients": "trusted", "exfiltrated": False, "data_returned_or_deleted": True}}
    result = run(incident(**GENERAL, **deleted, cause="misdelivery", **counts("US-FL", 40),
                          data_categories=["name", "government_id"]))  # fmt: skip
    assert ob(result, "us-fl", "individuals").required is False
    regulator = ob(result, "us-fl", "regulator")
    assert regulator.required and part(regulator, "written no-harm").required
    assert regulator.due_at == dt.datetime(2026, 4, 1, 16, 0, tzinfo=dt.UTC) + dt.timedelta(days=30)
    assert ob(result, "us-fl", "internal_record").required


def test_new_york_health_data_counts_only_from_march_2025() -> None:
    health = {"data_categories": ["name", "health"], **GENERAL, **counts("US-NY", 10)}
    before = run(incident(aware_at="2025-01-10T10:00:00-05:00", **health))
    after = run(incident(aware_at="2025-06-10T10:00:00-04:00", **health))
    assert ob(before, "us-ny", "individuals").required is False
    assert ob(after, "us-ny", "individuals").required is True


def test_california_deadline_before_sb446_has_no_fixed_period() -> None:
    result = run(incident(aware_at="2025-10-01T09:00:00-07:00"))
    ca = ob(result, "us-ca", "individuals")
    assert ca.required and ca.due_at is None and ca.state == "no_deadline"
    assert ob(result, "us-ca", "regulator").due_at is None


@pytest.mark.parametrize(("aware", "days"), [("2023-08-01T10:00:00-05:00", 60), ("2023-09-04T10:00:00-05:00", 30)])
def test_texas_ag_deadline_changed_on_1_september_2023(aware: str, days: int) -> None:
    result = run(incident(**GENERAL, aware_at=aware, **counts("US-TX", 300), data_categories=["name", "government_id"]))
    start = dt.datetime.fromisoformat(aware)
    assert ob(result, "us-tx", "regulator").due_at == start + dt.timedelta(days=days)
    assert ob(result, "us-tx", "individuals").due_at == start + dt.timedelta(days=60)


# --- links between regimes and clock types ---------------------------------------------------------


def test_new_york_hipaa_entity_copies_hhs_notice_within_5_business_days_over_a_holiday() -> None:
    # HHS notice due Fri 2026-02-13 10:00 EST; Mon 16 Feb is Washington's Birthday, so 5 business days
    # end Mon 23 Feb 10:00 EST.
    result = run(incident(aware_at="2025-12-15T10:00:00-05:00", **counts("US-NY", 600)))
    assert ob(result, "us-hipaa", "regulator").due_at == dt.datetime(2026, 2, 13, 15, 0, tzinfo=dt.UTC)
    ny = ob(result, "us-ny", "regulator")
    assert part(ny, "copy of the HHS notice").required
    assert part(ny, "copy of the HHS notice").due_at == dt.datetime(2026, 2, 23, 15, 0, tzinfo=dt.UTC)
    individuals = ob(result, "us-ny", "individuals")
    assert individuals.required is False
    assert any("satisfied by the individuals notice under us-hipaa" in r for r in individuals.reasons)


def test_business_days_across_daylight_saving_change() -> None:
    # HHS due Fri 2026-03-06 10:00 EST (15:00Z); US clocks go forward on 8 March, so 5 business days later
    # is Fri 13 March 10:00 EDT = 14:00Z.
    result = run(incident(aware_at="2026-01-05T10:00:00-05:00", **counts("US-NY", 600)))
    assert ob(result, "us-hipaa", "regulator").due_at == dt.datetime(2026, 3, 6, 15, 0, tzinfo=dt.UTC)
    assert part(ob(result, "us-ny", "regulator"), "copy of the HHS notice").due_at == dt.datetime(
        2026, 3, 13, 14, 0, tzinfo=dt.UTC
    )


def test_calendar_days_across_daylight_saving_change_keep_local_time() -> None:
    # 2026-02-01 12:00 EST + 60 calendar days = 2026-04-02 12:00 EDT: 16:00Z, one hour before 60 x 24 h.
    result = run(incident(aware_at="2026-02-01T12:00:00-05:00", **counts("US-CA", 600)))
    due = ob(result, "us-hipaa", "individuals").due_at
    assert due == dt.datetime(2026, 4, 2, 16, 0, tzinfo=dt.UTC)
    assert due == dt.datetime(2026, 2, 1, 17, 0, tzinfo=dt.UTC) + dt.timedelta(days=60, hours=-1)


def test_business_days_in_brazil_skip_good_friday() -> None:
    leak = {"controller": {"establishment": "BR", "sector": "general", "hipaa_covered_entity": False}}
    result = run(incident(aware_at="2026-04-02T10:00:00-03:00", **leak, **counts("BR", 100)))
    # Thu 2 April; Fri 3 April is Good Friday: Mon 6, Tue 7, Wed 8 April, 10:00 in São Paulo.
    assert ob(result, "br-lgpd", "regulator").due_at == dt.datetime(2026, 4, 8, 13, 0, tzinfo=dt.UTC)


def test_hours_clock_ignores_daylight_saving() -> None:
    eu = {"controller": {"establishment": "DE", "sector": "general", "hipaa_covered_entity": False}}
    result = run(incident(aware_at="2026-03-28T10:00:00+01:00", **eu, **counts("DE", 600)))
    assert ob(result, "eu-gdpr", "regulator").due_at == dt.datetime(2026, 3, 31, 9, 0, tzinfo=dt.UTC)


def test_subject_counts_replace_the_file_estimate() -> None:
    result = run(incident(), jurisdiction_counts={"US-TX": 300, "US-CA": 10})
    assert ob(result, "us-tx", "regulator").required is True
    assert ob(result, "us-ca", "regulator").required is False
    assert ob(result, "us-hipaa", "media").required is False


def test_state_of_each_obligation_follows_now() -> None:
    inc = incident()
    late = assess(incident=inc, playbooks=PLAYBOOKS, now=dt.datetime(2026, 7, 1, tzinfo=dt.UTC))
    assert ob(late, "us-hipaa", "individuals").state == "overdue"
    assert ob(run(inc), "us-hipaa", "individuals").state == "due"
    assert ob(run(inc), "us-ca", "public").state == "not_required"
