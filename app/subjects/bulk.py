"""Bulk writes and look-ups for the subject import, one code path per database where it pays.

* ids: PostgreSQL draws them from the table's sequence in one query; SQLite takes the ones after
  ``max(id)`` (the import's write transaction holds SQLite's write lock, so nobody else can insert).
* rows: PostgreSQL gets ``COPY ... FROM STDIN`` (psycopg), SQLite a DB-API ``executemany``
  (:func:`app.db.executemany`).
* look-ups: PostgreSQL binds one array (``digest_key = ANY(:keys)``), so the statement text stays short and
  psycopg parses it once; SQLite binds an ``IN`` list of at most 500 values (:func:`app.db.driver_rows`).
* statistics: the import writes every row in one transaction, which autovacuum cannot see, so on a new or
  fast-growing registry PostgreSQL plans the per-chunk look-ups as if the tables were nearly empty (no
  statistics: ``kind = 'email'`` assumed to match 0.5% of rows). psycopg prepares a statement after five
  executions and the server then keeps a generic plan that probes the index on ``kind`` alone and filters
  ``digest`` over every stored identifier of that kind: each chunk cost grew with everything stored before
  it (superlinear import, see docs/performance.md). :class:`Statistics` runs ``ANALYZE`` (which counts the
  transaction's own rows) whenever the import has doubled what it wrote, so plans probe the ``digest_key``
  index.
* page cache: see :func:`page_cache`.

Nothing here commits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ARRAY, JSON, String, Table, any_, bindparam, false, func, insert, select, text, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from app import db

if TYPE_CHECKING:
    import psycopg

ANALYZE_FIRST = 2000
ANALYZED_TABLES = "data_subject, subject_identifier, incident_subject"


def is_postgres(session: Session) -> bool:
    """True when ``session`` is bound to PostgreSQL."""
    return session.get_bind().dialect.name == "postgresql"


@contextmanager
def page_cache(session: Session, mib: int) -> Iterator[None]:
    """On SQLite, a page cache of ``mib`` MiB (``PRAGMA cache_size``) on the session's connection while the
    block runs, then the previous size again; nothing on PostgreSQL (the server's ``shared_buffers``) or
    when ``mib`` is 0 or less.

    Why: blind-index digests are random, so each identifier an import writes updates a random page of the
    ``digest_key`` index and each look-up reads one. SQLite's default cache is 2 MiB; once that index
    outgrows it, most of those pages are read back and spilled to the WAL again and again (a million
    people: about a quarter of the import's database time, docs/performance.md). The cache is memory the
    importing process holds (its peak RSS grows by up to ``mib``), returned when the connection closes.
    """
    if mib <= 0 or is_postgres(session):
        yield
        return
    conn = session.connection()
    before = int(conn.exec_driver_sql("PRAGMA cache_size").scalar() or 0)
    conn.exec_driver_sql(f"PRAGMA cache_size = {-int(mib) * 1024}")
    try:
        yield
    finally:
        if not conn.closed:
            conn.exec_driver_sql(f"PRAGMA cache_size = {before}")


def allocate_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` fresh primary keys for ``table``, ascending."""
    if count <= 0:
        return []
    if is_postgres(session):
        rows = session.execute(text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
                               {"table": table.name, "n": count})
        return [int(value) for value in rows.scalars()]
    last = session.execute(select(func.max(table.c.id))).scalar() or 0
    return list(range(last + 1, last + count + 1))


def write_rows(session: Session, table: Table, rows: Sequence[Any], *, columns: Sequence[str] | None = None) -> None:
    """Insert ``rows`` into ``table``: column name -> Python value mappings with the same keys in every row,
    or, with ``columns``, tuples of values in that order (the import's hot path: no dict per row). Columns
    left out get their scalar defaults (or the database's)."""
    if not rows:
        return
    if columns is None:
        columns = list(rows[0])
        rows = [tuple(row[name] for name in columns) for row in rows]
    names = list(columns)
    # raw COPY / executemany skip SQLAlchemy's Python-side defaults: add the scalar ones the rows leave out
    defaults = {c.name: c.default.arg for c in table.columns  # type: ignore[attr-defined]
                if c.name not in names and c.default is not None and c.default.is_scalar}
    if not is_postgres(session):
        # defaults in the statement, not in every row: tuples in the table's column order reach the driver as built
        db.executemany(session.connection(), _with_defaults(table, defaults) if defaults else table, rows,
                       columns=names)
        return
    if defaults:
        extra = tuple(defaults.values())
        rows, names = [(*row, *extra) for row in rows], names + list(defaults)
    as_json = [i for i, name in enumerate(names) if isinstance(table.c[name].type, JSON)]
    raw: psycopg.Connection[Any] = session.connection().connection.dbapi_connection  # type: ignore[assignment]
    dumped: dict[int, str] = {}  # JSON text per distinct object (a chunk's subjects share category lists)
    with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            if as_json:
                row = list(row)
                for i in as_json:
                    value = row[i]
                    text_ = dumped.get(id(value))
                    if text_ is None:
                        text_ = dumped[id(value)] = json.dumps(value)
                    row[i] = text_
            copy.write_row(row)


_DEFAULTED: dict[tuple[Table, tuple[tuple[str, Any], ...]], Any] = {}


def _with_defaults(table: Table, defaults: dict[str, Any]) -> Any:
    """``insert(table)`` with ``defaults`` in the statement (booleans as SQL ``true``/``false``, other values
    bound once), kept for the process: ``db.executemany`` compiles a statement once per statement object."""
    key = (table, tuple(defaults.items()))
    statement = _DEFAULTED.get(key)
    if statement is None:
        statement = _DEFAULTED[key] = insert(table).values({name: true() if value is True else false() if value is False
                                                            else value for name, value in defaults.items()})
    return statement


def in_batches(session: Session, column: Any, values: Sequence[Any]) -> Iterable[ColumnElement[bool]]:
    """``column`` matches one batch of ``values``: one condition per batch (see the module docstring)."""
    if is_postgres(session):
        kind = ARRAY(String) if values and isinstance(values[0], str) else ARRAY(column.type)
        for batch in db.batches(values, db.ARRAY_BATCH):
            yield column == any_(bindparam("values", list(batch), type_=kind))
        return
    for batch in db.batches(values, db.SQLITE_IN_BATCH):
        yield column.in_(batch)


@dataclass
class Statistics:
    """Keeps PostgreSQL's planner statistics in step with an import's own uncommitted rows.

    Call :meth:`wrote` after each chunk; it runs ``ANALYZE`` on the subject tables the first time the
    import has written ``ANALYZE_FIRST`` rows and again each time that count doubles (about
    log2(rows / 2000) times per import, ~0.1-0.3 s each). No-op on SQLite (its planner uses the index
    whatever the table size).
    """

    written: int = 0
    next_at: int = ANALYZE_FIRST

    def wrote(self, session: Session, rows: int) -> None:
        """Count ``rows`` more written rows and analyze if the threshold is crossed."""
        self.written += rows
        if self.written >= self.next_at:
            self.next_at = 2 * self.written
            if is_postgres(session):
                session.execute(text(f"ANALYZE {ANALYZED_TABLES}"))
