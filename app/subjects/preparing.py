"""Normalise, encrypt, blind-index and merge rows in worker processes, so the import's main process only
looks up and writes. Each worker receives the keys once (pool initializer); each chunk comes back as one
compact :class:`PreparedChunk` (the rejects-report lines and the chunk's merged subjects, not the rows), in
input order."""

from __future__ import annotations

import functools
import multiprocessing
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.context import BaseContext

from app.crypto import Keys
from app.subjects.model import Issue, NormalisedRow, Rejection
from app.subjects.pipeline import DEFAULT_CHUNK_ROWS, _work, map_chunks
from app.subjects.reading import CompactItem, expand
from app.subjects.store import Prepared, Probes, merge_groups, prepare, probes

_KEYS: list[Keys] = []


@dataclass(frozen=True, slots=True)
class PreparedChunk:
    """One chunk, ready for the database.

    Attributes:
        rows: records read (rejected ones included).
        reported: ``(rejected, issues)`` per record with something for the rejects report, in input order;
            ``rejected`` is True when the whole record was discarded.
        subjects: the chunk's subjects after merging rows that share an identity key.
        merged: rows folded into another row of the same chunk.
        probes: the subjects' identifying identifiers by kind (:func:`app.subjects.store.probes`), for the
            importing process's look-up of people already stored.
    """

    rows: int
    reported: list[tuple[bool, tuple[Issue, ...]]]
    subjects: list[Prepared]
    merged: int
    probes: Probes


def _init(keys: Keys) -> None:
    _KEYS[:] = [keys]


def _prepare_work(default_country: str | None, positions: tuple[tuple[int, str], ...],
                  chunk: list[CompactItem]) -> list[PreparedChunk]:
    cipher, index = _KEYS[0].cipher(), _KEYS[0].blind_index()
    outcomes = _work(default_country, [expand(item, positions) for item in chunk])
    reported = [(isinstance(item, Rejection), item.issues) for item in outcomes if item.issues]
    prepared = [prepare(item, cipher=cipher, index=index) for item in outcomes
                if isinstance(item, NormalisedRow)]
    subjects, merged = merge_groups(prepared)
    return [PreparedChunk(len(chunk), reported, subjects, merged, probes(subjects))]


def prepared_chunks(items: Iterable[CompactItem], *, keys: Keys, default_country: str | None,
                    processes: int = 1, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                    positions: tuple[tuple[int, str], ...] = ()) -> Iterator[PreparedChunk]:
    """One :class:`PreparedChunk` per ``chunk_rows`` read items, in order. ``items``: what a reader yields,
    or its :meth:`~app.subjects.reading.SubjectReader.compact` records with its ``positions``."""
    work = functools.partial(_prepare_work, default_country, positions)
    for results in map_chunks(items, work, processes=processes, chunk_rows=chunk_rows, initializer=_init,
                              initargs=(keys,), context=pool_context()):
        yield from results


def pool_context() -> BaseContext | None:
    """The import's worker processes are forked on Linux, whatever the process's default start method.

    A forked worker starts at once with the importing process's state: the app's modules already imported,
    the collector settings of :func:`app.subjects.pipeline.bulk_gc` (frozen objects, a higher threshold). A
    spawned one imports the app again and collects garbage with the default thresholds: its CPU per row was a
    third higher (docs/performance.md, 2026-12-04 evening). The default is ``spawn`` in a process that was
    itself spawned (``multiprocessing`` passes its start method on) and ``forkserver`` from Python 3.14. None
    (the platform's default) elsewhere: macOS and Windows do not fork safely or at all.
    """
    if sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return None
