"""Importing subject files into the registry (and an incident), identifying subjects from evidence, and
the counts that drive obligations and substitute notice.

An import is one transaction: a file that fails part-way (a database error, an interrupted process)
leaves the database as it was. Header problems are found before anything is written.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Integer, func, select
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col

from app.audit import service as audit
from app.clock import Clock
from app.crypto import Keys
from app.errors import Conflict, InvalidInput
from app.incidents import service as incidents
from app.subjects import bulk, places, store
from app.subjects.errors import SubjectFileError
from app.subjects.model import Issue
from app.subjects.models import DataSubject, IncidentSubject, SubjectImport
from app.subjects.pipeline import bulk_gc
from app.subjects.preparing import prepared_chunks
from app.subjects.reading import open_subject_file
from app.wording import plural

CHUNK_ROWS = 5000
AUTO_WORKERS_MIN_BYTES = 8 * 1024 * 1024
"""``IMPORT_PROCESSES=auto`` starts workers from this file size (about 50,000 rows of a typical export)."""
DEFAULT_CACHE_MIB = 64
"""SQLite page cache of an import (``BREACH_NOTIFY_IMPORT_CACHE_MIB``), MiB. At a million people it imports as
fast as 96 MiB did, with 36 MiB less memory (docs/performance.md, 2026-12-04 night)."""
Progress = Callable[[int], None]


@dataclass(frozen=True)
class ImportSummary:
    """What an import did (the CLI's ``--format json`` and the API answer)."""

    import_id: int
    rows_read: int
    imported: int
    merged_duplicates: int
    already_known: int
    linked: int
    rejected: int
    warnings: int
    rejects_file: str | None
    ignored_columns: tuple[str, ...] = ()
    """Headers of the file that map to no known column (their values were not imported), e.g. ``first_name``."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (``ignored_columns`` as a list)."""
        return dict(self.__dict__) | {"ignored_columns": list(self.ignored_columns)}


class _Rejects:
    """The rejects report: ``line,column,kind,reason`` per issue; reasons never quote contact data."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._handle: IO[str] = path.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._handle)
        self._writer.writerow(["line", "column", "kind", "reason"])
        self.rejected = self.warnings = 0

    def add(self, rejected: bool, issues: tuple[Issue, ...]) -> None:
        if rejected:
            self.rejected += 1
        else:
            self.warnings += len(issues)
        for issue in issues:
            self._writer.writerow([issue.line, issue.column or "", issue.kind.value, issue.reason])

    def close(self) -> None:
        self._handle.close()


def _file_error(exc: SubjectFileError) -> InvalidInput:
    """The import's answer to a file or mapping it cannot use: the reason, and that nothing was written."""
    return InvalidInput(f"{exc}; nothing was imported", details=[{"path": exc.part, "reason": str(exc)}])


def _store_chunk(session: Session, prepared: list[store.Prepared], now: dt.datetime, created: bulk.IdRuns,
                 probes: store.Probes) -> tuple[list[int], int, int, int]:
    """Write one chunk (``probes``: its :func:`store.probes`, sent by the worker); returns (subject ids touched,
    how many of them (first) are new, duplicates of this import, subjects known before)."""
    owners = store.lookup_owners(session, probes)
    fresh: list[store.Prepared] = []
    known: list[tuple[int, store.Prepared]] = []
    moved: dict[int, int] = {}  # subject merged away in this chunk -> the subject it was merged into
    duplicates = before = 0
    for item in prepared:
        ids = sorted({owners[i[1]] for i in item.identifiers if i[1] in owners})
        if not ids:
            fresh.append(item)
            continue
        target = ids[0]
        if len(ids) > 1:
            target = store.merge_target(session, ids)
            others = [sid for sid in ids if sid != target]
            store.merge_subjects(session, target, others, now)
            owners.update({k: target for k, v in owners.items() if v in ids})
            moved.update({k: target for k, v in moved.items() if v in ids} | dict.fromkeys(others, target))
            created.discard(others)
            duplicates += len(others)  # one person stored more than once (by this import or before it)
        known.append((target, item))
        duplicates, before = duplicates + (target in created), before + (target not in created)
    # rows queued for a subject that a later row of the chunk merged away go to the subject that kept it
    known = [(moved.get(sid, sid), item) for sid, item in known]
    store.update_known(session, known, now)
    new_ids = store.insert_new(session, fresh, now)
    created.add(new_ids)
    return [*new_ids, *(sid for sid, _ in known)], len(new_ids), duplicates, before


def worker_processes(setting: str | int, *, file_bytes: int, cpus: int | None = None) -> int:
    """Processes for an import of a ``file_bytes`` file under ``IMPORT_PROCESSES`` (``"auto"`` or a count).

    ``auto``: 2 when the file has at least ``AUTO_WORKERS_MIN_BYTES`` and the machine (``cpus``, default
    ``os.cpu_count()``) has 2 or more CPUs; else 1, in the importing process (a pool's start-up, about a
    second, would outweigh a small file's work).
    """
    if setting != "auto":
        return int(setting)
    available = cpus if cpus is not None else (os.cpu_count() or 1)
    return 2 if available >= 2 and file_bytes >= AUTO_WORKERS_MIN_BYTES else 1


def import_file(
    session: Session, *, clock: Clock, actor: str, path: Path, keys: Keys, rejects_dir: Path,
    incident_id: int | None = None, mapping: dict[str, str] | None = None, default_country: str | None = None,
    processes: int = 1, progress: Progress | None = None, filename: str | None = None,
    cache_mib: int = DEFAULT_CACHE_MIB,
) -> ImportSummary:
    """Import a CSV/JSONL subject file into the registry and, with ``incident_id``, link every subject
    in it to that incident. One transaction; commits at the end.

    ``processes``: worker processes that normalise, encrypt and index rows (1: this process).
    ``cache_mib``: SQLite page cache for the import's connection (:func:`app.subjects.bulk.page_cache`).

    ``default_country``: a country code or name for national-format phones
    (:func:`app.subjects.places.checked_country`).

    Raises ``InvalidInput`` (an unknown ``default_country``, header problems, unreadable file: nothing
    written) or ``NotFound``.
    """
    default_country = places.checked_country(default_country)
    if incident_id is not None:
        incidents.get(session, incident_id=incident_id)
    try:
        reader = open_subject_file(path, mapping=mapping)
    except SubjectFileError as exc:
        raise _file_error(exc) from exc
    bulk.references_per_chunk(session)  # before the first write: see there
    bulk.one_import_at_a_time(session)  # before any look-up of the registry's people
    now = clock.now()
    run = SubjectImport(incident_id=incident_id, filename=(filename or path.name)[:300], file_format=reader.format,
                        encoding=reader.encoding, actor=actor, started_at=now)
    session.add(run)
    _first_write(session)
    rejects = _Rejects(rejects_dir / f"import-{run.id}-rejects.csv")
    try:
        with bulk.page_cache(session, cache_mib), bulk_gc():
            _run(session, run, reader, rejects, keys=keys, now=now, default_country=default_country,
                 processes=processes, progress=progress)
    except SubjectFileError as exc:
        session.rollback()
        rejects.close()
        rejects.path.unlink(missing_ok=True)
        raise _file_error(exc) from exc
    except BaseException:
        session.rollback()
        rejects.close()
        rejects.path.unlink(missing_ok=True)
        raise
    rejects.close()
    run.rejected, run.warnings, run.rejects_file = rejects.rejected, rejects.warnings, str(rejects.path)
    run.finished_at = clock.now()
    session.add(run)
    _record(session, clock=clock, actor=actor, run=run)
    session.commit()
    return ImportSummary(run.id or 0, run.rows_read, run.imported, run.merged_duplicates, run.already_known,
                         run.linked, run.rejected, run.warnings, run.rejects_file,
                         tuple(reader.header_map.unmapped))


def _first_write(session: Session) -> None:
    """Flush the import's run record, its first write. On SQLite that takes the database's one write lock, after
    waiting up to the busy timeout (30 s) for another writer, e.g. a second import; raises ``Conflict`` saying
    so when the wait runs out (it was a raw "database is locked" traceback)."""
    try:
        session.flush()
    except OperationalError as exc:
        session.rollback()
        if "locked" not in str(exc.orig):
            raise
        raise Conflict("the database is busy with another write (another import?): nothing was imported; "
                       "import again when it has finished",
                       details=[{"path": "database", "reason": "locked by another writer"}]) from exc


def _run(session: Session, run: SubjectImport, reader: Any, rejects: _Rejects, *, keys: Keys, now: dt.datetime,
         default_country: str | None, processes: int, progress: Progress | None) -> None:
    created = bulk.IdRuns()
    statistics = bulk.Statistics()
    for chunk in prepared_chunks(reader.compact(), keys=keys, default_country=default_country, processes=processes,
                                 chunk_rows=CHUNK_ROWS, positions=reader.positions):
        for rejected, issues in chunk.reported:
            rejects.add(rejected, issues)
        touched, new, duplicates, before = _store_chunk(session, chunk.subjects, now, created, chunk.probes)
        run.rows_read += chunk.rows
        run.merged_duplicates += chunk.merged + duplicates
        run.already_known += before
        if run.incident_id is not None:
            store.link(session, incident_id=run.incident_id, subject_ids=touched[new:], unlinked=touched[:new],
                       added_by=f"import:{run.id}", now=now)
        statistics.wrote(session, len(chunk.subjects))
        if progress:
            progress(chunk.rows)
    run.imported = len(created)
    if run.incident_id is not None:  # counted at the end: a later row may fold two people linked earlier
        run.linked = session.execute(select(func.count()).select_from(IncidentSubject).where(
            col(IncidentSubject.incident_id) == run.incident_id,
            col(IncidentSubject.added_by) == f"import:{run.id}")).scalar_one()


def _record(session: Session, *, clock: Clock, actor: str, run: SubjectImport) -> None:
    counts = {k: getattr(run, k) for k in ("rows_read", "imported", "merged_duplicates", "already_known", "linked",
                                           "rejected", "warnings")}
    audit.record(session, clock=clock, actor=actor, action="subjects.imported", entity="subject_import",
                 entity_id=run.id or 0, incident_id=run.incident_id, after={"file": run.filename, **counts})
    if run.incident_id is not None:
        incidents.add_timeline(session, clock=clock, incident_id=run.incident_id, actor=actor, kind="subjects",
                               text=f"Imported {run.filename}: {plural(run.imported, 'new subject')}, "
                                    f"{run.linked} linked, "
                                    f"{plural(run.merged_duplicates, 'duplicate')} merged, "
                                    f"{plural(run.rejected, 'row')} rejected")


def jurisdiction_counts(session: Session, *, incident_id: int) -> dict[str, int]:
    """People per resolved jurisdiction among the incident's subjects (unknown ones left out)."""
    rows = session.execute(
        select(col(DataSubject.jurisdiction), func.count()).join(IncidentSubject, col(IncidentSubject.subject_id)
                                                            == col(DataSubject.id))
        .where(col(IncidentSubject.incident_id) == incident_id, col(DataSubject.jurisdiction).is_not(None))
        .group_by(col(DataSubject.jurisdiction)))
    return {str(code): int(n) for code, n in rows}


@dataclass(frozen=True)
class Reach:
    """Counts for an incident's subjects: total, per jurisdiction (``"unknown"`` included), how many each
    channel can reach, and how many no channel can reach (the substitute-notice pool's floor)."""

    total: int
    by_jurisdiction: dict[str, int]
    by_source: dict[str, int]
    email: int
    phone: int
    push: int
    postal: int
    unreachable: int


def reach(session: Session, *, incident_id: int) -> Reach:
    """Reachability and jurisdiction counts, computed in the database (no decryption)."""
    linked = select(col(IncidentSubject.subject_id)).where(col(IncidentSubject.incident_id) == incident_id)
    base = select(DataSubject).where(col(DataSubject.id).in_(linked)).subquery()
    row = session.execute(select(
        func.count(), *(func.coalesce(func.sum(func.cast(base.c[f], _int())), 0)
                        for f in ("has_email", "has_phone", "has_push", "has_postal")),
        func.coalesce(func.sum(func.cast(~(base.c.has_email | base.c.has_phone | base.c.has_push
                                           | base.c.has_postal), _int())), 0))).one()
    places = session.execute(select(base.c.jurisdiction, base.c.jurisdiction_source, func.count())
                             .group_by(base.c.jurisdiction, base.c.jurisdiction_source)).all()
    by_jurisdiction: dict[str, int] = {}
    by_source: dict[str, int] = {}
    for code, source, n in places:
        by_jurisdiction[code or "unknown"] = by_jurisdiction.get(code or "unknown", 0) + n
        by_source[source] = by_source.get(source, 0) + n
    return Reach(row[0], dict(sorted(by_jurisdiction.items())), by_source, *row[1:])


def _int() -> Integer:
    return Integer()


@dataclass(frozen=True)
class Affected:
    """How many people an incident affects; the one definition every page, report and decision reads.

    ``imported``: data subjects linked to the incident (distinct people: duplicates were merged on import);
    ``estimate``: the incident file's ``subjects.count``. ``people`` (what pages call *affected*) is the
    imported number once anyone is imported, else the estimate. ``class_size`` is the larger of the two: the
    size the legal tests use (thresholds, substitute notice), so that a partial import never shrinks it."""

    imported: int
    estimate: int

    @property
    def people(self) -> int:
        """People affected: the imported subjects, or the file's estimate before any import."""
        return self.imported or self.estimate

    @property
    def is_estimate(self) -> bool:
        """True before any import (``people`` is the incident file's estimate)."""
        return not self.imported

    @property
    def class_size(self) -> int:
        """The larger of the imported count and the estimate (legal size tests)."""
        return max(self.imported, self.estimate)


def affected(session: Session, *, incident_id: int) -> Affected:
    """The incident's :class:`Affected` counts (one count query; ``NotFound`` for an unknown incident)."""
    incident = incidents.get(session, incident_id=incident_id)
    imported = session.execute(select(func.count()).select_from(IncidentSubject).where(
        col(IncidentSubject.incident_id) == incident_id)).scalar_one()
    return Affected(int(imported), incident.subjects_count)


def imports_for(session: Session, *, incident_id: int) -> list[SubjectImport]:
    """The incident's import runs, newest first."""
    return list(session.execute(select(SubjectImport).where(col(SubjectImport.incident_id) == incident_id)
                                .order_by(col(SubjectImport.id).desc())).scalars())


def iter_subject_ids(session: Session, *, incident_id: int, batch: int = 1000) -> Iterator[list[int]]:
    """The incident's subject ids in ascending batches (for dispatch and letters)."""
    after = 0
    while ids := list(session.execute(select(col(IncidentSubject.subject_id)).where(
            col(IncidentSubject.incident_id) == incident_id, col(IncidentSubject.subject_id) > after)
            .order_by(col(IncidentSubject.subject_id)).limit(batch)).scalars()):
        yield ids
        after = ids[-1]
