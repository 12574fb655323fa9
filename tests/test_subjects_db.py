"""Subject import into the database: summary, merging, idempotence, encryption at rest, jurisdiction counts,
evidence matching, upload limits, and all-or-nothing imports. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select, text
from sqlmodel import Session

from app.clock import FixedClock
from app.subjects import service
from app.subjects.models import DataSubject, IncidentSubject, SubjectIdentifier, SubjectImport, digest_key
from tests.support import AFTER_LAPTOP, EXAMPLE_INCIDENT, bearer

MESSY = (
    "External ID,Full Name,E-Mail,Mobile,Street,City,State,ZIP,Country,Categories,Source\n"
    "c-1,Ann Smith,ANN@Example.COM,(415) 555-0100,1 Main St,San Francisco,California,94105,US,name;health,crm\n"
    "c-2,Bob Jones,bob@example,4.47E+11,,,,,US,name,crm\n"                       # bad email, Excel-damaged phone
    "c-3,Cy Doe,cy@example.org,+1 212 555 0199,2 Broad St,New York,NY,10004,US,name;shoe_size,crm\n"
    "c-4,Di Roe,,,,,,,,name,crm\n"                                                 # unreachable
    "c-5,Ed Poe,ed@example.org,,3 Elm St,Boston,MA,02110,US,name,crm\n"           # leading zero kept
    "c-6,too,few\n"                                                                # ragged
)


def _write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def _incident(client: FlaskClient, user: Any, doc: dict[str, Any] | None = None) -> int:
    response = client.post("/api/incidents", json=doc or EXAMPLE_INCIDENT, headers=bearer(user))
    assert response.status_code == 201
    return int(response.json["id"])


def _import(runner: FlaskCliRunner, incident_id: int, path: Path, *extra: str) -> dict[str, Any]:
    result = runner.invoke(args=["subjects", "import", str(incident_id), str(path), "--format", "json", *extra])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output.strip().splitlines()[-1]))


def _count(session: Session, model: Any) -> int:
    return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_messy_file_summary_and_rejects_report(client: FlaskClient, make_user: Any, runner: FlaskCliRunner,
                                              tmp_path: Path, session: Session) -> None:
    incident_id = _incident(client, make_user("responder"))
    summary = _import(runner, incident_id, _write(tmp_path, "messy.csv", MESSY))
    assert summary["rows_read"] == 6 and summary["rejected"] == 1
    assert summary["imported"] == 5 and summary["linked"] == 5 and summary["merged_duplicates"] == 0
    report = Path(summary["rejects_file"]).read_text().splitlines()
    assert report[0] == "line,column,kind,reason"
    assert any(r.startswith("3,phone,rejected,scientific notation") for r in report)
    assert any(r.startswith("3,email,rejected,invalid email") for r in report)
    assert any(r.startswith("4,data_categories,") for r in report)
    assert any(r.startswith("7,,rejected,") for r in report)  # the ragged row, by its line
    assert "example" not in "\n".join(report).lower()  # reasons never quote contact data
    reach = service.reach(session, incident_id=incident_id)
    assert reach.total == 5 and reach.unreachable == 2  # Bob (both contacts rejected) and Di (none given)
    assert reach.by_jurisdiction == {"US": 1, "US-CA": 1, "US-MA": 1, "US-NY": 1, "unknown": 1}


def test_three_rows_two_systems_become_one_subject(client: FlaskClient, make_user: Any, runner: FlaskCliRunner,
                                                   tmp_path: Path, session: Session) -> None:
    incident_id = _incident(client, make_user("responder"))
    body = ("external_id,full_name,email,phone,country,source_system\n"
            "42,Zoë Ødegård,zoe@example.no,,NO,shop\n"
            "42,Zoë Ødegård,,+47 412 34 567,NO,shop\n"
            "x-9,Zoe Odegard,ZOE@EXAMPLE.NO,,NO,newsletter\n")
    summary = _import(runner, incident_id, _write(tmp_path, "three.csv", body))
    assert summary["imported"] == 1 and summary["merged_duplicates"] == 2
    subject = session.execute(select(DataSubject)).scalar_one()
    kinds = sorted(session.execute(select(SubjectIdentifier.kind).where(
        SubjectIdentifier.subject_id == subject.id)).scalars())
    assert kinds == ["email", "external_id", "external_id", "phone"]
    assert subject.has_email and subject.has_phone and subject.jurisdiction == "NO"


def test_columns_that_map_to_nothing_are_named_in_the_summary(client: FlaskClient, make_user: Any,
                                                               runner: FlaskCliRunner, tmp_path: Path) -> None:
    incident_id = _incident(client, make_user("responder"))
    path = _write(tmp_path, "names.csv",
                  "First Name,Nickname,E-mail,loyalty tier\nAda,Countess,ada@example.org,gold\n")
    summary = _import(runner, incident_id, path)
    assert summary["imported"] == 1 and summary["ignored_columns"] == ["Nickname", "loyalty tier"]
    text_out = runner.invoke(args=["subjects", "import", str(incident_id), str(path)]).output
    assert "ignored columns: Nickname, loyalty tier" in text_out


def test_importing_twice_changes_nothing(client: FlaskClient, make_user: Any, runner: FlaskCliRunner,
                                         tmp_path: Path, session: Session) -> None:
    incident_id = _incident(client, make_user("responder"))
    path = _write(tmp_path, "messy.csv", MESSY)
    _import(runner, incident_id, path)
    before = session.execute(text("SELECT id, updated_at, data_categories FROM data_subject ORDER BY id")).all()
    idents = _count(session, SubjectIdentifier)
    again = _import(runner, incident_id, path)
    assert again["imported"] == 0 and again["linked"] == 0 and again["already_known"] == 5
    session.expire_all()
    assert session.execute(text("SELECT id, updated_at, data_categories FROM data_subject ORDER BY id")).all() == before
    assert _count(session, SubjectIdentifier) == idents


def test_letter_only_rows_are_matched_by_name_and_address(client: FlaskClient, make_user: Any,
                                                         runner: FlaskCliRunner, tmp_path: Path,
                                                         session: Session) -> None:
    """Rows with no external id, email or phone were stored again on every import of the same file."""
    incident_id = _incident(client, make_user("responder"))
    body = ("full_name,address_line1,city,postal_code,country\nAnna Post,1 Main St,Springfield,12345,US\n"
            "Ben Post,1 Main St,Springfield,12345,US\nANNA POST,1 main st,Springfield,12345,US\n")
    first = _import(runner, incident_id, _write(tmp_path, "letters.csv", body))
    assert (first["imported"], first["merged_duplicates"]) == (2, 1)  # Anna twice in the file; Ben shares her home
    again = _import(runner, incident_id, _write(tmp_path, "letters.csv", body))
    assert (again["imported"], again["already_known"]) == (0, 2)
    assert _count(session, DataSubject) == 2 and _count(session, IncidentSubject) == 2
    assert service.reach(session, incident_id=incident_id).unreachable == 0  # both have a postal address


def test_rows_without_contacts_are_matched_again_and_a_country_alone_is_refused(
        client: FlaskClient, make_user: Any, runner: FlaskCliRunner, tmp_path: Path, session: Session) -> None:
    """A name alone, a name with a city, a push subscription alone: stored again on every import of the same
    file (the unreachable count grew each time). A row with only a country identifies no one: refused."""
    from tests.subjects.test_dedupe import PUSH

    incident_id = _incident(client, make_user("responder"))
    other_push = PUSH.replace("/abc", "/xyz")
    body = ("full_name,city,country,push_subscription\nNo Contact Person,,DE,\nCity Person,Lyon,FR,\n"
            f",,,{_csv_cell(PUSH)}\n,,,{_csv_cell(other_push)}\n,,FR,\n")
    first = _import(runner, incident_id, _write(tmp_path, "nc.csv", body))
    assert (first["imported"], first["rejected"]) == (4, 1)  # two devices are two people; the country-only row
    again = _import(runner, incident_id, _write(tmp_path, "nc.csv", body))
    assert (again["imported"], again["already_known"], again["rejected"]) == (0, 4, 1)
    assert _count(session, DataSubject) == 4
    assert service.reach(session, incident_id=incident_id).unreachable == 2
    report = Path(again["rejects_file"]).read_text()
    assert "6,,rejected,\"nothing identifying left: no external_id, name, contact, street or postal code\"" in report


def _csv_cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def test_bridging_row_merges_two_known_subjects(client: FlaskClient, make_user: Any, runner: FlaskCliRunner,
                                                tmp_path: Path, session: Session) -> None:
    incident_id = _incident(client, make_user("responder"))
    _import(runner, incident_id, _write(tmp_path, "a.csv", "email,country\na@example.org,DE\n"))
    _import(runner, incident_id, _write(tmp_path, "b.csv", "phone,country,data_categories\n+49 30 1234567,DE,health\n"))
    assert _count(session, DataSubject) == 2
    bridged = _import(runner, incident_id, _write(tmp_path, "c.csv", "email,phone\na@example.org,+493012345 67\n"))
    assert (bridged["merged_duplicates"], bridged["already_known"]) == (1, 1)  # the registry had them twice
    session.expire_all()
    subjects = session.execute(select(DataSubject)).scalars().all()
    assert len(subjects) == 1 and subjects[0].data_categories == ["health"]
    assert _count(session, IncidentSubject) == 1


def test_a_row_for_a_subject_that_a_later_row_merges_away(client: FlaskClient, make_user: Any,
                                                          runner: FlaskCliRunner, tmp_path: Path,
                                                          session: Session) -> None:
    """Row 1 adds to Bob; row 2 shows Bob and Alice are one person and merges Bob into Alice (the older id).
    Row 1's addition goes to Alice; the import used to fail with "data subject N no longer exists"."""
    incident_id = _incident(client, make_user("responder"))
    _import(runner, incident_id, _write(tmp_path, "a.csv", "external_id,full_name,email,phone,country\n"
                                        "1,Alice A,alice@example.com,+4915112345678,DE\n"
                                        "2,Bob B,bob@example.com,+4915112345679,DE\n"))
    summary = _import(runner, incident_id, _write(tmp_path, "order.csv", "email,phone,data_categories\n"
                                                  "bob@example.com,,health\nalice@example.com,+4915112345679,\n"))
    assert (summary["imported"], summary["merged_duplicates"], summary["already_known"]) == (0, 1, 2)
    session.expire_all()
    [alice] = session.execute(select(DataSubject)).scalars().all()
    assert alice.data_categories == ["health"]
    kinds = session.execute(select(SubjectIdentifier.kind).where(SubjectIdentifier.subject_id == alice.id)).scalars()
    assert sorted(kinds) == ["email", "email", "external_id", "external_id", "phone", "phone"]
    assert _count(session, IncidentSubject) == 1


