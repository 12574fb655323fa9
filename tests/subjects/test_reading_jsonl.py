"""JSONL subject files: detection, text-only values, bad lines reported per line."""

import json
from pathlib import Path

import pytest

from app.subjects import RawRow, Rejection, SubjectFileError, open_subject_file


def test_jsonl_rows_with_synonym_keys_and_nested_values(tmp_path: Path) -> None:
    push = {"endpoint": "https://push.example.net/x", "keys": {"p256dh": "k", "auth": "a"}}
    lines = [
        json.dumps({"id": "A-1", "E-Mail": "a@mail.de", "Mobile": 4.47e11, "zip": "01067",
                    "data_categories": ["contact", "health"], "push": push, "notes": "x"}),
        "",
        json.dumps({"id": "A-2", "email": "b@mail.de", "phone": None}),
    ]
    path = tmp_path / "subjects.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    reader = open_subject_file(path)
    assert reader.format == "jsonl"
    items = list(reader)
    assert items[0] == RawRow(1, {
        "external_id": "A-1", "email": "a@mail.de", "phone": "447000000000.0", "postal_code": "01067",
        "data_categories": "contact;health",
        "push_subscription": json.dumps(push, separators=(",", ":"), sort_keys=True),
    })
    assert items[1] == RawRow(3, {"external_id": "A-2", "email": "b@mail.de"})


def test_jsonl_numbers_keep_their_source_text(tmp_path: Path) -> None:
    path = tmp_path / "subjects.ndjson"
    path.write_text('{"phone": 4.47E+11, "external_id": 00012}\n{"phone": 12345}\n', encoding="utf-8")
    items = list(open_subject_file(path))
    assert isinstance(items[0], Rejection)  # 00012 is not valid JSON: reported, not guessed
    assert items[1] == RawRow(2, {"phone": "12345"})
    path.write_text('{"phone": 4.47E+11}\n', encoding="utf-8")
    assert list(open_subject_file(path)) == [RawRow(1, {"phone": "4.47E+11"})]


def test_bad_jsonl_lines_are_rejected_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "subjects.jsonl"
    path.write_text('{"email": "a@mail.de"}\n{"email": \n[1, 2]\n{"email": "b@mail.de", "e-mail": "c@mail.de"}\n'
                    '{"email": "d@mail.de", "email": "e@mail.de"}\n', encoding="utf-8")
    items = list(open_subject_file(path))
    assert items[0] == RawRow(1, {"email": "a@mail.de"})
    reasons = [(item.line, item.reason) for item in items if isinstance(item, Rejection)]
    assert reasons == [
        (2, "invalid JSON"),
        (3, "not a JSON object"),
        (4, "keys 'email' and 'e-mail' both map to column 'email'"),
        (5, "duplicate key 'email'"),
    ]


def test_json_content_detected_without_extension(tmp_path: Path) -> None:
    path = tmp_path / "export.txt"
    path.write_text('{"email": "a@mail.de"}\n', encoding="utf-8")
    assert open_subject_file(path).format == "jsonl"


def test_json_array_is_rejected_up_front(tmp_path: Path) -> None:
    path = tmp_path / "subjects.json"
    path.write_text('[{"email": "a@mail.de"}]', encoding="utf-8")
    with pytest.raises(SubjectFileError, match="JSON array"):
        open_subject_file(path)


def test_jsonl_without_contact_keys_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "subjects.jsonl"
    path.write_text('{"id": "1", "name": "Ann"}\n', encoding="utf-8")
    with pytest.raises(SubjectFileError, match="no contact column"):
        open_subject_file(path)
