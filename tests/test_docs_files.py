"""docs/files.md shows a new user the two files they write; both examples must be accepted as they stand."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from app.incidents.schema import IncidentFile
from app.notices.service import FactsInput

DOC = Path(__file__).resolve().parents[1] / "docs" / "files.md"


def _examples() -> list[dict[str, object]]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    return [yaml.safe_load(block) for block in blocks]


def test_the_incident_file_and_the_facts_examples_validate() -> None:
    incident, facts = _examples()
    filed = IncidentFile.model_validate(incident)
    assert filed.title == "Ransomware on the billing file server" and filed.subjects.count == 40
    body = FactsInput.model_validate(facts)
    assert body.facts.remedies[0].duration_months == 24 and body.sender_address == "privacy@acme.example"
