"""The 64-bit blind-index keys (``subject_identifier.digest_key``) that exist, held in memory during an import,
so a chunk asks the database only about keys that may have an owner.

Why: most rows of a large import are new people, yet each chunk looked up its ~15,000 identifying keys in the
database (random probes of the ``digest_key`` index): about 11 us a row on the importing process, the import's
critical path on SQLite, and server time on PostgreSQL (docs/performance.md, 2026-12-04 evening). A key absent
from this set has no identifier in the registry, so it needs no query; a key present is looked up as before
(the query then compares the whole digest, so two digests sharing 64 bits never mix people up).

The set holds the registry's keys when the import starts (:func:`registry_keys`) and every key the import
writes (:meth:`KeySet.add`): sorted ``int64`` arrays, 8 bytes a key (24 MB for a million people with three
identifying contacts each). A registry with more than ``PRELOAD_MAX_KEYS`` keys is not loaded: the import then
looks up every key in the database, as before.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sqlmodel import Session

PRELOAD_MAX_KEYS = 8_000_000
"""Registry keys loaded at most (64 MB); beyond, every key is looked up in the database."""
COMPACT_EVERY = 4
"""Arrays added before they are merged into one (a merge of sorted runs costs about one pass over the keys;
each array kept apart costs every membership test a binary search)."""

_COUNT_SQL = "SELECT count(*) FROM subject_identifier WHERE digest_key IS NOT NULL"
_KEYS_SQL = "SELECT digest_key FROM subject_identifier WHERE digest_key IS NOT NULL"


class KeySet:
    """A growing set of ``int64`` keys with vectorised membership tests.

    ``keys``: the initial keys (any order, repeats allowed). :meth:`add` takes more; :meth:`contains` answers
    for many keys at once.
    """

    def __init__(self, keys: Iterable[int] = ()) -> None:
        self._main = np.unique(np.fromiter(keys, dtype=np.int64))
        self._recent: list[np.ndarray] = []

    def __len__(self) -> int:
        """Keys held (repeats added after the start are counted until the next merge)."""
        return int(self._main.size + sum(part.size for part in self._recent))

    def add(self, keys: Iterable[int]) -> None:
        """Add ``keys``; merges the recent additions into one sorted array every ``COMPACT_EVERY`` calls."""
        part = np.sort(np.fromiter(keys, dtype=np.int64))
        if part.size:
            self._recent.append(part)
        if len(self._recent) >= COMPACT_EVERY:
            # sorted runs: the stable sort (timsort) merges them in about one pass
            self._main = np.sort(np.concatenate([self._main, *self._recent]), kind="stable")
            self._recent = []

    def contains(self, keys: list[int]) -> list[bool]:
        """For each of ``keys``, whether it is in the set."""
        probe = np.asarray(keys, dtype=np.int64)
        order = np.argsort(probe)  # sorted probes search a large array in cache order
        ordered = probe[order]
        found = _member(self._main, ordered)
        for part in self._recent:
            found |= _member(part, ordered)
        result = np.empty_like(found)
        result[order] = found
        hits: list[bool] = result.tolist()
        return hits


def _member(ordered: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """Element-wise membership of ``probe`` in the sorted array ``ordered``."""
    if not ordered.size:
        return np.zeros(probe.shape, dtype=bool)
    at = np.searchsorted(ordered, probe)
    at[at == ordered.size] = 0
    return np.asarray(ordered[at] == probe)


def registry_keys(session: Session) -> KeySet | None:
    """A :class:`KeySet` of every identifying key in the registry now, read in this session's transaction,
    or None when there are more than ``PRELOAD_MAX_KEYS`` (look up every key in the database instead)."""
    conn = session.connection()
    if int(conn.exec_driver_sql(_COUNT_SQL).scalar_one()) > PRELOAD_MAX_KEYS:
        return None
    result = conn.exec_driver_sql(_KEYS_SQL)
    return KeySet(int(row[0]) for row in result)
