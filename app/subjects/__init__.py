"""Data subjects: reading, checking, normalising and de-duplicating subject files (no database).

Typical use (the database layer builds on this)::

    reader = open_subject_file(path, mapping=load_mapping(m) if m else None)   # may raise SubjectFileError
    for outcome in normalise_stream(reader, default_country="DE", processes=2):
        for issue in outcome.issues: ...            # rejects report (line, column, kind, reason)
        if isinstance(outcome, NormalisedRow):
            keys = dedupe_keys(outcome, keys.blind_index())   # look up / merge in the DB
"""

from __future__ import annotations

from app.subjects.columns import CANONICAL_COLUMNS, CONTACT_COLUMNS, HeaderMap, load_mapping, match_headers
from app.subjects.dedupe import dedupe_keys, identity_keys
from app.subjects.errors import SubjectFileError
from app.subjects.jurisdiction import resolve_jurisdiction
from app.subjects.model import (
    Issue,
    IssueKind,
    Jurisdiction,
    NormalisedRow,
    Outcome,
    PostalAddress,
    RawRow,
    Rejection,
)
from app.subjects.normalise import normalise_chunk, normalise_row
from app.subjects.pipeline import normalise_stream
from app.subjects.reading import SubjectReader, open_subject_file

__all__ = [
    "CANONICAL_COLUMNS",
    "CONTACT_COLUMNS",
    "HeaderMap",
    "Issue",
    "IssueKind",
    "Jurisdiction",
    "NormalisedRow",
    "Outcome",
    "PostalAddress",
    "RawRow",
    "Rejection",
    "SubjectFileError",
    "SubjectReader",
    "dedupe_keys",
    "identity_keys",
    "load_mapping",
    "match_headers",
    "normalise_chunk",
    "normalise_row",
    "normalise_stream",
    "open_subject_file",
    "resolve_jurisdiction",
]
