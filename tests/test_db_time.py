"""Timestamps round-trip as aware UTC on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlmodel import Session

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.clock import FixedClock


def test_aware_non_utc_time_reads_back_as_same_instant_in_utc(session: Session) -> None:
    berlin = dt.timezone(dt.timedelta(hours=1))
    at = dt.datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=berlin)
    event = audit.record(session, clock=FixedClock(at), actor="t", action="x", entity="e", entity_id=1)
    session.commit()
    session.expunge_all()
    loaded = session.get(AuditEvent, event.id)
    assert loaded is not None
    assert loaded.at.tzinfo is not None and loaded.at.utcoffset() == dt.timedelta(0)
    assert loaded.at == at
    assert loaded.at.isoformat() == "2026-03-29T00:30:15.123456+00:00"


def test_stored_value_is_utc_in_the_database_itself(session: Session) -> None:
    at = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
    audit.record(session, clock=FixedClock(at), actor="t", action="x", entity="e", entity_id=1)
    session.commit()
    raw = session.execute(text("SELECT at FROM audit_event")).scalar_one()
    if isinstance(raw, str):  # SQLite keeps text
        assert raw.startswith("2026-07-01 19:00:00")
    else:
        assert raw.astimezone(dt.UTC).hour == 19


def test_naive_datetime_is_refused(session: Session) -> None:
    event = AuditEvent(seq=1, at=dt.datetime(2026, 1, 1), actor="a", action="b", entity="c", entity_id="1",
                       prev_hash="0", hash="0")
    session.add(event)
    with pytest.raises(Exception, match="naive datetime"):
        session.commit()


def test_executemany_stores_what_core_execute_stores(session: Session) -> None:
    """``db.executemany`` (bulk import, dispatch recorder) writes the same stored form as SQLAlchemy's own
    execute: UTC timestamps in SQLAlchemy's text format on SQLite (microseconds always present), JSON and
    booleans through their types, constants bound by the statement itself."""
    from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, bindparam, update

    from app import db

    table = Table("bulk_probe", MetaData(), Column("id", Integer, primary_key=True), Column("tag", String(20)),
                  Column("at", db.UTCDateTime()), Column("flag", Boolean), Column("doc", JSON))
    table.create(session.connection())
    try:
        at = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
        values = {"at": at, "flag": True, "doc": ["name", "health"]}
        session.execute(table.insert(), [{"tag": "core", **values}])
        assert db.executemany(session.connection(), table, [{"tag": f"bulk{i}", **values} for i in range(3)]) == 3
        raw = session.execute(text("SELECT tag, at, flag, doc FROM bulk_probe ORDER BY id")).all()
        assert [tuple(r[1:]) for r in raw] == [tuple(raw[0][1:])] * 4
        if isinstance(raw[0][1], str):
            assert raw[0][1] == "2026-07-01 19:00:00.000000"
        moved = update(table).where(table.c.tag == bindparam("b_tag"), table.c.flag.is_(True)).values(
            at=bindparam("b_at"), doc=None)
        later = at + dt.timedelta(hours=1)
        assert db.executemany(session.connection(), moved, [{"b_tag": "bulk0", "b_at": later},
                                                            {"b_tag": "nobody", "b_at": later}]) == 1
        row = session.execute(table.select().where(table.c.tag == "bulk0")).one()
        assert row.at == later and row.doc is None
        shared, other = ["name"], ["health", "name"]
        mixed = [{"tag": f"mix{i}", "at": at + dt.timedelta(minutes=i % 2), "flag": i % 3 == 0,
                  "doc": (shared, other, ["fresh", str(i)])[i % 3]} for i in range(9)]
        db.executemany(session.connection(), table, mixed)  # each object processed once, even out of order
        stored = session.execute(table.select().where(table.c.tag.like("mix%")).order_by(table.c.id)).all()
        assert [(r.at, r.flag, r.doc) for r in stored] == [(m["at"], m["flag"], m["doc"]) for m in mixed]
        columns = ("doc", "tag", "at", "flag")  # tuple rows, in an order that is not the table's
        db.executemany(session.connection(), table, [(m["doc"], f"tup{i}", m["at"], m["flag"])
                                                     for i, m in enumerate(mixed)], columns=columns)
        as_tuples = session.execute(table.select().where(table.c.tag.like("tup%")).order_by(table.c.id)).all()
        assert [(r.at, r.flag, r.doc) for r in as_tuples] == [(r.at, r.flag, r.doc) for r in stored]
        plain = [(100 + i, f"raw{i}") for i in range(3)]  # nothing to process, the table's order: as given
        assert db.executemany(session.connection(), table, plain, columns=("id", "tag")) == 3
        assert session.execute(text("SELECT id, tag FROM bulk_probe WHERE id >= 100 ORDER BY id")).all() == plain
        with pytest.raises(ValueError, match="naive datetime"):
            db.executemany(session.connection(), table, [{"tag": "x", **values, "at": dt.datetime(2026, 1, 1)}])
    finally:  # DDL is not transactional on SQLite: leave no table behind for the schema test
        session.rollback()
        table.drop(session.connection(), checkfirst=True)
        session.commit()


def test_executemany_inserts_many_rows_per_statement_in_order_and_fails_whole(session: Session) -> None:
    """On SQLite, inserts go out as multi-row ``VALUES`` statements of at most ``SQLITE_ROWS_PER_INSERT`` rows
    and ``SQLITE_MAX_PARAMS`` parameters: every row lands once, in order, with the right count; a bad row in
    a later statement raises, and the rollback leaves nothing."""
    import sqlite3

    import psycopg
    from sqlalchemy import Column, Integer, MetaData, String, Table

    from app import db

    wide = [Column(f"c{i}", String(10)) for i in range(12)]
    table = Table("bulk_rows", MetaData(), Column("id", Integer, primary_key=True), Column("tag", String(20),
                  unique=True), *wide)
    table.create(session.connection())
    session.commit()
    try:
        rows = [(f"t{i}", *(f"{i}-{c}" for c in range(12))) for i in range(257)]
        names = ("tag", *(c.name for c in wide))
        assert db.executemany(session.connection(), table, rows, columns=names) == 257
        stored = session.execute(text("SELECT * FROM bulk_rows ORDER BY id")).all()
        assert [tuple(r[1:]) for r in stored] == rows
        assert [r[0] for r in stored] == list(range(1, 258))
        assert db._insert_row_sql("UPDATE t SET a = ? WHERE b IN (SELECT x FROM y VALUES (?))") is None
        session.rollback()
        clash = [(f"n{i}", *("x",) * 12) for i in range(160)] + [("n3", *("y",) * 12)]  # duplicate tag, 3rd statement
        with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):  # the driver's own error
            db.executemany(session.connection(), table, clash, columns=names)
        session.rollback()
        assert session.execute(text("SELECT count(*) FROM bulk_rows")).scalar() == 0
    finally:
        session.rollback()
        table.drop(session.connection(), checkfirst=True)
        session.commit()
