"""Text encoding and CSV delimiter detection on bounded samples; memory stays flat.

UTF-8 is checked over the whole file in 1 MiB chunks (cheap, and the only way to be sure a file
whose first accent comes late is really UTF-8). Anything else is guessed by charset-normalizer
on a bounded sample around the first non-UTF-8 byte.
"""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

import charset_normalizer

from app.subjects.errors import SubjectFileError

SAMPLE_BYTES = 64 * 1024
"""Bytes handed to charset-normalizer / read for sniffing."""

_CHUNK = 1024 * 1024
_DELIMITERS = ",;\t"
_WESTERN = "cp1252"
_CHAOS_TOLERANCE = 0.01
_LATIN1_ALIASES = frozenset({"latin_1", "iso8859_1", "iso8859_15", "ascii"})


def detect_encoding(path: Path) -> str:
    """The Python codec name to read ``path`` with.

    Returns ``utf-8-sig`` for a UTF-8 BOM (the BOM is then stripped and never sticks to the first
    header), ``utf-16`` for a UTF-16 BOM, ``utf-16-le``/``utf-16-be`` for UTF-16 without one (see
    :func:`_bomless_utf16`), ``utf-8`` for valid UTF-8 (ASCII included), else
    charset-normalizer's guess. Latin-1 guesses, and ties where Windows-1252 decodes the sample
    (almost) as cleanly, become ``cp1252`` (the WHATWG rule: spreadsheet exports say Latin-1 and mean it).

    Raises:
        OSError: the file cannot be read.
        SubjectFileError: the file is UTF-8 (accented text before the first bad byte decodes as UTF-8) with
            a byte that is not: read in a legacy encoding, every accent would be silently garbled.
    """
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if utf16 := _bomless_utf16(head):
        return utf16
    bad = first_invalid_utf8(path)
    if bad is None:
        return "utf-8"
    _refuse_damaged_utf8(path, bad)
    with path.open("rb") as handle:
        handle.seek(max(0, bad - SAMPLE_BYTES // 2))
        window = handle.read(SAMPLE_BYTES)
    return _guess_legacy(head if bad < SAMPLE_BYTES else head[: SAMPLE_BYTES // 2] + window)


def _bomless_utf16(head: bytes) -> str | None:
    """``utf-16-le`` or ``utf-16-be`` when the sample ``head`` is UTF-16 text without a BOM, else None.

    Text in UTF-8 or a legacy encoding holds no NUL bytes (a stray one at most). UTF-16 holds one in every code
    unit below U+0100: a CSV's delimiters, line breaks, digits and Latin letters, after the character's byte
    (little-endian, odd offsets) or before it (big-endian, even offsets); units such as U+4E00 (一) put theirs on
    the other side. Decides for UTF-16 when at least one code unit in 16 holds a NUL, at least 80% of the NULs
    sit on one side, and the sample decodes as UTF-16 in that order into text with a line break (UTF-8 with a
    few stray NULs decodes, as UTF-16, into text without one). Without this, an all-ASCII UTF-16 file
    (valid UTF-8, full of NULs) was read with NUL-laced headers, and mostly-CJK text could look like damaged UTF-8.
    """
    units = len(head) // 2
    odd, even = head[1 : units * 2 : 2].count(0), head[0 : units * 2 : 2].count(0)
    if units < 2 or odd + even < max(units / 16, 2):
        return None
    encoding = "utf-16-le" if odd >= 0.8 * (odd + even) else "utf-16-be" if even >= 0.8 * (odd + even) else None
    if encoding is None:
        return None
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(head[: units * 2])
    except UnicodeDecodeError:
        return None
    return encoding if "\n" in text or "\r" in text else None  # a stray NUL in UTF-8 decodes to no line break


def first_invalid_utf8(path: Path) -> int | None:
    """Byte offset of the first invalid UTF-8 sequence in ``path``, or None if all valid."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            pending = decoder.getstate()[0]
            if not pending and chunk.isascii():
                offset += len(chunk)
                continue
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return max(0, offset - len(pending) + exc.start)
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return offset
    return None


def _refuse_damaged_utf8(path: Path, bad: int) -> None:
    """Raise ``SubjectFileError`` naming the line of byte ``bad`` when non-ASCII text before it is valid UTF-8."""
    utf8 = False
    lines = 1
    with path.open("rb") as handle:
        left = bad
        while left > 0 and (chunk := handle.read(min(_CHUNK, left))):
            left -= len(chunk)
            utf8 = utf8 or not chunk.isascii()
            lines += chunk.count(b"\n")
    if utf8:
        raise SubjectFileError(f"line {lines}: a byte that is not UTF-8 in a file whose earlier text is UTF-8 (the "
                               "file mixes encodings?): save the file as UTF-8 and try again")


def _guess_legacy(sample: bytes) -> str:
    matches = charset_normalizer.from_bytes(sample)
    best = matches.best()
    if best is None:
        return _WESTERN
    if best.encoding in _LATIN1_ALIASES:
        return _WESTERN if _decodes(sample, _WESTERN) else best.encoding
    for match in matches:
        as_clean = match.chaos <= best.chaos + _CHAOS_TOLERANCE
        if as_clean and _WESTERN in match.could_be_from_charset and _decodes(sample, _WESTERN):
            return _WESTERN
    return best.encoding


def _decodes(sample: bytes, encoding: str) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample)
    except UnicodeDecodeError:
        return False
    return True


def sniff_delimiter(sample: str) -> str:
    """The CSV delimiter among ``,``, ``;`` and tab.

    ``csv.Sniffer`` (restricted to those three) decides when its answer also splits the header
    line; otherwise the one most frequent in the header line wins; ``,`` as the last resort.
    """
    header = sample.split("\n", 1)[0]
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        sniffed = ""
    if sniffed and sniffed in header:
        return sniffed
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def text_sample(path: Path, encoding: str, size: int = 16 * 1024) -> str:
    """Up to ``size`` bytes of ``path`` decoded, cut at the last complete line, newlines as ``\\n``."""
    with path.open("rb") as handle:
        raw = handle.read(size)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(raw)
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    cut = text.rfind("\n")
    return text[: cut + 1] if cut > 0 and len(raw) == size else text
