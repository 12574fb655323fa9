"""The subject import checks its references per chunk, so its bulk writes may run without per-row foreign-key
checks (SQLite's enforcement off for the import's connection, PostgreSQL's row triggers off around each COPY).
These tests hold the guarantees that replace them: missing rows are refused, locked rows cannot be deleted,
enforcement comes back after the import, and a failing multi-row insert leaves nothing. Both databases."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from app.clock import FixedClock
from app.crypto import load_keys
from app.errors import Conflict
from app.incidents import service as incidents
from app.subjects import bulk, service, store
from app.subjects.models import DataSubject, IncidentSubject, SubjectIdentifier
from tests.support import AFTER_LAPTOP, EXAMPLE_INCIDENT
from tests.test_subjects_db import _count

NOW = dt.datetime(2026, 4, 2, 10, 0, tzinfo=dt.UTC)


def _subject(session: Session) -> int:
    """One stored subject (no identifiers), written the way the import writes new people."""
    [sid] = store.insert_new(session, [store.Prepared([], (None, "en", "US-CA", "address", ["name"],
                                                           False, False, False, False))], NOW)
    return sid


def _incident(session: Session) -> int:
    incident = incidents.create(session, clock=FixedClock(AFTER_LAPTOP), actor="test", data=EXAMPLE_INCIDENT)
    assert incident.id is not None
    return incident.id


def _in_substitute_pool(session: Session, incident_id: int, subject_id: int) -> None:
    """A dispatch record referring to ``subject_id``: a finished run's substitute-notice pool entry (flushed)."""
    from app.dispatch.models import DispatchRun, SubstitutePoolEntry

    run = DispatchRun(incident_id=incident_id, state="finished", regime="gdpr", channel_order=["email"], versions={},
                      plan={}, created_by="test", created_at=NOW, updated_at=NOW)
    session.add(run)
    session.flush()
    session.add(SubstitutePoolEntry(run_id=run.id, incident_id=incident_id, subject_id=subject_id, kind="unreachable",
                                    reason="test", added_at=NOW))
    session.flush()


def test_links_to_a_missing_incident_or_subject_are_refused(session: Session) -> None:
    incident_id = _incident(session)
    sid = _subject(session)
    assert store.link(session, incident_id=incident_id, subject_ids=[sid], added_by="test", now=NOW) == 1
    with pytest.raises(Conflict, match=r"data subject 999999 no longer exists"):
        store.link(session, incident_id=incident_id, subject_ids=[sid, 999999], added_by="test", now=NOW)
    session.rollback()
    sid = _subject(session)
    with pytest.raises(Conflict, match=r"incident 424242 no longer exists"):
        store.link(session, incident_id=424242, subject_ids=[sid], added_by="test", now=NOW)
    session.rollback()
    assert _count(session, IncidentSubject) == 0


def test_new_contacts_for_a_subject_that_vanished_are_refused(session: Session) -> None:
    sid = _subject(session)
    contact = ("email", "ab" * 32, 12345, "v1.token", None)
    fields = (None, None, None, "unknown", ["contact"], True, False, False, False)
    store.update_known(session, [(sid, store.Prepared([contact], fields))], NOW)
    assert _count(session, SubjectIdentifier) == 1
    with pytest.raises(Conflict, match="data subject 777777 no longer exists"):
        store.update_known(session, [(777777, store.Prepared([contact], fields))], NOW)
    session.rollback()
    assert _count(session, SubjectIdentifier) == 0


def test_a_merge_never_removes_a_subject_other_records_refer_to(session: Session) -> None:
    """A dispatch record (here the substitute-notice pool) pointing at a subject stops a merge that would delete
    it, with a clear error instead of an orphan (SQLite's enforcement may be off during an import)."""
    incident_id = _incident(session)
    keep, other = _subject(session), _subject(session)
    _in_substitute_pool(session, incident_id, other)
    with pytest.raises(Conflict, match="substitute_pool records refer to one of them"):
        store.merge_subjects(session, keep, [other], NOW)
    session.rollback()


