"""Header matching: synonyms, duplicates, contact columns, mapping files."""

import json
from pathlib import Path

import pytest

from app.subjects import RawRow, SubjectFileError, load_mapping, match_headers, open_subject_file


def test_usual_synonyms_match_ignoring_case_spaces_dashes_underscores() -> None:
    headers = ["Customer ID", "Full-Name", "E-Mail", "Mobile", "Street", "ZIP", "State", "COUNTRY", "Lang",
               "Data_Categories", "Source System"]
    assert dict(match_headers(headers).by_source) == {
        "Customer ID": "external_id", "Full-Name": "full_name", "E-Mail": "email", "Mobile": "phone",
        "Street": "address_line1", "ZIP": "postal_code", "State": "region", "COUNTRY": "country",
        "Lang": "preferred_language", "Data_Categories": "data_categories", "Source System": "source_system",
    }


@pytest.mark.parametrize(("header", "column"), [
    ("Postcode", "postal_code"), ("post_code", "postal_code"), ("Province", "region"), ("e_mail", "email"),
    ("Phone Number", "phone"), ("Address Line 2", "address_line2"), ("push-subscription", "push_subscription"),
])
def test_single_synonyms(header: str, column: str) -> None:
    assert match_headers(["email", header] if column != "email" else [header]).by_source[header] == column


def test_duplicate_header_is_rejected_naming_both() -> None:
    with pytest.raises(SubjectFileError, match=r"duplicate header: 'Email' and 'e-mail'") as info:
        match_headers(["Email", "name", "e-mail"])
    assert info.value.column == "e-mail"


def test_two_synonyms_for_one_column_are_rejected() -> None:
    with pytest.raises(SubjectFileError, match=r"'Mobile' and 'Phone' both map to column 'phone'"):
        match_headers(["email", "Mobile", "Phone"])


def test_file_without_contact_column_is_rejected_up_front(tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    path.write_text("id,name,country\n1,Ann,DE\n", encoding="utf-8")
    with pytest.raises(SubjectFileError, match=r"no contact column found.*'id', 'name', 'country'"):
        open_subject_file(path)


def test_mapping_file_overrides_automatic_match(tmp_path: Path) -> None:
    data = tmp_path / "subjects.csv"
    data.write_text("Kundennummer,Mail privat,Mobile,Phone\n17,a@mail.de,+4915112345678,+4930123456\n",
                    encoding="utf-8")
    mapping_path = tmp_path / "mapping.json"
    mapping_path.write_text(json.dumps({"external_id": "Kundennummer", "email": "mail privat", "phone": "Phone"}),
                            encoding="utf-8")
    reader = open_subject_file(data, mapping=load_mapping(mapping_path))
    assert reader.header_map.unmapped == ("Mobile",)
    assert list(reader) == [RawRow(2, {"external_id": "17", "email": "a@mail.de", "phone": "+4930123456"})]


def test_yaml_mapping_file(tmp_path: Path) -> None:
    mapping_path = tmp_path / "mapping.yaml"
    mapping_path.write_text("email: Kontakt\nregion: Bundesland\n", encoding="utf-8")
    mapping = load_mapping(mapping_path)
    assert mapping == {"email": "Kontakt", "region": "Bundesland"}
    header_map = match_headers(["Kontakt", "Bundesland", "State"], mapping)
    assert dict(header_map.by_source) == {"Kontakt": "email", "Bundesland": "region"}
    assert header_map.unmapped == ("State",)


def test_mapping_errors_name_the_column(tmp_path: Path) -> None:
    with pytest.raises(SubjectFileError, match="unknown column 'mail'"):
        match_headers(["email"], {"mail": "email"})
    with pytest.raises(SubjectFileError, match="'phone' names header 'Handy', which the file does not have"):
        match_headers(["email"], {"phone": "Handy"})
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(SubjectFileError, match=r"bad\.json"):
        load_mapping(bad)


def test_no_folded_header_names_two_columns() -> None:
    from app.subjects.columns import _SYNONYMS, header_key

    owners: dict[str, set[str]] = {}
    for column, names in _SYNONYMS.items():
        for name in (column, *names):
            owners.setdefault(header_key(name), set()).add(column)
    assert {key: cols for key, cols in owners.items() if len(cols) > 1} == {}


def test_a_german_export_with_bom_and_semicolons_keeps_its_contacts(tmp_path: Path) -> None:
    """The headers of a German CRM export (``Telefon``, ``Land``, ``Straße``...) are matched, not ignored."""
    path = tmp_path / "kunden.csv"
    path.write_bytes("\ufeffKundennummer;Vorname;Nachname;E-Mail;Telefon;Straße;PLZ;Ort;Land;Sprache\n"
                     "K1;Jan;Jung;jan@example.de;030 1234567;Invalidenstraße 116;10115;Berlin;DE;de\n"
                     .encode("utf-8"))
    reader = open_subject_file(path)
    assert reader.header_map.unmapped == ("Kundennummer",)
    (row,) = list(reader)
    assert isinstance(row, RawRow)
    assert row.values == {"given_name": "Jan", "family_name": "Jung", "email": "jan@example.de",
                          "phone": "030 1234567", "address_line1": "Invalidenstraße 116", "postal_code": "10115",
                          "city": "Berlin", "country": "DE", "preferred_language": "de"}


def test_a_mapping_file_that_feeds_one_header_to_two_columns_or_is_not_utf8_is_refused(tmp_path: Path) -> None:
    both = tmp_path / "both.yaml"
    both.write_text("email: E\nphone: E\n", encoding="utf-8")
    with pytest.raises(SubjectFileError, match=r"header 'E' is mapped to both email and phone"):
        match_headers(["E"], load_mapping(both))
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("email: Adresse électronique\n".encode("cp1252"))
    with pytest.raises(SubjectFileError, match=r"latin.yaml: not UTF-8 text"):
        load_mapping(latin)


def test_mapping_columns_match_like_headers_and_repeats_are_refused(tmp_path: Path) -> None:
    """``{"E-Mail": ...}`` names the email column as a header "E-Mail" would; a column given twice (two
    spellings, or one JSON key twice, which ``json`` would silently resolve to the last) is refused."""
    header_map = match_headers(["Mail Adresse", "Handy"], {"E-Mail": "Mail Adresse", "PHONE": "handy"})
    assert dict(header_map.by_source) == {"Mail Adresse": "email", "Handy": "phone"}
    with pytest.raises(SubjectFileError, match="mapping gives column 'email' twice") as raised:
        match_headers(["A", "B"], {"email": "A", "Email": "B"})
    assert raised.value.part == "mapping"
    twice = tmp_path / "twice.json"
    twice.write_text('{"email": "A", "email": "B"}', encoding="utf-8")
    with pytest.raises(SubjectFileError, match="mapping gives 'email' more than once"):
        load_mapping(twice)
