"""Names given in parts (first/middle/last): header synonyms, mapping, joining into full_name, and the stored
subject after a CSV or JSONL import (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlmodel import Session

from app.subjects import CANONICAL_COLUMNS, NormalisedRow, RawRow, SubjectFileError, match_headers, normalise_row
from app.subjects.models import DataSubject, SubjectIdentifier


@pytest.mark.parametrize(("header", "column"), [
    ("first_name", "given_name"), ("FirstName", "given_name"), ("Given Name", "given_name"),
    ("given-name", "given_name"), ("Forename", "given_name"), ("forenames", "given_name"), ("Vorname", "given_name"),
    ("middle_name", "middle_name"), ("Middle Name", "middle_name"), ("MIDDLE-NAMES", "middle_name"),
    ("last_name", "family_name"), ("LastName", "family_name"), ("Family Name", "family_name"),
    ("family_name", "family_name"), ("Surname", "family_name"), ("Nachname", "family_name"),
])
def test_name_part_headers_match(header: str, column: str) -> None:
    header_map = match_headers(["email", header])
    assert header_map.by_source[header] == column
    assert header_map.unmapped == ()


def test_full_name_and_parts_in_one_file_all_match() -> None:
    header_map = match_headers(["Name", "First Name", "Middle Name", "Last Name", "E-Mail"])
    assert dict(header_map.by_source) == {"Name": "full_name", "First Name": "given_name",
                                          "Middle Name": "middle_name", "Last Name": "family_name",
                                          "E-Mail": "email"}


def test_two_headers_for_one_part_are_rejected() -> None:
    with pytest.raises(SubjectFileError, match=r"'First Name' and 'Forename' both map to column 'given_name'"):
        match_headers(["email", "First Name", "Forename"])


def test_mapping_may_name_the_parts() -> None:
    assert {"given_name", "middle_name", "family_name"} <= set(CANONICAL_COLUMNS)
    header_map = match_headers(["Rufname", "Name", "Mail"], {"given_name": "Rufname", "family_name": "Name",
                                                              "email": "Mail"})
    assert dict(header_map.by_source) == {"Rufname": "given_name", "Name": "family_name", "Mail": "email"}


def _name(values: dict[str, str]) -> str | None:
    row = normalise_row(RawRow(2, {"email": "a@example.org", **values}), default_country=None)
    assert isinstance(row, NormalisedRow)
    assert row.issues == ()
    return row.full_name


@pytest.mark.parametrize(("values", "expected"), [
    ({"given_name": "Ada", "family_name": "Lovelace"}, "Ada Lovelace"),
    ({"given_name": " Ada ", "middle_name": "Augusta  King", "family_name": "Lovelace "}, "Ada Augusta King Lovelace"),
    ({"family_name": "Lovelace"}, "Lovelace"),
    ({"given_name": "Ada"}, "Ada"),
    ({"given_name": "", "middle_name": "  ", "family_name": "Lovelace"}, "Lovelace"),
    ({"full_name": "", "given_name": "Ada", "family_name": "Lovelace"}, "Ada Lovelace"),
    ({"full_name": "  ", "family_name": "Lovelace"}, "Lovelace"),
    ({"full_name": "Countess of Lovelace", "given_name": "Ada", "family_name": "Byron"}, "Countess of Lovelace"),
    ({"given_name": "", "family_name": ""}, None),
    ({}, None),
])
def test_full_name_is_joined_from_parts_only_when_missing(values: dict[str, str], expected: str | None) -> None:
    assert _name(values) == expected


def test_parts_alone_identify_a_row() -> None:
    row = normalise_row(RawRow(3, {"given_name": "Ada", "family_name": "Lovelace"}), default_country=None)
    assert isinstance(row, NormalisedRow) and row.full_name == "Ada Lovelace" and not row.reachable


def _import(runner: FlaskCliRunner, path: Path, *extra: str) -> dict[str, Any]:
    result = runner.invoke(args=["subjects", "import-registry", str(path), "--format", "json", *extra])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output.strip().splitlines()[-1]))


def _stored_names(app: Flask, session: Session) -> dict[str, str | None]:
    """external_id -> decrypted full name of the stored subject."""
    cipher = app.extensions["keys"].cipher()
    pairs = session.execute(select(SubjectIdentifier.value_enc, DataSubject.full_name_enc)
                            .join(DataSubject, DataSubject.id == SubjectIdentifier.subject_id)
                            .where(SubjectIdentifier.kind == "external_id")).all()
    return {cipher.decrypt(ident): cipher.decrypt(name) if name else None for ident, name in pairs}


EXPECTED = {"1": "Ada Lovelace", "2": "Ada Augusta King Lovelace", "3": "Babbage", "4": "Countess of Lovelace",
            "5": "Mary Somerville", "6": None}


def test_csv_with_name_parts(app: Flask, runner: FlaskCliRunner, session: Session, tmp_path: Path) -> None:
    path = tmp_path / "parts.csv"
    path.write_text(
        "Customer ID,Full Name,First Name,Middle Name,Last Name,E-Mail,loyalty tier\n"
        "1,,Ada,,Lovelace,ada@example.org,gold\n"
        "2,,Ada,Augusta  King,Lovelace,augusta@example.org,\n"
        "3,,,,Babbage,cb@example.org,\n"
        "4,Countess of Lovelace,Ada,,Byron,countess@example.org,\n"
        "5,  ,Mary,, Somerville ,mary@example.org,\n"
        "6,,,,,anon@example.org,\n", encoding="utf-8")
    summary = _import(runner, path)
    assert summary["imported"] == 6 and summary["rejected"] == 0 and summary["warnings"] == 0
    assert summary["ignored_columns"] == ["loyalty tier"]
    assert _stored_names(app, session) == EXPECTED


def test_jsonl_with_name_parts(app: Flask, runner: FlaskCliRunner, session: Session, tmp_path: Path) -> None:
    records = [
        {"id": "1", "given_name": "Ada", "family_name": "Lovelace", "email": "ada@example.org", "tier": "gold"},
        {"id": "2", "forename": "Ada", "middle-name": "Augusta King", "surname": "Lovelace",
         "email": "augusta@example.org"},
        {"id": "3", "lastname": "Babbage", "email": "cb@example.org"},
        {"id": "4", "name": "Countess of Lovelace", "firstname": "Ada", "lastname": "Byron",
         "email": "countess@example.org"},
        {"id": "5", "full_name": "", "First Name": "Mary", "Last Name": "Somerville", "email": "mary@example.org"},
        {"id": "6", "first_name": None, "email": "anon@example.org"},
    ]
    path = tmp_path / "parts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    summary = _import(runner, path)
    assert summary["imported"] == 6 and summary["rejected"] == 0
    assert summary["ignored_columns"] == ["tier"]
    assert _stored_names(app, session) == EXPECTED


def test_mapping_file_maps_name_parts(app: Flask, runner: FlaskCliRunner, session: Session, tmp_path: Path) -> None:
    path = tmp_path / "de.csv"
    path.write_text("Kundennr;Rufname;Name;Kontakt\n1;Ada;Lovelace;ada@example.org\n", encoding="utf-8")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("external_id: Kundennr\ngiven_name: Rufname\nfamily_name: Name\nemail: Kontakt\n",
                       encoding="utf-8")
    summary = _import(runner, path, "--mapping", str(mapping))
    assert summary["imported"] == 1 and summary["ignored_columns"] == []
    assert _stored_names(app, session) == {"1": "Ada Lovelace"}
