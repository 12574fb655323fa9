"""Normalise, encrypt and blind-index rows in worker processes, so the import's main process only merges
and writes. Each worker receives the keys once (pool initializer); rows come back as
``(outcome, Prepared | None)`` pairs in input order."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator

from app.crypto import Keys
from app.subjects.dedupe import Subject
from app.subjects.model import NormalisedRow, Outcome, RawRow, Rejection
from app.subjects.pipeline import DEFAULT_CHUNK_ROWS, _work, map_chunks
from app.subjects.store import Prepared, prepare

Pair = tuple[Outcome, Prepared | None]
_KEYS: list[Keys] = []


def _init(keys: Keys) -> None:
    _KEYS[:] = [keys]


def _prepare_work(default_country: str | None, chunk: list[RawRow | Rejection]) -> list[Pair]:
    cipher, index = _KEYS[0].cipher(), _KEYS[0].blind_index()
    return [(item, prepare(Subject.from_row(item), cipher=cipher, index=index)) if isinstance(item, NormalisedRow)
            else (item, None) for item in _work(default_country, chunk)]


def prepared_chunks(items: Iterable[RawRow | Rejection], *, keys: Keys, default_country: str | None,
                    processes: int = 1, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[list[Pair]]:
    """One list of ``(outcome, prepared)`` pairs per chunk of ``chunk_rows`` read items, in order."""
    work = functools.partial(_prepare_work, default_country)
    return map_chunks(items, work, processes=processes, chunk_rows=chunk_rows, initializer=_init, initargs=(keys,))
