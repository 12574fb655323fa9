"""bulk.IdRuns: the import's set of new subject ids, held as runs (a million ids must not cost a set's memory)."""

import pytest

from app.subjects.bulk import IdRuns


def test_runs_answer_membership_and_size_like_a_set() -> None:
    runs, reference = IdRuns(), set()
    for chunk in ([1, 2, 3], [4, 5], [9, 10, 12], [13], [20]):  # gaps where another session drew ids
        runs.add(chunk)
        reference.update(chunk)
    runs.discard([2, 12, 7, 2])  # 7 was never added; 2 twice
    reference -= {2, 12}
    assert len(runs) == len(reference) == 8
    assert [i for i in range(0, 25) if i in runs] == sorted(reference)
    assert "3" not in runs


def test_consecutive_chunks_join_into_one_run() -> None:
    runs = IdRuns()
    for start in range(1, 1_000_001, 5000):
        runs.add(range(start, start + 5000))
    assert len(runs) == 1_000_000
    assert (runs._starts, runs._stops) == ([1], [1_000_001])
    assert 1 in runs and 1_000_000 in runs and 1_000_001 not in runs and 0 not in runs


def test_ids_not_above_those_added_are_refused() -> None:
    runs = IdRuns()
    runs.add([5, 6])
    with pytest.raises(ValueError, match="id 6 is not above"):
        runs.add([6])
    with pytest.raises(ValueError, match="id 8 is not above"):
        runs.add([9, 8])


def test_an_id_removed_and_drawn_again_is_held_again() -> None:
    runs = IdRuns()  # SQLite draws max(id) + 1, so the top id merged away is drawn again by the next chunk
    runs.add([1, 2])
    runs.discard([2])
    runs.add([2, 3])
    assert len(runs) == 3 and [i for i in range(5) if i in runs] == [1, 2, 3]
