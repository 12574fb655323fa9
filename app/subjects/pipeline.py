"""Normalise a stream of read items in chunks, optionally across worker processes, in order.

Memory stays flat: at most ``max_in_flight`` chunks are queued at once (``Pool.imap`` would
consume the whole input eagerly). Rejections from the reader pass through in their place.
"""

from __future__ import annotations

import functools
import gc
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from multiprocessing.context import BaseContext
from multiprocessing.pool import AsyncResult
from typing import Any, TypeVar

from app.subjects.model import Outcome, RawRow, Rejection
from app.subjects.normalise import normalise_chunk

DEFAULT_CHUNK_ROWS = 5000
BULK_GC_THRESHOLD = 100_000
T = TypeVar("T")
R = TypeVar("R")


@contextmanager
def bulk_gc(threshold: int = BULK_GC_THRESHOLD) -> Iterator[None]:
    """Let the cyclic garbage collector skip what existed before the block and run less often inside it.

    A bulk job allocates a few dozen container objects per row (rows, tuples, dataclasses), nearly all freed
    by reference counting. With the default threshold (700 allocations) the collector ran about every 20 rows,
    and every few thousand rows it traversed everything the process had loaded (the app, SQLAlchemy, Flask):
    15-20% of an import's CPU in the importing process and in its workers (docs/performance.md, 2026-12-04 midday).
    Inside the block, objects that existed on entry are frozen (``gc.freeze``: never traversed, never freed,
    as a forked worker's copies of them need not be either) and the youngest generation is collected every
    ``threshold`` allocations; cycles made inside the block are still collected. Worker processes forked
    inside the block inherit both settings. On exit the previous threshold is restored and the frozen
    objects are handed back to the collector (``gc.unfreeze``), so nothing is kept for good.
    """
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(threshold, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _work(default_country: str | None, chunk: list[RawRow | Rejection]) -> list[Outcome]:
    rows = [item for item in chunk if isinstance(item, RawRow)]
    done = iter(normalise_chunk(rows, default_country))
    return [item if isinstance(item, Rejection) else next(done) for item in chunk]


def map_chunks(
    items: Iterable[T],
    work: Callable[[list[T]], list[R]],
    *,
    processes: int = 1,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    max_in_flight: int | None = None,
    context: BaseContext | None = None,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[list[R]]:
    """Apply ``work`` (picklable, top-level) to consecutive chunks, in order, one result list per chunk.

    ``processes`` 1 works in this process (calling ``initializer`` first); more uses a pool whose workers
    run ``initializer(*initargs)`` once. At most ``max_in_flight`` chunks (default ``2 * processes``) are
    queued, so memory stays flat however long ``items`` is.
    """
    if processes <= 1:
        if initializer is not None:
            initializer(*initargs)
        for chunk in chunked(items, chunk_rows):
            yield work(chunk)
        return
    limit = max_in_flight or 2 * processes
    with (context or multiprocessing.get_context()).Pool(processes, initializer, initargs) as pool:
        pending: deque[AsyncResult[list[R]]] = deque()
        for chunk in chunked(items, chunk_rows):
            pending.append(pool.apply_async(work, (chunk,)))
            if len(pending) >= limit:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def normalise_stream(
    items: Iterable[RawRow | Rejection],
    *,
    default_country: str | None,
    processes: int = 1,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    max_in_flight: int | None = None,
    context: BaseContext | None = None,
) -> Iterator[Outcome]:
    """Yield one outcome per item, in input order.

    Args:
        items: what a :class:`~app.subjects.reading.SubjectReader` yields.
        default_country: passed to :func:`~app.subjects.normalise.normalise_row`.
        processes: 1 normalises in this process; more uses a pool of that many workers.
        chunk_rows: items per unit of work.
        max_in_flight: chunks queued at once (default ``2 * processes``); bounds memory.
        context: multiprocessing context (default: the platform default).
    """
    work = functools.partial(_work, default_country)
    for results in map_chunks(items, work, processes=processes, chunk_rows=chunk_rows, max_in_flight=max_in_flight,
                              context=context):
        yield from results
