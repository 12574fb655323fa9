"""Streaming readers for CSV and JSONL subject files.

``open_subject_file`` looks at the file once (format, encoding, delimiter, headers) and raises
:class:`SubjectFileError` for problems that make the whole file unusable. Iterating the returned
:class:`SubjectReader` then streams :class:`RawRow` / :class:`Rejection` values one record at a time:
the file is never read into memory, and every value stays the exact text of the file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from app.subjects.columns import HeaderMap, match_headers
from app.subjects.encoding import SAMPLE_BYTES, detect_encoding, sniff_delimiter, text_sample
from app.subjects.errors import SubjectFileError
from app.subjects.model import RawRow, Rejection

FileFormat = Literal["csv", "jsonl"]
ReadItem = RawRow | Rejection
"""What iterating a :class:`SubjectReader` yields."""
CompactItem = ReadItem | tuple[int, list[str]]
"""What :meth:`SubjectReader.compact` yields: a CSV record as ``(line, cells)``."""

_JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})


@dataclass(frozen=True, slots=True)
class SubjectReader:
    """A re-iterable, streaming view of one subject file.

    Each iteration opens the file afresh and yields, in file order, a :class:`RawRow` per record
    (values keyed by canonical column) or a :class:`Rejection` for a record that cannot be read
    (ragged row, invalid JSON...). Blank lines are skipped.

    Attributes:
        path: the file.
        format: ``csv`` or ``jsonl``.
        encoding: Python codec used (``utf-8``, ``utf-8-sig``, ``cp1252``...).
        delimiter: the CSV delimiter (None for JSONL).
        headers: CSV header row, or the JSON keys seen in the sample (first-seen order).
        header_map: how headers map to canonical columns; ``header_map.unmapped`` are ignored.
    """

    path: Path
    format: FileFormat
    encoding: str
    delimiter: str | None
    headers: tuple[str, ...]
    header_map: HeaderMap

    def __iter__(self) -> Iterator[ReadItem]:
        """Stream the records; raises SubjectFileError if the text cannot be decoded."""
        positions = self.positions
        for item in self.compact():
            yield expand(item, positions)

    def compact(self) -> Iterator[CompactItem]:
        """Stream the records as iterating does, except that a CSV record comes as ``(line, cells)``: cheaper
        to build and to pickle in the importing process than a :class:`RawRow`; :func:`expand` with
        :attr:`positions` makes the RawRow where the record is worked on (a pool worker).

        Raises SubjectFileError if the text cannot be decoded.
        """
        rows = self._csv_records() if self.format == "csv" else self._jsonl_rows()
        try:
            yield from rows
        except UnicodeDecodeError as exc:
            raise undecodable(self.path, self.encoding) from exc

    @property
    def positions(self) -> tuple[tuple[int, str], ...]:
        """``(cell index, canonical column)`` of every mapped CSV header (empty for JSONL)."""
        return tuple((i, self.header_map.by_source[h]) for i, h in enumerate(self.headers)
                     if h in self.header_map.by_source) if self.format == "csv" else ()

    def _csv_records(self) -> Iterator[CompactItem]:
        width = len(self.headers)
        with self.path.open(encoding=self.encoding, newline="") as handle:
            reader = csv.reader(handle, delimiter=self.delimiter or ",")
            _skip_header(reader)
            end = reader.line_num
            while True:
                start = end + 1
                try:
                    record = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    end = reader.line_num
                    yield Rejection.of(start, f"unreadable CSV record ({exc})")
                    continue
                end = reader.line_num
                if end > start and _swallows_records(record, self.delimiter or ",", width):
                    raise SubjectFileError(
                        f"line {start}: a quoted field runs on to line {end} and holds what look like whole records "
                        "(an opening quote without its closing quote?): fix the quoting and try again")
                if not "".join(record).strip():  # blank record: every field empty or whitespace
                    continue
                if len(record) != width and not _trailing_blanks_only(record, width):
                    yield Rejection.of(start, f"ragged row: expected {width} fields, found {len(record)}")
                    continue
                yield start, record

    def _jsonl_rows(self) -> Iterator[ReadItem]:
        with self.path.open(encoding=self.encoding) as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield _jsonl_record(number, line, self.header_map)


def _swallows_records(record: list[str], delimiter: str, width: int) -> bool:
    """True when a field of a multi-line record has a line holding a whole record's delimiters (``width - 1``, at
    least 2): a stray opening quote made the reader take the lines after it, other people's rows, as one field.
    A real multi-line value (an address on two lines) holds a delimiter rarely, never a record's worth."""
    least = max(width - 1, 2)  # a two-column file's value may hold one delimiter on a line of its own
    return any(line.count(delimiter) >= least for field in record if "\n" in field for line in field.split("\n"))


