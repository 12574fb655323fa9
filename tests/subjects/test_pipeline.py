"""Chunked normalisation in worker processes gives the same outcomes, in order, as in-process."""

import itertools
import multiprocessing
import pickle
from pathlib import Path

import pytest

from app.subjects import NormalisedRow, Rejection, normalise_chunk, normalise_stream, open_subject_file
from app.subjects.reading import SubjectReader


def _reader(tmp_path: Path, header: str, rows: list[str]) -> SubjectReader:
    path = tmp_path / "subjects.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return open_subject_file(path)


def test_pool_matches_single_process_in_order(tmp_path: Path) -> None:
    reader = _reader(tmp_path, "external_id,email,phone,country",
                     [f"{i},p{i}@mail.de,030 {1000000 + i},DE" if i % 7 else f"{i},bad{i}" for i in range(230)])
    single = list(normalise_stream(reader, default_country=None, chunk_rows=50))
    pooled = list(normalise_stream(reader, default_country=None, processes=2, chunk_rows=50, max_in_flight=2,
                                   context=multiprocessing.get_context("fork")))
    assert pooled == single
    assert len(single) == 230
    assert sum(isinstance(o, Rejection) for o in single) == 33
    assert [o.line for o in single] == list(range(2, 232))
    assert all(o.phone == f"+4930{1000000 + int(o.external_id or 0)}" for o in single if isinstance(o, NormalisedRow))


def test_outcomes_pickle(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("email,phone\na@mail.de,+4930123456\n", encoding="utf-8")
    rows = list(open_subject_file(path))
    outcomes = normalise_chunk(rows, "DE")  # type: ignore[arg-type]
    assert pickle.loads(pickle.dumps(outcomes)) == outcomes
    assert pickle.loads(pickle.dumps(rows)) == rows


def test_import_processes_auto_starts_workers_only_for_large_files_on_several_cpus() -> None:
    from app.config import from_environment
    from app.subjects.service import AUTO_WORKERS_MIN_BYTES, worker_processes

    assert from_environment({})["IMPORT_PROCESSES"] == "auto"
    assert from_environment({"BREACH_NOTIFY_IMPORT_PROCESSES": "3"})["IMPORT_PROCESSES"] == 3
    assert from_environment({"BREACH_NOTIFY_IMPORT_PROCESSES": " "})["IMPORT_PROCESSES"] == "auto"  # blank: unset
    for bad in ("0", "two", "-1"):
        with pytest.raises(ValueError, match="BREACH_NOTIFY_IMPORT_PROCESSES must be `auto`"):
            from_environment({"BREACH_NOTIFY_IMPORT_PROCESSES": bad})
    assert worker_processes("auto", file_bytes=AUTO_WORKERS_MIN_BYTES, cpus=2) == 2
    assert worker_processes("auto", file_bytes=AUTO_WORKERS_MIN_BYTES - 1, cpus=8) == 1
    assert worker_processes("auto", file_bytes=10**9, cpus=1) == 1
    assert worker_processes(3, file_bytes=10, cpus=1) == 3


def test_subjects_prepared_in_workers_match_subjects_prepared_in_process(tmp_path: Path) -> None:
    """The import's pool path (workers normalise, encrypt, index and merge their chunk) gives the same
    reports, merges and subjects as the same work in one process."""
    from app.crypto import Keys
    from app.subjects.preparing import prepared_chunks

    reader = _reader(tmp_path, "external_id,full_name,email,phone,country,ignored",
                     [f'{i},"Name\n{i}",p{i % 20}@mail.de,030 {1000000 + i},DE,x' if i % 9 else f"{i},ragged"
                      for i in range(120)])
    keys = Keys((b"d" * 32,), b"i" * 32)

    def shape(chunks: list) -> list:  # what a chunk holds, without the random nonces of encrypted values
        return [(c.rows, c.reported, c.merged, [([i[:3] for i in s.identifiers], {
            k: v for k, v in s.values().items() if k != "full_name_enc"}) for s in c.subjects]) for c in chunks]

    in_process = list(prepared_chunks(reader, keys=keys, default_country=None, chunk_rows=25))
    # as the import does: CSV records cross to the workers as (line, cells) and become rows there
    pooled = list(prepared_chunks(reader.compact(), keys=keys, default_country=None, processes=2, chunk_rows=25,
                                  positions=reader.positions))
    assert shape(pooled) == shape(in_process)
    assert [c.rows for c in pooled] == [25, 25, 25, 25, 20]
    assert sum(rejected for c in pooled for rejected, _ in c.reported) == 14
    assert sum(c.merged for c in pooled) > 0  # p0..p19 repeat within a chunk
    first, second = list(itertools.islice(reader.compact(), 2))
    assert isinstance(first, Rejection) and first.line == 2
    assert second == (3, ["1", "Name\n1", "p1@mail.de", "030 1000001", "DE", "x"])  # the cells, unmapped ones too


def test_bulk_gc_freezes_and_restores_the_collector_and_still_collects_cycles() -> None:
    import gc
    import weakref

    from app.subjects.pipeline import bulk_gc

    class Node:
        pass

    before, frozen_before = gc.get_threshold(), gc.get_freeze_count()
    with bulk_gc(threshold=50):
        assert gc.get_threshold() == (50, *before[1:])
        assert gc.get_freeze_count() > frozen_before  # what existed on entry is left alone
        cycle = Node()
        cycle.me = cycle  # type: ignore[attr-defined]
        gone = weakref.ref(cycle)
        del cycle
        kept = [Node() for _ in range(200)]  # live allocations past the threshold trigger a young collection
        assert gone() is None  # a cycle made inside the block is collected
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert len(kept) == 200


def _double(chunk: list[int]) -> list[int]:
    return [2 * n for n in chunk]


def test_pooled_chunks_keep_order_and_pass_on_a_reading_error() -> None:
    """Results come back in input order; an error raised while reading reaches the consumer (the import then
    rolls back, so the results before it do not matter)."""
    from app.subjects.pipeline import map_chunks

    fork = multiprocessing.get_context("fork")
    assert list(itertools.chain.from_iterable(map_chunks(range(1000), _double, processes=2, chunk_rows=7,
                                                         context=fork))) == [2 * n for n in range(1000)]

    def failing() -> itertools.chain[int]:
        def boom() -> list[int]:
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "line 31")
        return itertools.chain(range(30), iter(boom, None))  # type: ignore[call-overload]

    with pytest.raises(UnicodeDecodeError, match="line 31"):
        list(map_chunks(failing(), _double, processes=2, chunk_rows=10, context=fork))


def test_import_workers_are_forked_on_linux_whatever_the_default_start_method() -> None:
    """A process that was itself spawned defaults to spawning (and Python 3.14 to a fork server): the import
    still forks its workers on Linux, so they start with the importing process's modules and collector
    settings."""
    import sys

    from app.subjects.preparing import pool_context

    default = multiprocessing.get_start_method(allow_none=True)
    multiprocessing.set_start_method("spawn", force=True)  # as in a spawned process
    try:
        context = pool_context()
    finally:
        multiprocessing.set_start_method(default, force=True)
    if sys.platform == "linux":
        assert context is not None and context.get_start_method() == "fork"
    else:
        assert context is None