def test_an_import_merging_two_people_keeps_the_one_dispatch_records_refer_to(session: Session,
                                                                              tmp_path: Path) -> None:
    """Two stored people, the later one already in a dispatch run's records; a row naming both (its email is
    one's, its phone the other's) merges them into the referenced one. Keeping the older id, as before, was
    refused."""
    incident_id = _incident(session)
    keys = load_keys(None, tmp_path)

    def run_import(name: str, body: str) -> service.ImportSummary:
        path = tmp_path / name
        path.write_text(body, encoding="utf-8")
        return service.import_file(session, clock=FixedClock(AFTER_LAPTOP), actor="test", path=path, keys=keys,
                                   rejects_dir=tmp_path, incident_id=incident_id)

    run_import("first.csv", "email,phone\na@example.org,\n,+4915112345678\n")
    older, newer = sorted(session.execute(text("SELECT id FROM data_subject")).scalars())
    _in_substitute_pool(session, incident_id, newer)
    session.commit()
    summary = run_import("bridge.csv", "email,phone\na@example.org,+4915112345678\n")
    assert summary.merged_duplicates == 1
    assert list(session.execute(text("SELECT id FROM data_subject")).scalars()) == [newer]
    owners = session.execute(text("SELECT DISTINCT subject_id FROM subject_identifier")).scalars()
    assert list(owners) == [newer]
    assert older != newer


def test_sqlite_enforcement_is_off_only_for_the_import_and_back_after(session: Session, tmp_path: Path) -> None:
    """SQLite: after the call the connection's foreign keys are off; the next transaction has them on again and
    refuses an orphan. With a transaction already open the call cannot turn them off and says so."""
    if bulk.is_postgres(session):
        assert bulk.references_per_chunk(session) is False
        return
    conn = session.connection()
    assert bulk.references_per_chunk(session) is True
    assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
    _subject(session)
    session.commit()
    conn = session.connection()
    assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    with pytest.raises(IntegrityError):
        conn.exec_driver_sql("INSERT INTO incident_subject (incident_id, subject_id, added_by, added_at) "
                             "VALUES (31337, 31337, 'x', '2026-04-02 10:00:00')")
    session.rollback()
    _subject(session)  # a write: the transaction is open
    assert bulk.references_per_chunk(session) is False
    assert session.connection().exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    session.rollback()


def test_an_import_leaves_enforcement_on_and_its_rows_consistent(session: Session, engine: Engine,
                                                                  tmp_path: Path) -> None:
    incident_id = _incident(session)
    session.commit()
    path = tmp_path / "people.csv"
    rows = [f"c{i},p{i}@example.org,+1 415 555 {i:04d},US" for i in range(60)]
    path.write_text("external_id,email,phone,country\n" + "\n".join([*rows, "c1,other1@example.org,,US"]) + "\n",
                    encoding="utf-8")
    summary = service.import_file(session, clock=FixedClock(AFTER_LAPTOP), actor="test", path=path,
                                  keys=load_keys(None, tmp_path), rejects_dir=tmp_path, incident_id=incident_id)
    assert (summary.imported, summary.linked, summary.merged_duplicates) == (60, 60, 1)
    with engine.connect() as conn:
        orphans = conn.execute(text("SELECT count(*) FROM subject_identifier i LEFT JOIN data_subject s "
                                    "ON s.id = i.subject_id WHERE s.id IS NULL")).scalar_one()
        assert orphans == 0
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        else:
            assert conn.execute(text("SELECT current_setting('session_replication_role')")).scalar() == "origin"
    assert _count(session, DataSubject) == 60


