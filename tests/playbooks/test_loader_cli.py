"""Playbook loading and validation, and the CLI's handling of bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from app.playbooks.cli import assess_command, playbooks_group, read_incident_file
from app.playbooks.errors import PlaybookError
from app.playbooks.loader import DEFAULT_DIRECTORY, load_playbooks

REGIMES = {"eu-gdpr", "uk-gdpr", "cn-pipl", "us-hipaa", "us-ca", "us-ny", "us-tx", "us-fl", "us-wa", "us-ma"}
INCIDENT = {
    "title": "Misdirected email",
    "aware_at": "2026-03-02T09:00:00+01:00",
    "controller": {"name": "Example GmbH", "establishment": "DE"},
    "confidentiality": {"affected": True, "recipients": "known", "recipient_count": 1},
    "data_categories": ["name", "contact"],
    "subjects": {"count": 3, "by_jurisdiction": {"DE": 3}},
}


def copy_playbooks(tmp_path: Path) -> Path:
    target = tmp_path / "playbooks"
    shutil.copytree(DEFAULT_DIRECTORY, target)
    return target


def test_repository_playbooks_validate() -> None:
    result = CliRunner().invoke(playbooks_group, ["validate"])
    assert result.exit_code == 0, result.output
    assert f"{len(load_playbooks())} playbooks valid" in result.output
    assert set(load_playbooks()) >= REGIMES


def test_broken_field_names_file_line_field_and_reason(tmp_path: Path) -> None:
    folder = copy_playbooks(tmp_path)
    path = folder / "us-tx.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("unit: calendar_days\n        amount: 60", "unit: weeks\n        amount: 60"), encoding="utf-8"
    )
    result = CliRunner().invoke(playbooks_group, ["validate", "--dir", str(folder)])
    assert result.exit_code == 1
    line = text.splitlines().index("      - unit: calendar_days") + 1
    assert f"us-tx.yaml:{line}: audiences[0].clocks[0].unit: Input should be" in result.output
    assert "'weeks'" in result.output


def test_missing_field_and_unknown_key_are_reported(tmp_path: Path) -> None:
    folder = copy_playbooks(tmp_path)
    data = yaml.safe_load((folder / "us-wa.yaml").read_text(encoding="utf-8"))
    del data["audiences"][1]["recipient"]
    data["regulater"] = "typo"
    (folder / "us-wa.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(PlaybookError) as caught:
        load_playbooks(folder)
    message = str(caught.value)
    assert "us-wa.yaml" in message
    assert "audiences[1].recipient: Field required" in message
    assert "regulater: Extra inputs are not permitted" in message


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    folder = copy_playbooks(tmp_path)
    (folder / "us-ma.yaml").write_text("id: us-ma\nname: [unclosed\nregulator: x\n", encoding="utf-8")
    with pytest.raises(PlaybookError, match=r"us-ma\.yaml:\d+: YAML syntax error"):
        load_playbooks(folder)


def test_id_must_match_file_name(tmp_path: Path) -> None:
    folder = copy_playbooks(tmp_path)
    shutil.copy(folder / "us-ca.yaml", folder / "us-ca-copy.yaml")
    with pytest.raises(PlaybookError, match=r"us-ca-copy\.yaml:\d+: id: 'us-ca' must equal the file name"):
        load_playbooks(folder)


def test_reference_to_unknown_regime_is_an_error(tmp_path: Path) -> None:
    folder = copy_playbooks(tmp_path)
    (folder / "us-hipaa.yaml").unlink()
    with pytest.raises(PlaybookError) as caught:
        load_playbooks(folder)
    assert "us-ny.yaml: audiences[0].deemed_satisfied_by[0].by: unknown regime 'us-hipaa'" in str(caught.value)


def test_unknown_holiday_calendar_and_time_zone(tmp_path: Path) -> None:
    folder = copy_playbooks(tmp_path)
    path = folder / "us-fl.yaml"
    text = path.read_text(encoding="utf-8").replace("America/New_York", "America/Atlantis")
    path.write_text(text.replace("holidays_subdivision: FL", "holidays_subdivision: ZZ"), encoding="utf-8")
    with pytest.raises(PlaybookError) as caught:
        load_playbooks(folder)
    assert "calendar.timezone: Value error, unknown IANA time zone 'America/Atlantis'" in str(caught.value)


def test_assess_refuses_broken_playbooks(tmp_path: Path) -> None:
    folder = copy_playbooks(tmp_path)
    (folder / "eu-gdpr.yaml").write_text("id: eu-gdpr\n", encoding="utf-8")
    incident = tmp_path / "incident.yaml"
    incident.write_text(yaml.safe_dump(INCIDENT), encoding="utf-8")
    result = CliRunner().invoke(assess_command, [str(incident), "--playbooks", str(folder)])
    assert result.exit_code == 1
    assert "eu-gdpr.yaml" in result.output and "calendar: Field required" in result.output


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"aware_at": None}, "aware_at: Input should be a valid datetime"),
        ({"aware_at": "2026-03-02T09:00:00"}, "aware_at: Value error, datetime must include a UTC offset"),
        ({"subjects": {"cuont": 3}}, "subjects.cuont: Extra inputs are not permitted"),
        ({"data_categories": ["name", "shoe_size"]}, "data_categories[1]: Input should be"),
    ],
)
def test_invalid_incident_exits_2_naming_the_field(tmp_path: Path, change: dict[str, object], expected: str) -> None:
    incident = tmp_path / "incident.json"
    incident.write_text(json.dumps({**INCIDENT, **change}), encoding="utf-8")
    result = CliRunner().invoke(assess_command, [str(incident), "--format", "json"])
    assert result.exit_code == 2
    assert expected in result.output


def test_incident_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    incident = tmp_path / "incident.yaml"
    incident.write_text("title: x\naware_at: [\n", encoding="utf-8")
    result = CliRunner().invoke(assess_command, [str(incident)])
    assert result.exit_code == 2
    assert "incident.yaml:3: invalid YAML" in result.output


def test_bad_at_option_exits_2(tmp_path: Path) -> None:
    incident = tmp_path / "incident.yaml"
    incident.write_text(yaml.safe_dump(INCIDENT), encoding="utf-8")
    result = CliRunner().invoke(assess_command, [str(incident), "--at", "yesterday"])
    assert result.exit_code == 2
    assert "--at" in result.output


def test_json_and_yaml_files_give_the_same_decision(tmp_path: Path) -> None:
    as_json, as_yaml = tmp_path / "i.json", tmp_path / "i.yaml"
    as_json.write_text(json.dumps(INCIDENT), encoding="utf-8")
    as_yaml.write_text(yaml.safe_dump(INCIDENT), encoding="utf-8")
    assert read_incident_file(as_json) == read_incident_file(as_yaml)
    outputs = [
        CliRunner().invoke(assess_command, [str(p), "--format", "json", "--at", "2026-03-02T10:00:00Z"]).stdout
        for p in (as_json, as_yaml)
    ]
    assert outputs[0] == outputs[1]
    regulator = next(o for o in json.loads(outputs[0])["obligations"] if o["audience"] == "regulator")
    assert regulator["required"] is True and regulator["due_at"] == "2026-03-05T08:00:00Z"


def test_table_format_lists_obligations_and_severity(tmp_path: Path) -> None:
    incident = tmp_path / "incident.yaml"
    incident.write_text(yaml.safe_dump(INCIDENT), encoding="utf-8")
    result = CliRunner().invoke(assess_command, [str(incident), "--format", "table", "--at", "2026-03-02T10:00:00Z"])
    assert result.exit_code == 0, result.output
    assert "eu-gdpr" in result.output and "internal_record" in result.output
    assert "ENISA-2013" in result.output


@pytest.mark.parametrize("command", [["serve"], ["scheduler"], ["obligations", "list", "1"]])
def test_start_up_with_a_broken_playbook_prints_the_problems_and_exits_1(tmp_path: Path, command: list[str]) -> None:
    """The real console script, as an operator runs it: one ``file:line: field: reason`` line per problem on
    stderr, no traceback, exit status 1, nothing served."""
    import os
    import subprocess
    import sys

    folder = copy_playbooks(tmp_path)
    path = folder / "us-tx.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('operator: ">="', 'operator: "=>"', 1), encoding="utf-8")
    (folder / "us-fl.yaml").write_text((folder / "us-fl.yaml").read_text(encoding="utf-8").replace(
        "\nregulator:", "\nregulatr:", 1), encoding="utf-8")
    expected = _problems(folder)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if 'operator: ">="' in row)
    assert len(expected) == 3 and f"us-tx.yaml:{line}: audiences[1].threshold.operator" in expected[2]
    env = dict(os.environ, BREACH_NOTIFY_PLAYBOOKS=str(folder), BREACH_NOTIFY_INSTANCE=str(tmp_path / "instance"),
               DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite'}")
    script = Path(sys.executable).with_name("breach-notify")
    done = subprocess.run([str(script), *command], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert done.stderr.splitlines() == expected and done.stdout == ""


def _problems(folder: Path) -> list[str]:
    with pytest.raises(PlaybookError) as caught:
        load_playbooks(folder)
    return caught.value.problems