def test_a_later_import_adds_to_a_known_subject(app: Flask, client: FlaskClient, make_user: Any,
                                                runner: FlaskCliRunner, tmp_path: Path, session: Session) -> None:
    """A known person's name, phone, categories and a stronger jurisdiction come from a later file; what the
    first file gave stays."""
    incident_id = _incident(client, make_user("responder"))
    _import(runner, incident_id, _write(tmp_path, "a.csv", "email,data_categories\nkim@example.org,contact\n"))
    [sid] = session.execute(text("SELECT id FROM data_subject")).scalars()
    second = _import(runner, incident_id, _write(
        tmp_path, "b.csv", "full_name,email,phone,city,region,country,data_categories\n"
                           "Kim Lee,KIM@example.org,+1 415 555 0100,San Francisco,CA,US,health\n"))
    assert (second["imported"], second["already_known"]) == (0, 1)
    session.expire_all()
    subject = session.get(DataSubject, sid)
    assert subject is not None
    assert (subject.jurisdiction, subject.jurisdiction_source) == ("US-CA", "address")
    assert subject.data_categories == ["contact", "health"]
    assert (subject.has_email, subject.has_phone, subject.has_postal) == (True, True, False)
    with app.app_context():
        assert app.extensions["keys"].cipher().decrypt(subject.full_name_enc or "") == "Kim Lee"
    stored = session.execute(select(SubjectIdentifier.kind, SubjectIdentifier.usable)
                             .where(SubjectIdentifier.subject_id == sid)).all()
    assert sorted(stored) == [("address", True), ("email", True), ("phone", True)]  # usable: the statement's default