def test_two_imports_at_once_store_each_person_once(session: Session, engine: Engine, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The first import has written its people and waits before committing while a second import of the same
    file starts. The second must not look the people up until the first has committed (PostgreSQL: the import's
    advisory lock; SQLite: its write lock): before, each stored every person once, so the registry held them
    twice."""
    incident_id = _incident(session)
    session.commit()
    path = tmp_path / "people.csv"
    path.write_text("external_id,email,phone,country\n" + "".join(
        f"c{i},p{i}@example.org,+1 415 555 {i:04d},US\n" for i in range(40)), encoding="utf-8")
    keys, written, release = load_keys(None, tmp_path), threading.Event(), threading.Event()
    record = service._record

    def first_waits(*args: Any, **kwargs: Any) -> None:
        if not written.is_set():
            written.set()
            assert release.wait(30)
        record(*args, **kwargs)

    monkeypatch.setattr(service, "_record", first_waits)
    summaries: list[service.ImportSummary] = []

    def run() -> None:
        with Session(engine) as own:
            summaries.append(service.import_file(own, clock=FixedClock(AFTER_LAPTOP), actor="test", path=path,
                                                 keys=keys, rejects_dir=tmp_path, incident_id=incident_id))

    first, second = threading.Thread(target=run), threading.Thread(target=run)
    first.start()
    assert written.wait(30)
    second.start()
    second.join(1.0)  # without the lock, the second import finished here
    release.set()
    first.join(30)
    second.join(30)
    assert sorted((s.imported, s.already_known) for s in summaries) == [(0, 40), (40, 0)]
    assert _count(session, DataSubject) == 40 and _count(session, IncidentSubject) == 40


def test_an_import_that_cannot_get_sqlites_write_lock_says_so(session: Session, engine: Engine,
                                                              tmp_path: Path) -> None:
    """SQLite: another writer holds the database past the busy timeout: a Conflict naming the cause, nothing
    written (it was a raw "database is locked" traceback). PostgreSQL waits on the import lock instead."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's single writer lock; PostgreSQL imports wait for each other (test above)")
    incident_id = _incident(session)
    session.commit()
    path = tmp_path / "one.csv"
    path.write_text("email\na@example.org\n", encoding="utf-8")
    with engine.connect() as other:
        other.exec_driver_sql("BEGIN IMMEDIATE")
        session.connection().exec_driver_sql("PRAGMA busy_timeout = 100")
        with pytest.raises(Conflict, match="busy with another write"):
            service.import_file(session, clock=FixedClock(AFTER_LAPTOP), actor="test", path=path,
                                keys=load_keys(None, tmp_path), rejects_dir=tmp_path, incident_id=incident_id)
        other.exec_driver_sql("ROLLBACK")
    assert _count(session, DataSubject) == 0


def test_a_failing_multi_row_insert_rolls_back_the_whole_transaction(session: Session) -> None:
    """SQLite's bulk inserts are ``INSERT OR ROLLBACK`` (no statement journal): a duplicate in a batch undoes
    the transaction, earlier writes included. PostgreSQL's COPY fails the transaction as a whole anyway."""
    sid = _subject(session)
    row = (sid, "email", "cd" * 32, 99, "v1.token", None)
    raw: Any = session.connection().connection.dbapi_connection
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError), match=r"UNIQUE constraint|duplicate key"):
        bulk.write_rows(session, store.IDENTIFIERS, [row, row], columns=store.IDENTIFIER_ROW)  # the driver's error
    if not bulk.is_postgres(session):
        assert raw.in_transaction is False  # SQLite rolled the transaction back itself (OR ROLLBACK, not ABORT)
    session.rollback()
    assert _count(session, DataSubject) == 0 and _count(session, SubjectIdentifier) == 0


def test_postgres_skips_row_triggers_only_when_allowed_and_restores_them(session: Session) -> None:
    if not bulk.is_postgres(session):  # SQLite has no row triggers to skip: the block changes nothing
        with bulk.skipping_row_triggers(session) as skipping:
            assert skipping is False and bulk.may_skip_row_triggers(session) is False
        return
    setting = text("SELECT current_setting('session_replication_role')")
    with bulk.skipping_row_triggers(session) as skipping:
        assert skipping is True  # the test database's role is a superuser
        assert session.execute(setting).scalar() == "replica"
    assert session.execute(setting).scalar() == "origin"
    session.execute(text("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bn_test_plain') "
                         "THEN CREATE ROLE bn_test_plain NOLOGIN; END IF; END $$"))
    session.execute(text("SET LOCAL ROLE bn_test_plain"))
    assert bulk.may_skip_row_triggers(session) is False
    with bulk.skipping_row_triggers(session) as skipping:
        assert skipping is False
        assert session.execute(setting).scalar() == "origin"
    session.rollback()


def test_locked_rows_exist_and_cannot_be_deleted_by_another_transaction(session: Session, engine: Engine) -> None:
    """Both databases: the lock reports which ids exist. PostgreSQL: another transaction's delete waits for the
    lock (SQLite's write transaction excludes every other writer already)."""
    sid = _subject(session)
    session.commit()
    assert bulk.lock_rows(session, store.SUBJECTS, [sid, 888888]) == {sid}
    if not bulk.is_postgres(session):
        session.rollback()
        return
    with engine.connect() as other:
        other.execute(text("SET lock_timeout = '200ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            other.execute(text("DELETE FROM data_subject WHERE id = :id"), {"id": sid})
        other.rollback()
    session.rollback()
    with engine.connect() as other:
        other.execute(text("SET lock_timeout = '200ms'"))
        assert other.execute(text("DELETE FROM data_subject WHERE id = :id"), {"id": sid}).rowcount == 1
        other.commit()
