"""Database engine, sessions, UTC timestamps and the migration gate.

SQLite (default, a file in the instance folder) and PostgreSQL (``DATABASE_URL``) are both first-class.
Timestamps go through :class:`UTCDateTime`, so a value read back is always timezone-aware UTC on both.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app, g
from sqlalchemy import Connection, DateTime, Engine, Table, create_engine, event, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware UTC.

    Binding a naive datetime raises ``ValueError``: the caller must say which zone it meant.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


FOREIGN_KEYS_OFF = "breach_notify_foreign_keys_off"
"""Key in a pooled SQLite connection's ``info``: foreign-key enforcement was turned off on it, and the pool
turns it back on when the connection is checked in, before anyone else can use it."""


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "checkin")
        def _foreign_keys_back_on(dbapi_conn: Any, record: Any) -> None:
            # a bulk import may have turned enforcement off for its transaction (subjects.bulk.references_per_chunk)
            if record is not None and record.info.pop(FOREIGN_KEYS_OFF, False):
                dbapi_conn.execute("PRAGMA foreign_keys=ON")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def alembic_config(engine: Engine) -> AlembicConfig:
    """An Alembic config pointing at ``app/migrations`` and the given engine."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (``breach-notify db upgrade``)."""
    command.upgrade(alembic_config(engine), revision)


def head_revision() -> str | None:
    """The newest migration revision shipped with the code."""
    return ScriptDirectory.from_config(alembic_config(create_engine("sqlite://"))).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated (Alembic's "Context impl"
    info lines are kept out of the log: this runs before every CLI command and at the first request)."""
    log = logging.getLogger("alembic.runtime.migration")
    level = log.level
    log.setLevel(max(level, logging.WARNING))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        log.setLevel(level)


def engine_for(app: Flask) -> Engine:
    """The app's engine (created by ``init_app``)."""
    engine: Engine = app.extensions["breach_notify_engine"]
    return engine