def test_a_row_bridging_two_people_of_the_same_import_is_counted_once(
        app: Flask, client: FlaskClient, make_user: Any, tmp_path: Path, session: Session,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows 1 and 2 land in the first chunk as two people; row 3 (second chunk) shows they are one."""
    monkeypatch.setattr(service, "CHUNK_ROWS", 2)
    incident_id = _incident(client, make_user("responder"))
    path = _write(tmp_path, "bridge.csv", "email,phone,country\na@example.org,,DE\n,+49 30 1234567,DE\n"
                                          "a@example.org,+49 30 1234567,DE\nb@example.org,,DE\n")
    with app.app_context():
        summary = service.import_file(session, clock=app.extensions["clock"], actor="t", path=path,
                                      keys=app.extensions["keys"], rejects_dir=tmp_path / "rejects",
                                      incident_id=incident_id)
    assert (summary.rows_read, summary.imported, summary.merged_duplicates, summary.already_known,
            summary.linked) == (4, 2, 2, 0, 2)
    session.expire_all()
    assert _count(session, DataSubject) == 2 and _count(session, IncidentSubject) == 2


def test_no_plaintext_contact_data_in_the_database(client: FlaskClient, make_user: Any, runner: FlaskCliRunner,
                                                   tmp_path: Path, session: Session, app: Flask) -> None:
    incident_id = _incident(client, make_user("responder"))
    _import(runner, incident_id, _write(tmp_path, "messy.csv", MESSY))
    secrets = ["ann@example.com", "cy@example.org", "+14155550100", "4155550100", "Ann Smith", "1 Main St"]
    dump = "\n".join(str(row) for table in ("data_subject", "subject_identifier", "audit_event", "timeline_entry")
                     for row in session.execute(text(f"SELECT * FROM {table}")).all())
    if app.config["DATABASE_URL"].startswith("sqlite"):
        dump += Path(app.config["DATABASE_URL"].removeprefix("sqlite:///")).read_bytes().decode("latin-1")
    for secret in secrets:
        assert secret.lower() not in dump.lower(), secret
    stored = session.execute(select(SubjectIdentifier).where(SubjectIdentifier.kind == "email")).scalars().all()
    cipher = app.extensions["keys"].cipher()
    assert sorted(cipher.decrypt(item.value_enc) for item in stored) == [
        "ANN@example.com", "cy@example.org", "ed@example.org"]  # readable with the key; domain lower-cased


def test_imported_jurisdictions_drive_obligations(client: FlaskClient, make_user: Any, runner: FlaskCliRunner,
                                                  tmp_path: Path, clock: FixedClock) -> None:
    user = make_user("responder")
    clock.set(AFTER_LAPTOP)  # filed after its discovery
    doc = {"title": "Lost laptop", "aware_at": "2026-04-01T09:00:00-07:00", "cause": "loss",
           "controller": {"name": "Clinic", "establishment": "US-CA", "sector": "health", "hipaa_covered_entity": True},
           "confidentiality": {"affected": True, "recipients": "unknown", "exfiltrated": "unknown"},
           "data_categories": ["name", "health"], "subjects": {"count": 10, "by_jurisdiction": {}}}
    incident_id = _incident(client, user, doc)
    rows = "".join(f"p{i},p{i}@example.org,US,CA,name;health\n" for i in range(501))
    _import(runner, incident_id, _write(tmp_path, "ca.csv", "external_id,email,country,state,data_categories\n" + rows))
    obligations = client.get(f"/api/incidents/{incident_id}/obligations", headers=bearer(user)).json["obligations"]
    media = next(o for o in obligations if (o["regime"], o["audience"], o["part"]) == ("us-hipaa", "media", ""))
    assert media["required"] and media["status"] == "due"  # more than 500 residents of California
    assert any(o["regime"] == "us-ca" and o["required"] for o in obligations)


def test_header_problems_leave_the_database_untouched(client: FlaskClient, make_user: Any, runner: FlaskCliRunner,
                                                      tmp_path: Path, session: Session) -> None:
    incident_id = _incident(client, make_user("responder"))
    dup = runner.invoke(args=["subjects", "import", str(incident_id), str(_write(tmp_path, "d.csv",
                                                                               "Email,E-mail\na@b.de,c@d.de\n"))])
    assert dup.exit_code == 2 and "duplicate" in dup.output.lower()
    none = runner.invoke(args=["subjects", "import", str(incident_id), str(_write(tmp_path, "n.csv",
                                                                                "id,name\n1,Ann\n"))])
    assert none.exit_code == 2 and "contact" in none.output
    assert _count(session, SubjectImport) == 0 and _count(session, DataSubject) == 0


def test_failure_part_way_stores_nothing(app: Flask, client: FlaskClient, make_user: Any, tmp_path: Path,
                                         session: Session) -> None:
    incident_id = _incident(client, make_user("responder"))
    rows = "".join(f"x{i}@example.org\n" for i in range(12000))
    path = _write(tmp_path, "big.csv", "email\n" + rows)

    def crash_after_first_chunk(done: int) -> None:
        raise KeyboardInterrupt("operator pressed Ctrl+C")

    with app.app_context(), pytest.raises(KeyboardInterrupt):
        service.import_file(session, clock=app.extensions["clock"], actor="t", path=path, keys=app.extensions["keys"],
                            rejects_dir=tmp_path / "rejects", incident_id=incident_id,
                            progress=crash_after_first_chunk)
    session.expire_all()
    assert _count(session, DataSubject) == 0 and _count(session, SubjectImport) == 0
    assert list((tmp_path / "rejects").glob("*.csv")) == []


def test_identify_from_evidence_and_source_system(client: FlaskClient, make_user: Any, runner: FlaskCliRunner,
                                                  tmp_path: Path, session: Session) -> None:
    user = make_user("responder")
    registry = ("external_id,email,phone,country,source_system\n"
                "1,a@example.org,+4930111111,DE,billing\n2,b@example.org,+4930222222,DE,billing\n"
                "3,c@example.org,,DE,hr\n")
    result = runner.invoke(args=["subjects", "import-registry", str(_write(tmp_path, "reg.csv", registry)),
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    incident_id = _incident(client, user)
    leaked = _write(tmp_path, "leak.csv", "Email Address\nA@EXAMPLE.ORG\nnobody@example.org\nnot-an-email\n")
    out = runner.invoke(args=["subjects", "identify", str(incident_id), str(leaked), "--key", "email"])
    assert json.loads(out.output) == {"records": 3, "matched": 1, "unmatched": 1, "invalid": 1, "linked": 1}
    phones = _write(tmp_path, "phones.jsonl", '{"phone": "030 222222"}\n')
    out = runner.invoke(args=["subjects", "identify", str(incident_id), str(phones), "--key", "phone",
                              "--default-country", "DE"])
    assert json.loads(out.output)["matched"] == 1
    out = runner.invoke(args=["subjects", "identify", str(incident_id), "--source-system", "hr"])
    assert "selected 1 subject from hr: 1 newly linked" in out.output
    assert service.reach(session, incident_id=incident_id).total == 3


def test_source_systems_reach_rows_without_external_ids_and_scope_evidence(
        client: FlaskClient, make_user: Any, runner: FlaskCliRunner, tmp_path: Path, session: Session) -> None:
    """A system's rows without an external id are selected by it too; evidence of bare external ids is matched
    within ``--source-system``; a JSONL line that is not an object is refused by its record number."""
    registry = ("external_id,email,phone,source_system\n,s1@example.com,,billing\n,,+4915112345678,billing\n"
                "C1,c1@example.com,,crm\n")
    result = runner.invoke(args=["subjects", "import-registry", str(_write(tmp_path, "reg.csv", registry))])
    assert result.exit_code == 0, result.output
    incident_id = _incident(client, make_user("responder"))
    out = runner.invoke(args=["subjects", "identify", str(incident_id), "--source-system", " Billing"])
    assert "selected 2 subjects from Billing: 2 newly linked" in out.output  # case and outer spaces ignored
    out = runner.invoke(args=["subjects", "identify", str(incident_id), "--source-system", "billing"])
    assert "selected 2 subjects from billing: 0 newly linked" in out.output  # linked before
    out = runner.invoke(args=["subjects", "identify", str(incident_id), "--source-system", "biling"])
    assert out.exit_code != 0
    assert "no subject in the registry comes from source system 'biling'; known systems: billing, crm" in out.output
    ids = _write(tmp_path, "ids.csv", "external_id\nC1\nC2\n")
    out = runner.invoke(args=["subjects", "identify", str(incident_id), str(ids), "--key", "external_id"])
    assert json.loads(out.output)["matched"] == 0  # an external id means nothing without its system
    out = runner.invoke(args=["subjects", "identify", str(incident_id), str(ids), "--key", "external_id",
                              "--source-system", "CRM"])
    assert json.loads(out.output) == {"records": 2, "matched": 1, "unmatched": 1, "invalid": 0, "linked": 1}
    out = runner.invoke(args=["subjects", "identify", str(incident_id), str(ids), "--key", "external_id",
                              "--source-system", "CMR"])  # misspelt: it used to match nobody without a word
    assert out.exit_code != 0 and "source system 'CMR'; known systems: billing, crm" in out.output
    out = runner.invoke(args=["subjects", "identify", str(incident_id), str(ids), "--key", "email",
                              "--source-system", "crm"])
    assert out.exit_code != 0 and "--source-system scopes external ids only" in out.output
    out = runner.invoke(args=["subjects", "identify", str(incident_id), str(ids), "--key", "email"])
    assert out.exit_code != 0 and "evidence file has no email column (headers: external_id)" in out.output
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes("email\nzoë@example.com\n".encode() + b"j\xf6rg@example.com\n")
    out = runner.invoke(args=["subjects", "identify", str(incident_id), str(mixed), "--key", "email"])
    assert out.exit_code != 0 and "save the file as UTF-8 and try again" in out.output
    assert "imported" not in out.output  # identify imports nothing; the import's own answer says so
    bad = _write(tmp_path, "bad.jsonl", '{"email": "s1@example.com"}\n[1]\n')
    out = runner.invoke(args=["subjects", "identify", str(incident_id), str(bad), "--key", "email"])
    assert out.exit_code != 0 and "unreadable at record 2: a JSON list, not an object" in out.output


def test_values_a_column_cannot_hold_are_dropped_per_row(client: FlaskClient, make_user: Any,
                                                         runner: FlaskCliRunner, tmp_path: Path,
                                                         session: Session) -> None:
    """A NUL character (PostgreSQL text cannot hold one) or a source system over 100 characters (its column's
    size) used to abort the whole import on PostgreSQL; now the value is dropped and reported by line."""
    incident_id = _incident(client, make_user("responder"))
    body = ("external_id,full_name,email,source_system\n1,Al\x00ice,a@example.com,crm\n"
            f"2,Bob,b@example.com,{'S' * 150}\n3,Cy,c@example.com,cr\x00m\n")
    summary = _import(runner, incident_id, _write(tmp_path, "nul.csv", body))
    assert (summary["imported"], summary["rejected"], summary["warnings"]) == (3, 0, 3)
    report = Path(summary["rejects_file"]).read_text().splitlines()
    assert "2,full_name,rejected,contains a NUL character (binary data?): value dropped" in report
    assert "3,source_system,rejected,longer than 100 characters (150)" in report
    assert "4,source_system,rejected,contains a NUL character (binary data?): value dropped" in report
    names = session.execute(select(DataSubject.full_name_enc)).scalars().all()
    assert sum(name is None for name in names) == 1


def test_a_file_with_a_swallowing_quote_imports_nothing(client: FlaskClient, make_user: Any,
                                                       runner: FlaskCliRunner, tmp_path: Path, session: Session,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The broken record comes after a whole chunk has been written: the import is rolled back, names the lines."""
    monkeypatch.setattr(service, "CHUNK_ROWS", 2)
    incident_id = _incident(client, make_user("responder"))
    rows = [f"{i},p{i}@example.com,DE" for i in range(8)]
    rows[5] = '5,"p5@example.com,DE'
    result = runner.invoke(args=["subjects", "import", str(incident_id), str(_write(
        tmp_path, "quote.csv", "external_id,email,country\n" + "\n".join(rows) + "\n"))])
    assert result.exit_code != 0 and "line 7: a quoted field runs on to line 9" in result.output
    assert _count(session, DataSubject) == 0 and _count(session, SubjectImport) == 0


def test_api_upload_and_size_limit(app: Flask, client: FlaskClient, make_user: Any, session: Session) -> None:
    user = make_user("responder")
    incident_id = _incident(client, user)
    response = client.post(f"/api/incidents/{incident_id}/subjects/import", headers=bearer(user),
                           data={"file": (io.BytesIO(MESSY.encode()), "messy.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    assert response.json["imported"] == 5 and response.json["rejected"] == 1
    report_url = response.json["rejects_file"]  # where to fetch it, not a path on the server
    assert report_url == f"/api/incidents/{incident_id}/subjects/imports/{response.json['import_id']}/rejects.csv"
    report = client.get(report_url, headers=bearer(user))
    assert report.status_code == 200 and report.data.startswith(b"line,column,kind,reason")
    counts = client.get(f"/api/incidents/{incident_id}/subjects", headers=bearer(user)).json
    assert counts["total"] == 5 and counts["unreachable"] == 2
    unknown = client.post(f"/api/incidents/{incident_id}/subjects/import", headers=bearer(user),
                          data={"file": (io.BytesIO(MESSY.encode()), "messy.csv"), "default_country": "XX"},
                          content_type="multipart/form-data")
    assert unknown.status_code == 422 and unknown.json["details"] == [
        {"path": "default_country", "reason": "unknown country"}]
    assert client.get(f"/api/incidents/{incident_id}/subjects", headers=bearer(user)).json["total"] == 5
    misspelt = client.post(f"/api/incidents/{incident_id}/subjects/import", headers=bearer(user),
                           data={"file": (io.BytesIO(MESSY.encode()), "messy.csv"), "default_contry": "US"},
                           content_type="multipart/form-data")
    assert misspelt.status_code == 422 and misspelt.json["details"] == [
        {"path": "default_contry", "reason": "unknown field"}]
    crowded = client.post(f"/api/incidents/{incident_id}/subjects/import", headers=bearer(user),
                          data={"file": (io.BytesIO(MESSY.encode()), "messy.csv"),
                                **{f"x{i}": "1" for i in range(1100)}}, content_type="multipart/form-data")
    assert crowded.status_code == 413 and crowded.json["message"] == "request has more than 1000 form fields"
    twice = client.post(f"/api/incidents/{incident_id}/subjects/import", headers=bearer(user),
                        data={"file": [(io.BytesIO(MESSY.encode()), "a.csv"), (io.BytesIO(MESSY.encode()), "b.csv")]},
                        content_type="multipart/form-data")  # one of them used to be dropped without a word
    assert twice.status_code == 422 and twice.json["details"] == [{"path": "file", "reason": "given more than once"}]
    empty = client.post(f"/api/incidents/{incident_id}/subjects/import", headers=bearer(user),
                        data={"file": (io.BytesIO(b""), "../Patients 2026.CSV")}, content_type="multipart/form-data")
    assert empty.status_code == 422 and empty.json["message"] == "Patients_2026.csv is empty; nothing was imported"
    app.config["UPLOAD_MAX_BYTES"] = 200
    big = client.post(f"/api/incidents/{incident_id}/subjects/import", headers=bearer(user),
                      data={"file": (io.BytesIO(b"email\n" + b"z@example.org\n" * 100), "big.csv")},
                      content_type="multipart/form-data")
    assert big.status_code == 413 and big.json["message"] == "request body over the limit of 200 bytes"
    assert _count(session, SubjectImport) == 1


def test_upload_page_shows_summary_and_rejects_link(app: Flask, client: FlaskClient, make_user: Any) -> None:
    from tests.support import csrf_from, login

    user = make_user("responder")
    incident_id = _incident(client, user)
    login(client, user)
    page_url = f"/incidents/{incident_id}/subjects"
    token = csrf_from(client.get(page_url).get_data(as_text=True))
    app.config["MAX_CONTENT_LENGTH"] = 300  # forms stay small; the upload limit applies to this page
    response = client.post(page_url, data={"csrf_token": token, "file": (io.BytesIO(MESSY.encode()), "m.csv")},
                           content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Import summary" in html
    assert "Unreachable (no usable contact)</th><td><strong>2</strong>" in html
    link = html.split('href="/imports/')[1].split('"')[0]
    report = client.get(f"/imports/{link}")
    assert report.status_code == 200 and report.get_data(as_text=True).startswith("line,column,kind,reason")
    detail = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "US-CA 1" in detail
    refused = client.post(page_url, data={"csrf_token": token, "file": (io.BytesIO(b""), "empty.csv")},
                          content_type="multipart/form-data")
    assert refused.status_code == 422 and "empty.csv is empty" in refused.get_data(as_text=True)


def _bulk_subjects(session: Session, count: int) -> list[int]:
    """``count`` subjects with one email identifier each, written the way the import writes them."""
    from app.subjects import bulk
    from app.subjects.store import IDENTIFIERS, SUBJECTS

    now = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    ids = bulk.allocate_ids(session, SUBJECTS, count)
    bulk.write_rows(session, SUBJECTS, [{"id": sid, "data_categories": ["contact"], "jurisdiction_source": "unknown",
                                         "has_email": True, "created_at": now, "updated_at": now} for sid in ids])
    bulk.write_rows(session, IDENTIFIERS, [{"subject_id": sid, "kind": "email", "digest": _digest(sid),
                                            "digest_key": digest_key("email", _digest(sid)), "value_enc": "v1.x.y",
                                            "source_system": None, "usable": True} for sid in ids])
    return ids


def _digest(number: int) -> str:
    """A blind-index-like digest (32 hex characters, uniformly spread) for a test subject."""
    return hashlib.sha256(str(number).encode()).hexdigest()[:32]


def test_bulk_ids_rows_and_lookups(session: Session) -> None:
    from app.subjects import store

    first = _bulk_subjects(session, 3)
    second = _bulk_subjects(session, 2)
    assert first == sorted(first) and second[0] > first[-1] and len(set(first + second)) == 5
    stored = session.execute(select(DataSubject).where(DataSubject.id == first[1])).scalar_one()
    assert stored.data_categories == ["contact"] and stored.has_email and stored.created_at.tzinfo is not None
    keys = [("email", _digest(sid)) for sid in (*first, *second)]
    keys += [("email", "0" * 32), ("phone", _digest(first[0]))]
    # same 64-bit key as a stored digest, different digest: the whole digest decides
    keys += [("email", _digest(first[1])[:16] + "f" * 16)]
    assert store.lookup(session, keys) == {("email", _digest(sid)): sid for sid in (*first, *second)}
    session.rollback()


def test_import_statistics_let_lookups_use_the_digest_key(session: Session) -> None:
    """Without statistics PostgreSQL planned the blind-index look-up on ``kind`` alone and filtered the digest
    over every identifier of that kind (the superlinear import); after ``Statistics`` the probe is the
    index key, on both databases."""
    from app.subjects import bulk

    ids = _bulk_subjects(session, 3000)
    bulk.Statistics().wrote(session, len(ids))
    probe = ", ".join(str(digest_key("email", _digest(sid))) for sid in ids[:50])
    query = f"SELECT subject_id FROM subject_identifier WHERE kind = 'email' AND digest_key IN ({probe})"
    if bulk.is_postgres(session):
        distinct = session.execute(text("SELECT n_distinct FROM pg_stats WHERE tablename = 'subject_identifier' "
                                        "AND attname = 'digest_key'")).scalar_one()
        assert distinct == -1  # every key distinct, as counted in this uncommitted transaction
        sampled = session.execute(text("SELECT array_length(histogram_bounds, 1) FROM pg_stats WHERE "
                                       "tablename = 'subject_identifier' AND attname = 'digest_key'")).scalar_one()
        assert sampled == bulk.ANALYZE_TARGET + 1  # the small sample, not the default's 101 bounds
        assert session.execute(text("SHOW default_statistics_target")).scalar_one() == "100"  # reset after
        session.execute(text("SET LOCAL enable_seqscan = off"))  # a table this small is cheaper to scan
        plan = "\n".join(session.execute(text(f"EXPLAIN {query}")).scalars())
        assert "ix_subject_identifier_digest_key" in plan, plan
        assert "digest_key" in plan.split("Index Cond", 1)[1].splitlines()[0], plan
    else:
        plan = " ".join(str(row[-1]) for row in session.execute(text(f"EXPLAIN QUERY PLAN {query}")))
        assert "ix_subject_identifier_digest_key (digest_key=?)" in plan, plan
    session.rollback()


def test_import_page_cache_is_set_for_the_import_and_restored(session: Session) -> None:
    """SQLite gets the configured cache while the block runs and its previous size after; PostgreSQL none."""
    from app.subjects import bulk

    conn = session.connection()
    if bulk.is_postgres(session):
        ran = False
        with bulk.page_cache(session, 96):
            ran = True
        assert ran and conn.exec_driver_sql("SELECT 1").scalar() == 1
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    with bulk.page_cache(session, 96):
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -96 * 1024
    assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == before != -96 * 1024
    with bulk.page_cache(session, 0):
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == before


@pytest.mark.parametrize("as_file", [True, False])
def test_api_upload_takes_a_mapping(client: FlaskClient, make_user: Any, session: Session, as_file: bool) -> None:
    """The upload takes the CLI's --mapping as a ``mapping`` part (a JSON/YAML file, or its text); a bad one is
    a 422 naming it, and nothing is imported."""
    user = make_user("responder")
    incident_id = _incident(client, user)
    body = "Kundennummer,Mailadresse\nK1,k1@example.org\nK2,k2@example.org\n"

    def upload(mapping: str) -> Any:  # as a file part, sent with an empty file name (it used to be ignored)
        part = (io.BytesIO(mapping.encode()), "") if as_file else mapping
        return client.post(f"/api/incidents/{incident_id}/subjects/import", headers=bearer(user),
                           data={"file": (io.BytesIO(body.encode()), "kunden.csv"), "mapping": part},
                           content_type="multipart/form-data")

    bad = upload('["external_id"]')
    assert bad.status_code == 422 and bad.json["details"][0]["path"] == "mapping"
    assert "expected an object of column: header strings" in bad.json["message"]
    missing = upload('{"email": "Mail"}')  # a header the file lacks: the mapping is at fault, not the file
    assert missing.status_code == 422 and missing.json["details"][0]["path"] == "mapping"
    assert _count(session, DataSubject) == 0
    good = upload('{"external_id": "Kundennummer", "email": "Mailadresse"}')
    assert good.status_code == 201, good.json
    assert good.json["imported"] == 2 and good.json["rejected"] == 0
    assert good.json["ignored_columns"] == []


def test_api_identify_by_evidence_and_by_source_system(client: FlaskClient, make_user: Any, runner: FlaskCliRunner,
                                                       tmp_path: Path, session: Session) -> None:
    registry = "external_id,email,source_system\n1,a@example.org,CRM\n2,b@example.org,shop\n"
    imported = runner.invoke(args=["subjects", "import-registry", str(_write(tmp_path, "reg.csv", registry))])
    assert imported.exit_code == 0, imported.output
    user = make_user("responder")
    incident_id = _incident(client, user)
    url = f"/api/incidents/{incident_id}/subjects/identify"

    def post(data: dict[str, Any]) -> Any:
        return client.post(url, headers=bearer(user), data=data, content_type="multipart/form-data")

    found = post({"file": (io.BytesIO(b"email\nA@example.org\nz@example.org\n"), "leak.csv"), "key": "email"})
    assert found.status_code == 200 and found.json == {"records": 2, "matched": 1, "unmatched": 1, "invalid": 0,
                                                       "linked": 1}
    nothing = post({"source_system": " "})
    assert nothing.status_code == 422 and nothing.json["message"].startswith("give an evidence file with its key")
    unknown = post({"source_system": "billing"})
    assert unknown.status_code == 422
    assert unknown.json["message"].endswith("known systems: CRM, shop")
    assert post({"source_system": "Shop", "keys": "email"}).json["details"] == [
        {"path": "keys", "reason": "unknown field"}]
    selected = post({"source_system": "Shop"})
    assert selected.status_code == 200 and selected.json == {"selected": 1, "linked": 1}
    assert service.reach(session, incident_id=incident_id).total == 2


def test_source_systems_match_in_any_unicode_form(client: FlaskClient, make_user: Any, runner: FlaskCliRunner,
                                                  tmp_path: Path) -> None:
    """Imports store a system name in NFC; a decomposed é typed or exported elsewhere matched nothing."""
    registry = "external_id,email,source_system\nE1,e1@example.org,\u00e9cole\n"
    assert runner.invoke(args=["subjects", "import-registry", str(_write(tmp_path, "r.csv", registry))]).exit_code == 0
    incident_id = _incident(client, make_user("responder"))
    out = runner.invoke(args=["subjects", "identify", str(incident_id), "--source-system", "E\u0301COLE"])
    assert "selected 1 subject from E\u0301COLE: 1 newly linked" in out.output
    ids = _write(tmp_path, "ids.csv", "external_id,source_system\nE1,e\u0301cole \n")
    out = runner.invoke(args=["subjects", "identify", str(incident_id), str(ids), "--key", "external_id"])
    assert json.loads(out.output)["matched"] == 1
