"""EDPB Guidelines 01/2021 worked examples, run through `assess --format json` (the CLI, no database)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from app.playbooks.cli import assess_command

CASES_FILE = Path(__file__).resolve().parents[3] / "shared/cases/edpb-01-2021-public.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))

CONTRACT_OBLIGATION_KEYS = {"regime", "audience", "required", "recipient", "due_at", "reasons", "citations"}
CONTRACT_SEVERITY_KEYS = {"method", "dpc", "ei", "cb", "score", "band", "reasons"}
AUDIENCES = {"regulator", "individuals", "public", "media", "consumer_reporting_agencies", "internal_record"}


def run_assess(tmp_path: Path, incident: dict[str, Any], *extra: str) -> dict[str, Any]:
    path = tmp_path / "incident.yaml"
    path.write_text(yaml.safe_dump(incident, allow_unicode=True), encoding="utf-8")
    result = CliRunner().invoke(assess_command, [str(path), "--format", "json", "--at", "2026-03-03T00:00:00Z", *extra])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_eight_cases_are_in_the_shared_file() -> None:
    assert len(CASES) == 8


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_edpb_case_outcome(tmp_path: Path, case: dict[str, Any]) -> None:
    document = run_assess(tmp_path, case["incident"])
    for regime, expected in case["expected"].items():
        got = {o["audience"]: o["required"] for o in document["obligations"] if o["regime"] == regime}
        for audience, required in expected.items():
            assert got[audience] is required, (audience, document["obligations"])


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_output_keeps_the_contract(tmp_path: Path, case: dict[str, Any]) -> None:
    document = run_assess(tmp_path, case["incident"])
    assert set(document) == {"severity", "obligations"}
    assert set(document["severity"]) == CONTRACT_SEVERITY_KEYS
    assert document["severity"]["method"] == "ENISA-2013"
    for ob in document["obligations"]:
        assert set(ob) >= CONTRACT_OBLIGATION_KEYS
        assert ob["audience"] in AUDIENCES
        assert isinstance(ob["required"], bool)
        assert ob["reasons"] and ob["citations"]
        assert ob["due_at"] is None or ob["due_at"].endswith("Z")


def test_gdpr_regulator_due_72_hours_after_awareness(tmp_path: Path) -> None:
    case = next(c for c in CASES if c["expected"]["eu-gdpr"]["regulator"])
    document = run_assess(tmp_path, case["incident"])
    regulator = next(o for o in document["obligations"] if (o["regime"], o["audience"]) == ("eu-gdpr", "regulator"))
    # aware_at 2026-03-02T09:00:00+01:00 = 08:00Z; GDPR Art. 33(1): 72 hours.
    assert regulator["due_at"] == "2026-03-05T08:00:00Z"
    assert regulator["recipient"] == "supervisory authority of DE"
    assert "GDPR Art. 33(1)" in regulator["citations"]
    assert regulator["state"] == "due"


def test_encrypted_availability_only_case_cites_reasons(tmp_path: Path) -> None:
    case = next(
        c for c in CASES if not c["expected"]["eu-gdpr"]["regulator"] and c["incident"]["availability"]["affected"]
    )
    document = run_assess(tmp_path, case["incident"])
    regulator = next(o for o in document["obligations"] if (o["regime"], o["audience"]) == ("eu-gdpr", "regulator"))
    assert regulator["due_at"] is None and regulator["state"] == "not_required"
    assert any("restored from backup" in r for r in regulator["reasons"])