def init_app(app: Flask) -> None:
    """Create the engine for ``app.config['DATABASE_URL']`` and close request sessions on teardown."""
    app.extensions["breach_notify_engine"] = make_engine(app.config["DATABASE_URL"])

    @app.teardown_appcontext
    def _close(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.close()


def get_session() -> Session:
    """The request- or command-scoped session (one per app context)."""
    if "db_session" not in g:
        g.db_session = Session(engine_for(current_app), expire_on_commit=False)
    session: Session = g.db_session
    return session


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session for jobs and scripts outside a request; rolled back on error, always closed."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SQLITE_IN_BATCH = 500
"""Most values in one SQLite ``IN (?, ...)`` list."""
ARRAY_BATCH = 10000
"""Most values in one PostgreSQL array parameter (``= ANY(%s)``)."""
SQLITE_ROWS_PER_INSERT = 100
"""Rows per multi-row ``INSERT ... VALUES (...), (...)`` in :func:`executemany` on SQLite."""
SQLITE_MAX_PARAMS = 999
"""Bound parameters per statement on SQLite: the smallest ``SQLITE_MAX_VARIABLE_NUMBER`` of any build."""


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def driver_rows(conn: Connection, sql: str, fixed: Sequence[Any], values: Sequence[Any], *,
                array_type: str | None = None) -> Iterator[Any]:
    """Rows of the driver-level ``sql`` for every batch of ``values``, without a statement compile per batch
    (SQLAlchemy's compile and ``IN`` expansion cost more than the query in the import's look-ups and the
    dispatch recorder's group commits).

    ``sql`` holds ``{mark}`` for each parameter in ``fixed`` (in order, before the batch) and one
    ``{match}`` after the tested column: ``= ANY(%s)`` with one array on PostgreSQL (one statement text, so
    psycopg parses it once), ``IN (?, ...)`` on SQLite. Table and column names are the caller's constants,
    never input. Rows of different batches are not de-duplicated. ``array_type`` (e.g. ``BIGINT[]``) casts
    PostgreSQL's array, so an index on a BIGINT column is used whatever type the driver picks for the list.
    """
    if conn.dialect.name == "postgresql":
        text_ = sql.format(mark="%s", match=f"= ANY(CAST(%s AS {array_type}))" if array_type else "= ANY(%s)")
        for batch in batches(values, ARRAY_BATCH):
            yield from conn.exec_driver_sql(text_, (*fixed, _array_literal(batch) if array_type else list(batch)))
        return
    for batch in batches(values, SQLITE_IN_BATCH):
        text_ = sql.format(mark="?", match=f"IN ({', '.join('?' * len(batch))})")
        yield from conn.exec_driver_sql(text_, (*fixed, *batch))


def _array_literal(values: Sequence[Any]) -> Any:
    """Integers as one PostgreSQL array literal (``{1,2,3}``), which the statement casts: psycopg dumps a
    Python list element by element in Python (about 10 µs a row of the subject import's look-ups), a string in
    one step. Other values are returned as a list for psycopg to dump."""
    if all(type(value) is int for value in values):
        return "{" + ",".join(map(str, values)) + "}"
    return list(values)


_MANY_CACHE: dict[tuple[object, str, tuple[str, ...]], tuple[str, list[tuple[str, Any, Any]], bool]] = {}
_FROM_ROW = object()


def executemany(conn: Connection, statement: Table | UpdateBase, rows: Sequence[Any], *,
                columns: Sequence[str] | None = None) -> int:
    """Execute the Core DML ``statement`` (a ``Table`` means its ``insert()``) once per row through the
    DB-API's ``executemany``, in ``conn``'s current transaction; returns the driver's row count (rows
    changed; -1 when it gives none).

    ``rows`` map parameter names (an insert's column keys, or the statement's ``bindparam`` names) to Python
    values, every row with the same keys; or, with ``columns``, each row is a tuple of values in that order
    (no dict per row: the subject import's hot path). Values the statement binds itself
    (``values(error=None)``, ``state == "queued"``) are taken from the statement. The statement is compiled
    once per (statement, dialect, keys) and each value goes through its type's own bind processor (UTC
    timestamps, JSON, booleans), so what is stored is what the ORM would store, without SQLAlchemy's
    per-execution work (about 0.1 ms a call, which dominated small group commits and bulk imports). Tuples
    already in the compiled statement's order, with no value to process, go to the driver as they are.
    ``statement`` must live as long as the process (a module constant or a table). Does not commit.
    """
    if not rows:
        return 0
    keys = tuple(columns) if columns is not None else tuple(rows[0])
    entry = _MANY_CACHE.get((statement, conn.dialect.name, keys))
    if entry is None:
        entry = _compile_many(conn.dialect, statement, keys)
        if len(_MANY_CACHE) < 256:
            _MANY_CACHE[(statement, conn.dialect.name, keys)] = entry
    sql, params, positional = entry
    values = _parameter_rows(rows, params, positional, keys if columns is not None else None)
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        row_sql = _insert_row_sql(sql) if conn.dialect.name == "sqlite" and positional and len(values) > 1 else None
        if row_sql is None:
            cursor.executemany(sql, values)
            return int(cursor.rowcount)
        return _insert_many_rows(cursor, sql[:-len(row_sql)], row_sql, values)
    finally:
        cursor.close()


def _insert_row_sql(sql: str) -> str | None:
    """The ``(?, ...)`` part of a single-row ``INSERT ... VALUES (?, ...)``, or None for any other statement."""
    head, found, row_sql = sql.rpartition(" VALUES ")
    if not (found and head.startswith(("INSERT INTO ", "INSERT OR ROLLBACK INTO ")) and row_sql.startswith("(")
            and row_sql.endswith(")") and ")" not in row_sql[:-1]):
        return None
    return row_sql


def _insert_many_rows(cursor: Any, head: str, row_sql: str, values: Sequence[Sequence[Any]]) -> int:
    """Insert ``values`` with multi-row ``INSERT ... VALUES (...), (...), ...`` statements: SQLite does the
    same work per row, but the driver's per-statement cost (reset, step, row count) comes once per
    statement, not per row (1.4 us a row less for the import's identifier rows, docs/performance.md).
    Each statement holds at most ``SQLITE_ROWS_PER_INSERT`` rows and ``SQLITE_MAX_PARAMS`` parameters;
    there are two statement texts at most (full and last), which the driver's statement cache keeps."""
    per = max(1, min(SQLITE_ROWS_PER_INSERT, SQLITE_MAX_PARAMS // max(1, row_sql.count("?"))))
    count = 0
    for start in range(0, len(values), per):
        batch = values[start:start + per]
        cursor.execute(head + ", ".join([row_sql] * len(batch)), list(chain.from_iterable(batch)))
        count += cursor.rowcount
    return count


def _parameter_rows(rows: Sequence[Any], params: list[tuple[str, Any, Any]], positional: bool,
                    columns: tuple[str, ...] | None) -> Sequence[Any]:
    """Driver parameters per row, built a column at a time (list comprehensions and one ``zip``, not a
    Python loop per value: this is the import's and the dispatch recorder's hot loop). ``columns``: the
    tuple rows' order (None: rows are mappings)."""
    if (columns is not None and positional and [name for name, _, _ in params] == list(columns)
            and all(constant is _FROM_ROW and process is None for _, constant, process in params)):
        return rows
    columns_out: list[Iterable[Any]] = []
    for name, constant, process in params:
        if constant is not _FROM_ROW:
            columns_out.append(repeat(constant, len(rows)))
            continue
        column = list(map(itemgetter(name if columns is None else columns.index(name)), rows))
        columns_out.append(column if process is None else _processed(column, process))
    if positional:
        return list(zip(*columns_out, strict=True))
    names = [name for name, _, _ in params]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns_out, strict=True)]


def _processed(values: list[Any], process: Callable[[Any], Any]) -> list[Any]:
    """``process`` applied to each value, once per distinct object (the import's one ``now``, ``True`` and
    ``False``, a chunk's shared category list): bind processors are pure, and ``values`` keeps every object
    alive, so its ``id`` is a safe key for the length of the call. The loops are the built-ins' (``map``,
    ``dict(zip(...))``), not Python's."""
    ids = list(map(id, values))
    first = dict(zip(ids, values, strict=True))
    if len(first) == len(ids):
        return list(map(process, values))
    made = {key: process(value) for key, value in first.items()}
    return list(map(made.__getitem__, ids))


def _compile_many(dialect: Dialect, statement: Table | UpdateBase,
                  keys: tuple[str, ...]) -> tuple[str, list[tuple[str, Any, Any]], bool]:
    """(SQL, per parameter (name, processed constant or ``_FROM_ROW``, bind processor), positional)."""
    dml = insert(statement) if isinstance(statement, Table) else statement
    compiled = dml.compile(dialect=dialect, column_keys=list(keys))
    prefetched = [c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch) if c.key not in keys]
    if prefetched:
        raise ValueError(f"columns with Python-side defaults need values in the rows: {', '.join(prefetched)}")
    defaults = compiled.params
    names = list(compiled.positiontup or ()) if compiled.positional else list(defaults)
    params = []
    for name in names:
        process = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)  # as execute() does
        if name in keys:
            params.append((name, _FROM_ROW, process))
        else:
            value = defaults[name]
            params.append((name, value if process is None else process(value), None))
    return str(compiled), params, bool(compiled.positional)
