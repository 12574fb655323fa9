"""The command line: users, incidents from files, errors that name the field."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from flask.testing import FlaskCliRunner

from tests.support import EXAMPLE_INCIDENT


def test_users_create_prints_one_time_secrets(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["users", "create", "--email", "po@example.org", "--role", "privacy_officer",
                                 "--token"])
    assert result.exit_code == 0
    assert "password: " in result.output and "api token: bn_" in result.output
    again = runner.invoke(args=["users", "create", "--email", "po@example.org", "--role", "admin"])
    assert again.exit_code == 2 and "already exists" in again.output


def test_incident_create_list_show(runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "incident.yaml"
    path.write_text(yaml.safe_dump(EXAMPLE_INCIDENT))
    created = runner.invoke(args=["incidents", "create", "--file", str(path)])
    assert created.exit_code == 0 and "filed: Ransomware" in created.output
    incident_id = created.output.split()[1]
    listed = runner.invoke(args=["incidents", "list"])
    assert f"{incident_id}\tdetected\t2026-03-02T08:00:00+00:00\tRansomware on the billing file server" in listed.output
    shown = json.loads(runner.invoke(args=["incidents", "show", incident_id]).output)
    assert shown["incident"]["controller"]["establishment"] == "DE"
    assert shown["timeline"][0]["actor"].startswith("cli:")


def test_bad_file_exits_2_naming_the_field(runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "incident.json"
    path.write_text(json.dumps(EXAMPLE_INCIDENT | {"subjects": {"count": 1, "vulnerabel": True}}))
    result = runner.invoke(args=["incidents", "create", "--file", str(path)])
    assert result.exit_code == 2
    assert "subjects.vulnerabel: unknown field" in result.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("title: [unclosed\n")
    result = runner.invoke(args=["incidents", "create", "--file", str(broken)])
    assert result.exit_code == 2 and "not valid YAML" in result.output
    assert runner.invoke(args=["incidents", "list"]).output == ""
