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
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ARRAY, JSON, String, Table, any_, bindparam, false, func, insert, select, text, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from app import db

if TYPE_CHECKING:
    import psycopg

ANALYZE_FIRST = 2000
ANALYZE_TARGET = 10
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


IMPORT_LOCK = 7733002
"""PostgreSQL advisory lock key of subject imports (the audit chain's is 7733001)."""


def one_import_at_a_time(session: Session) -> None:
    """Wait until no other import into the registry is writing, and hold that until this transaction ends.

    PostgreSQL: a transaction-scoped advisory lock. Two imports that overlapped each missed the other's
    uncommitted people and stored the same person twice (found by a concurrent-import trial, 2026-12-04); the
    second now starts its look-ups after the first has committed, and under READ COMMITTED each look-up sees
    what was committed. SQLite: nothing to do, as an import's first write takes the database's one write lock.
    """
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": IMPORT_LOCK})


def allocate_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` fresh primary keys for ``table``, ascending."""
    if count <= 0:
        return []
    if is_postgres(session):
        # the sequence's oid looked up once (per row it would be looked up by name); ids as one text value
        sequence = session.execute(text("SELECT CAST(CAST(pg_get_serial_sequence(:table, 'id') AS regclass) AS oid)"),
                                   {"table": table.name}).scalar_one()
        drawn = session.execute(text("SELECT string_agg(nextval(CAST(CAST(:oid AS oid) AS regclass))::text, ',') "
                                     "FROM generate_series(1, :n)"), {"oid": int(sequence), "n": count}).scalar_one()
        return sorted(map(int, drawn.split(",")))
    last = session.execute(select(func.max(table.c.id))).scalar() or 0
    return list(range(last + 1, last + count + 1))


class IdRuns:
    """A set of ids held as ascending runs of consecutive values, minus the few removed since: an import's new
    subject ids, which :func:`allocate_ids` draws ascending a chunk at a time, so a million of them are a few
    hundred runs (as a ``set`` of ints they would hold about 60 MiB of the import's memory).

    ``add(ids)`` takes ascending ids, each above every id added before or removed since (raises ``ValueError``
    otherwise); ``discard(ids)`` removes them; ``in`` and ``len`` as for a set.
    """

    def __init__(self) -> None:
        self._starts: list[int] = []  # runs are [start, stop): ascending, disjoint
        self._stops: list[int] = []
        self._removed: set[int] = set()
        self._size = 0

    def add(self, ids: Iterable[int]) -> None:
        for sid in ids:
            if sid in self._removed:  # SQLite draws max(id) + 1: an id merged away at the top comes back
                self._removed.discard(sid)
            elif self._stops and sid < self._stops[-1]:
                raise ValueError(f"id {sid} is not above the ids added before it (up to {self._stops[-1] - 1})")
            else:
                self._append(sid, sid + 1)
            self._size += 1

    def _append(self, start: int, stop: int) -> None:
        if self._stops and self._stops[-1] == start:
            self._stops[-1] = stop
        else:
            self._starts.append(start)
            self._stops.append(stop)

    def discard(self, ids: Iterable[int]) -> None:
        for sid in ids:
            if sid in self:
                self._removed.add(sid)
                self._size -= 1

    def __contains__(self, sid: object) -> bool:
        if not isinstance(sid, int) or sid in self._removed:
            return False
        run = bisect_right(self._starts, sid) - 1
        return run >= 0 and sid < self._stops[run]

    def __len__(self) -> int:
        return self._size


def write_rows(session: Session, table: Table, rows: Sequence[Any], *, columns: Sequence[str] | None = None,
               references_locked: bool = False) -> None:
    """Insert ``rows`` into ``table``: column name -> Python value mappings with the same keys in every row,
    or, with ``columns``, tuples of values in that order (the import's hot path: no dict per row). Columns
    left out get their scalar defaults (or the database's).

    ``references_locked``: the caller guarantees every row's foreign keys, in this transaction (the rows they
    name were written by it, or are locked ``FOR KEY SHARE`` by it: :func:`lock_rows`). On PostgreSQL the
    ``COPY`` then runs without its per-row foreign-key triggers when the role may do so
    (:func:`skipping_row_triggers`); otherwise it changes nothing.
    """
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
        db.executemany(session.connection(), _insert_statement(table, defaults), rows, columns=names)
        return
    if defaults:
        extra = tuple(defaults.values())
        rows, names = [(*row, *extra) for row in rows], names + list(defaults)
    as_json = [i for i, name in enumerate(names) if isinstance(table.c[name].type, JSON)]
    raw: psycopg.Connection[Any] = session.connection().connection.dbapi_connection  # type: ignore[assignment]
    dumped: dict[int, str] = {}  # JSON text per distinct object (a chunk's subjects share category lists)
    with (skipping_row_triggers(session) if references_locked else nullcontext(),
          raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy):
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


def may_skip_row_triggers(session: Session) -> bool:
    """True on PostgreSQL when the session's role may set ``session_replication_role`` (a superuser, or from
    PostgreSQL 15 a role granted ``SET`` on that parameter); False on SQLite and for other roles."""
    if not is_postgres(session):
        return False
    if session.execute(text("SELECT current_setting('is_superuser')")).scalar() == "on":
        return True
    version = session.get_bind().dialect.server_version_info or (0,)
    return version >= (15,) and bool(session.execute(
        text("SELECT has_parameter_privilege('session_replication_role', 'SET')")).scalar())


@contextmanager
def skipping_row_triggers(session: Session) -> Iterator[bool]:
    """Within the block, PostgreSQL fires no ordinary triggers, foreign-key checks included
    (``session_replication_role = replica`` for the transaction, as ``pg_restore --disable-triggers`` does),
    when the role may (:func:`may_skip_row_triggers`); yields whether it does. The previous value comes back
    when the block ends normally; after an error the transaction is aborted and its rollback restores it.

    Why: ``COPY`` queues one foreign-key check per row (an SPI ``SELECT ... FOR KEY SHARE`` each, with its own
    executor start-up): about a third of the server's CPU in a subject import (docs/performance.md,
    2026-12-04 evening). The import checks its references per chunk instead: the rows it names are its own
    (written earlier in the transaction, invisible to others) or locked in one query (:func:`lock_rows`).
    The schema has no other triggers.
    """
    if not may_skip_row_triggers(session):
        yield False
        return
    before = session.execute(text("SELECT current_setting('session_replication_role')")).scalar_one()
    session.execute(text("SELECT set_config('session_replication_role', 'replica', true)"))
    yield True
    session.execute(text("SELECT set_config('session_replication_role', :before, true)"), {"before": before})


def lock_rows(session: Session, table: Table, ids: Sequence[int]) -> set[int]:
    """Lock the rows of ``table`` with these ids against deletion and key changes until the transaction ends
    (``FOR KEY SHARE``, the lock a foreign-key check takes; SQLite's write transaction already excludes every
    other writer); returns the ids that exist. One query per batch of ids."""
    if not ids:
        return set()
    found: set[int] = set()
    for match in in_batches(session, table.c.id, ids):  # SQLite renders no FOR clause
        found.update(session.execute(select(table.c.id).where(match).with_for_update(key_share=True)).scalars())
    return found


_STATEMENTS: dict[tuple[Table, tuple[tuple[str, Any], ...]], Any] = {}


def _insert_statement(table: Table, defaults: dict[str, Any]) -> Any:
    """``INSERT OR ROLLBACK`` into ``table`` (SQLite) with ``defaults`` in the statement (booleans as SQL
    ``true``/``false``, other values bound once), kept for the process: ``db.executemany`` compiles a
    statement once per statement object.

    ``OR ROLLBACK``: a constraint violation rolls the whole transaction back (the import's rollback would
    anyway), so SQLite keeps no statement journal. With the default ``ABORT`` and multi-row inserts, it
    copied every page a statement touched into a journal file first, to undo that statement alone: about nine
    write system calls per imported person (docs/performance.md, 2026-12-04 evening)."""
    key = (table, tuple(defaults.items()))
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = _STATEMENTS[key] = insert(table).prefix_with("OR ROLLBACK", dialect="sqlite").values(
            {name: true() if value is True else false() if value is False else value
             for name, value in defaults.items()})
    return statement


def references_per_chunk(session: Session) -> bool:
    """On SQLite, turn foreign-key enforcement off on the session's connection for its next transaction, when
    none is open on it yet (``PRAGMA foreign_keys`` is ignored inside one); returns whether it is off. The pool
    turns it back on when the connection is checked in (:data:`app.db.FOREIGN_KEYS_OFF`), after that
    transaction's commit or rollback. Nothing on PostgreSQL (see :func:`skipping_row_triggers`).

    For bulk writes whose references the caller checks per chunk (:func:`lock_rows`): with enforcement on,
    SQLite journals every page a multi-row insert touches (see :func:`_insert_statement`), even with
    ``OR ROLLBACK`` or deferred constraints. SQLite has one writer, so rows found by the check stay there
    until the transaction ends.
    """
    if is_postgres(session):
        return False
    fairy = session.connection().connection
    raw: Any = fairy.dbapi_connection
    if raw.in_transaction:
        return False
    raw.execute("PRAGMA foreign_keys=OFF")
    fairy.info[db.FOREIGN_KEYS_OFF] = True
    return True


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
    log2(rows / 2000) times per import). Each samples ``ANALYZE_TARGET`` x 300 rows per table, not the default
    30,000: the plans only need the tables' sizes and that the look-up keys are distinct, and at a million
    people one ANALYZE took 0.43-0.53 s at the default against 0.044 s (the import waits for it). Autovacuum
    analyzes the tables fully after the commit. No-op on SQLite (its planner uses the index whatever the table
    size).
    """

    written: int = 0
    next_at: int = ANALYZE_FIRST

    def wrote(self, session: Session, rows: int) -> None:
        """Count ``rows`` more written rows and analyze if the threshold is crossed."""
        self.written += rows
        if self.written >= self.next_at:
            self.next_at = 2 * self.written
            if is_postgres(session):
                session.execute(text(f"SET LOCAL default_statistics_target = {ANALYZE_TARGET}"))
                session.execute(text(f"ANALYZE {ANALYZED_TABLES}"))
                session.execute(text("RESET default_statistics_target"))
