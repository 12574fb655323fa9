"""Encodings: UTF-8 with/without BOM, Windows-1252, late non-ASCII, undecodable bytes."""

from pathlib import Path

import pytest

from app.subjects import RawRow, SubjectFileError, open_subject_file


def rows(path: Path) -> list[RawRow]:
    return [item for item in open_subject_file(path) if isinstance(item, RawRow)]


def test_utf8_bom_does_not_stick_to_first_header(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffexternal_id,email\nA1,a@mail.de\n".encode())
    reader = open_subject_file(path)
    assert reader.encoding == "utf-8-sig"
    assert reader.headers == ("external_id", "email")
    assert rows(path) == [RawRow(2, {"external_id": "A1", "email": "a@mail.de"})]


def test_utf8_without_bom(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("full_name,email\nJosé Ærø,j@mail.de\n", encoding="utf-8")
    assert open_subject_file(path).encoding == "utf-8"
    assert rows(path)[0].values["full_name"] == "José Ærø"


def test_cp1252_file_with_accents_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "legacy.csv"
    text = ("full_name;email;city\nJosé Müller;jose@mail.de;Köln\nZoë Ærø;z@mail.fr;Besançon\n"
            "François €;f@mail.fr;Zürich\n")
    path.write_bytes(text.encode("cp1252"))
    reader = open_subject_file(path)
    assert reader.encoding == "cp1252"
    names = [row.values["full_name"] for row in rows(path)]
    assert names == ["José Müller", "Zoë Ærø", "François €"]
    assert [row.values["city"] for row in rows(path)] == ["Köln", "Besançon", "Zürich"]


def test_latin1_accent_far_beyond_the_sample_is_still_detected(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    filler = "".join(f"{i},person{i}@mail.de,Name {i}\n" for i in range(5000))
    path.write_bytes(("external_id,email,full_name\n" + filler + "9999,x@mail.de,Renée Çelik\n").encode("cp1252"))
    assert path.stat().st_size > 128 * 1024
    assert open_subject_file(path).encoding == "cp1252"
    assert rows(path)[-1].values["full_name"] == "Renée Çelik"


def test_late_utf8_accent_stays_utf8(tmp_path: Path) -> None:
    path = tmp_path / "late-utf8.csv"
    filler = "".join(f"{i},person{i}@mail.de\n" for i in range(5000))
    path.write_text("external_id,email\n" + filler + "9999,renée@mail.de\n", encoding="utf-8")
    assert open_subject_file(path).encoding == "utf-8"
    assert rows(path)[-1].values["email"] == "renée@mail.de"


def test_empty_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(SubjectFileError, match="empty"):
        open_subject_file(path)


def test_utf8_file_with_one_foreign_byte_is_refused_by_its_line(tmp_path: Path) -> None:
    """3,000 UTF-8 rows with accents and one stray byte were read as ISO 8859-10: every 'Renée' garbled, unsaid."""
    rows = "".join(f"{i},Renée{i},u{i}@example.com\n" for i in range(3000))
    path = tmp_path / "mixed.csv"
    path.write_bytes(("external_id,full_name,email\n" + rows).encode() + b"3000,Ren\xff,x@example.com\n")
    with pytest.raises(SubjectFileError, match=r"^line 3002: a byte that is not UTF-8 .*mixes encodings"):
        open_subject_file(path)
    ascii_then_latin = tmp_path / "latin.csv"  # no UTF-8 text before the byte: a legacy file, read as one
    ascii_then_latin.write_bytes(b"external_id,full_name,email\n1,Ann,a@example.com\n2,Ren\xe9e,r@example.com\n")
    assert open_subject_file(ascii_then_latin).encoding == "cp1252"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_read_as_utf16(tmp_path: Path, encoding: str) -> None:
    """All-ASCII UTF-16 without a BOM is valid UTF-8 full of NULs: it used to be read with NUL-laced headers."""
    path = tmp_path / "export.csv"
    path.write_bytes("external_id,full_name,email\nA1,Zoe Muller,z@mail.de\nA2,Zoë Ærø,ae@mail.de\n".encode(encoding))
    reader = open_subject_file(path)
    assert reader.encoding == encoding
    assert reader.headers == ("external_id", "full_name", "email")
    assert [row.values["full_name"] for row in rows(path)] == ["Zoe Muller", "Zoë Ærø"]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_mostly_chinese_utf16_without_bom_is_read_as_utf16(tmp_path: Path, encoding: str) -> None:
    """黄 is C4 9E in UTF-16LE, valid UTF-8 (Ğ): such a file was refused as damaged UTF-8; names such as 一 hold a
    NUL in the other byte of their unit and made all-ASCII bytes read as UTF-8 with NUL-laced headers."""
    lines = ["full_name,email,address_line1,city,country"]
    lines += [f"{name},h{i}@x.cn,北京市朝阳区建国门外大街一号国贸大厦二十层,北京市,CN"
              for i, name in enumerate(["黄伟", "张三", "刘一", "丁一", "张一一", "王二"] * 3)]
    path = tmp_path / "kunden.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    reader = open_subject_file(path)
    assert reader.encoding == encoding
    assert reader.headers == ("full_name", "email", "address_line1", "city", "country")
    assert [row.values["full_name"] for row in rows(path)][:5] == ["黄伟", "张三", "刘一", "丁一", "张一一"]


def test_utf8_with_stray_nul_bytes_stays_utf8(tmp_path: Path) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes("full_name,email\nAl\x00ice,a@mail.de\nBob\x00,b@mail.de\nZoë,z@mail.de\n".encode())
    assert open_subject_file(path).encoding == "utf-8"
