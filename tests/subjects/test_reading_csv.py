"""CSV reading: delimiters, embedded newlines with right line numbers, ragged rows, text-only values."""

from pathlib import Path

import pytest

from app.subjects import RawRow, Rejection, open_subject_file
from app.subjects.errors import SubjectFileError


def write(tmp_path: Path, text: str, name: str = "subjects.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_semicolon_delimiter(tmp_path: Path) -> None:
    path = write(tmp_path, "external_id;email;city\n1;a@mail.de;Berlin, Mitte\n2;b@mail.de;Köln\n")
    reader = open_subject_file(path)
    assert reader.delimiter == ";"
    assert list(reader) == [
        RawRow(2, {"external_id": "1", "email": "a@mail.de", "city": "Berlin, Mitte"}),
        RawRow(3, {"external_id": "2", "email": "b@mail.de", "city": "Köln"}),
    ]


def test_tab_delimiter(tmp_path: Path) -> None:
    path = write(tmp_path, "external_id\temail\tfull_name\n7\tx@mail.de\tAnn; Lee\n", "subjects.tsv")
    reader = open_subject_file(path)
    assert reader.delimiter == "\t"
    assert list(reader) == [RawRow(2, {"external_id": "7", "email": "x@mail.de", "full_name": "Ann; Lee"})]


def test_comma_delimiter_with_quoted_commas(tmp_path: Path) -> None:
    path = write(tmp_path, 'email,address_line1,city\nc@mail.de,"1 Main St, Apt 2",Springfield\n')
    reader = open_subject_file(path)
    assert reader.delimiter == ","
    assert list(reader) == [RawRow(2, {"email": "c@mail.de", "address_line1": "1 Main St, Apt 2",
                                       "city": "Springfield"})]


def test_embedded_newlines_keep_physical_line_numbers(tmp_path: Path) -> None:
    text = ('external_id,email,address_line1\n'
            '1,a@mail.de,"Flat 3\nHigh Street\n"\n'
            '2,b@mail.de,plain\n'
            '3,c@mail.de,"two\r\nlines"\n'
            '4,d@mail.de,last\n')
    items = list(open_subject_file(write(tmp_path, text)))
    assert [item.line for item in items] == [2, 5, 6, 8]
    first = items[0]
    assert isinstance(first, RawRow)
    assert first.values["address_line1"] == "Flat 3\nHigh Street\n"


def test_ragged_rows_are_rejected_per_line_without_crashing(tmp_path: Path) -> None:
    text = ("external_id,email,phone\n1,a@mail.de,+4930123456\n2,b@mail.de\n"
            "3,c@mail.de,+4930123457,extra\n4,d@mail.de,\n")
    items = list(open_subject_file(write(tmp_path, text)))
    rejections = [item for item in items if isinstance(item, Rejection)]
    assert [(r.line, r.reason) for r in rejections] == [
        (3, "ragged row: expected 3 fields, found 2"),
        (4, "ragged row: expected 3 fields, found 4"),
    ]
    assert [item.line for item in items if isinstance(item, RawRow)] == [2, 5]
    assert rejections[0].issues[0].column is None


def test_trailing_empty_fields_and_blank_lines_are_tolerated(tmp_path: Path) -> None:
    text = "external_id,email\n1,a@mail.de,,\n\n2,b@mail.de\n"
    items = list(open_subject_file(write(tmp_path, text)))
    assert items == [RawRow(2, {"external_id": "1", "email": "a@mail.de"}),
                     RawRow(4, {"external_id": "2", "email": "b@mail.de"})]


def test_phone_and_postal_code_stay_text_with_leading_zeros(tmp_path: Path) -> None:
    path = write(tmp_path, "phone,postal_code,country\n0049301234567,01067,DE\n")
    assert list(open_subject_file(path)) == [
        RawRow(2, {"phone": "0049301234567", "postal_code": "01067", "country": "DE"})
    ]


def test_unmapped_columns_are_listed_and_ignored(tmp_path: Path) -> None:
    reader = open_subject_file(write(tmp_path, "email,notes\na@mail.de,VIP\n"))
    assert reader.header_map.unmapped == ("notes",)
    assert list(reader) == [RawRow(2, {"email": "a@mail.de"})]


def test_reader_streams_and_can_be_iterated_twice(tmp_path: Path) -> None:
    path = write(tmp_path, "email\n" + "".join(f"p{i}@mail.de\n" for i in range(100)))
    reader = open_subject_file(path)
    first = iter(reader)
    assert next(first) == RawRow(2, {"email": "p0@mail.de"})
    assert sum(1 for _ in reader) == 100


def test_a_stray_opening_quote_that_swallows_records_stops_the_file(tmp_path: Path) -> None:
    """Row 3's unclosed quote made the reader take rows 4-11 into its name, up to the quote in row 12, and
    join row 3's id to row 12's contacts. The file is refused, naming the lines; nothing silently vanishes."""
    rows = [f"{i},Person {i},p{i}@example.com,+4915112340{i:03d},DE" for i in range(1, 15)]
    rows[2] = '3,"Smith, John,p3@example.com,+4915112340003,DE'
    rows[10] = '11,Bob "the builder" Jones,p11@example.com,+4915112340011,DE'
    path = write(tmp_path, "external_id,full_name,email,phone,country\n" + "\n".join(rows) + "\n")
    with pytest.raises(SubjectFileError, match=r"^line 4: a quoted field runs on to line 12 .*opening quote"):
        list(open_subject_file(path))
    body = 'email,full_name,country\na@example.com,"Ann,DE\nb@example.com,Bob,DE\nc@example.com,Cy,DE\n'
    unterminated = write(tmp_path, body, "open.csv")
    with pytest.raises(SubjectFileError, match=r"^line 2: a quoted field runs on to line 4"):
        list(open_subject_file(unterminated))


def test_a_value_on_several_lines_is_still_read(tmp_path: Path) -> None:
    path = write(tmp_path, 'email,address_line1,city\na@example.com,"1 Main St\nFlat 2, rear",Springfield\n')
    assert list(open_subject_file(path)) == [
        RawRow(2, {"email": "a@example.com", "address_line1": "1 Main St\nFlat 2, rear", "city": "Springfield"})]