def expand(item: CompactItem, positions: tuple[tuple[int, str], ...]) -> ReadItem:
    """The :class:`RawRow` of a compact ``(line, cells)`` CSV record (see :meth:`SubjectReader.compact`);
    anything else is returned as it is."""
    if isinstance(item, tuple):
        line, record = item
        return RawRow(line, {column: record[i] for i, column in positions})
    return item


def open_subject_file(path: Path, *, mapping: Mapping[str, str] | None = None) -> SubjectReader:
    """Inspect ``path`` and return a streaming reader for it.

    Format: ``.jsonl``/``.ndjson``/``.json`` or content starting with ``{`` means JSONL, else CSV.
    Encoding: see :func:`app.subjects.encoding.detect_encoding`. Delimiter: ``,``, ``;`` or tab,
    sniffed on a bounded sample. Headers: matched by :func:`app.subjects.columns.match_headers`
    with the optional ``{canonical: source_header}`` ``mapping``.

    Raises:
        SubjectFileError: empty file, JSON array instead of JSONL, no header, duplicate header,
            no contact column, or a mapping that does not fit the file.
        OSError: the file cannot be read.
    """
    encoding = detect_encoding(path)
    sample = text_sample(path, encoding, SAMPLE_BYTES)
    first = sample.lstrip()[:1]
    if not first:
        raise SubjectFileError(f"{path.name} is empty")
    if first == "[":
        raise SubjectFileError(f"{path.name} is a JSON array; subject files must be JSONL (one object per line)")
    if first == "{" or (path.suffix.lower() in _JSONL_SUFFIXES):
        headers = _jsonl_sample_keys(path.name, sample)
        return SubjectReader(path, "jsonl", encoding, None, headers,
                             match_headers(headers, mapping, per_record=True))
    delimiter = sniff_delimiter(sample[: 16 * 1024])
    headers = _csv_headers(path, encoding, delimiter)
    return SubjectReader(path, "csv", encoding, delimiter, headers, match_headers(headers, mapping))


def undecodable(path: Path, encoding: str) -> SubjectFileError:
    """The error for a file whose bytes do not decode with the detected ``encoding``."""
    return SubjectFileError(f"{path.name}: bytes that are not valid {encoding} (convert the file to UTF-8)")


def _csv_headers(path: Path, encoding: str, delimiter: str) -> tuple[str, ...]:
    with path.open(encoding=encoding, newline="") as handle:
        try:
            header = _skip_header(csv.reader(handle, delimiter=delimiter))
        except UnicodeDecodeError as exc:
            raise undecodable(path, encoding) from exc
    if header is None:
        raise SubjectFileError(f"{path.name} has no header row")
    return tuple(h.strip() for h in header)


def _skip_header(reader: Iterator[list[str]]) -> list[str] | None:
    for record in reader:
        if any(field.strip() for field in record):
            record[0] = record[0].lstrip("\ufeff")
            return record
    return None


def _trailing_blanks_only(record: list[str], width: int) -> bool:
    return len(record) > width and not any(field.strip() for field in record[width:])


def _jsonl_sample_keys(name: str, sample: str) -> tuple[str, ...]:
    keys: dict[str, None] = {}
    for line in sample.splitlines():
        try:
            obj = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            keys.update(dict.fromkeys(str(k) for k in obj))
    if not keys:
        raise SubjectFileError(f"{name}: no JSON object found in the first {SAMPLE_BYTES // 1024} KiB")
    return tuple(keys)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _jsonl_record(number: int, line: str, header_map: HeaderMap) -> ReadItem:
    try:
        obj = json.loads(line, parse_float=str, parse_int=str, parse_constant=str,
                         object_pairs_hook=_no_duplicate_keys)
    except ValueError as exc:
        reason = str(exc) if str(exc).startswith("duplicate key") else "invalid JSON"
        return Rejection.of(number, reason)
    if not isinstance(obj, dict):
        return Rejection.of(number, "not a JSON object")
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for key, value in obj.items():
        column = header_map.resolve(key)
        if column is None or value is None:
            continue
        if column in sources:
            return Rejection.of(number, f"keys {sources[column]!r} and {key!r} both map to column {column!r}")
        sources[column] = key
        values[column] = _json_text(column, value)
    return RawRow(number, values)


def _json_text(column: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and column == "data_categories":
        return ";".join(str(v) for v in value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
