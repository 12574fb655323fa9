"""Shared helpers for the substitute-notice tests (plain helpers, not fixtures): a HIPAA incident with some
people unreachable, and an approved announcement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask.testing import FlaskClient, FlaskCliRunner

from tests.notices.notices_workflow_sample import LAPTOP, act, draft, put_facts
from tests.support import bearer

REACHABLE = 588


def people_file(tmp_path: Path, unreachable: int) -> Path:
    """588 reachable Californians with an email, and ``unreachable`` without any contact."""
    rows = [f"r{i},Reachable {i},r{i}@example.org,US,CA,name;health" for i in range(REACHABLE)]
    rows += [f"u{i},Hidden Person{i},,US,CA,name;health" for i in range(unreachable)]
    path = tmp_path / "people.csv"
    path.write_text("external_id,full_name,email,country,state,data_categories\n" + "\n".join(rows) + "\n")
    return path


def incident_with(client: FlaskClient, runner: FlaskCliRunner, user: Any, tmp_path: Path, unreachable: int) -> int:
    """The HIPAA laptop incident (600 people) with ``people_file`` imported."""
    incident_id = int(client.post("/api/incidents", json=LAPTOP, headers=bearer(user)).json["id"])
    result = runner.invoke(args=["subjects", "import", str(incident_id), str(people_file(tmp_path, unreachable))])
    assert result.exit_code == 0, result.output
    return incident_id


def approve_announcement(client: FlaskClient, drafter: Any, officer: Any, incident_id: int,
                         facts: dict[str, Any] | None = None, **body: Any) -> None:
    """Facts (``FACTS`` by default), then the us-hipaa announcement drafted (``body`` adds to the draft
    request, e.g. ``locales``), submitted and approved (four eyes)."""
    put_facts(client, drafter, incident_id, facts)
    versions = draft(client, drafter, incident_id, **{"channels": ["announcement"], "regimes": ["us-hipaa"], **body})
    for version in versions:
        assert act(client, drafter, incident_id, version["id"], "submit").status_code == 200
        approved = act(client, officer, incident_id, version["id"], "approve")
        assert approved.status_code == 200, approved.json
