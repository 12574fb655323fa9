"""A notice never carries the breached values themselves: find them in rendered text.

Detected, in every part of every channel:

* ``ssn``: a US Social Security number written ``123-45-6789`` or ``123 45 6789`` (valid area, group and
  serial), or nine digits right after "SSN" / "social security";
* ``card``: 13-19 digits (spaces or dashes allowed between them) that pass the Luhn check;
* ``iban``: an IBAN (country, check digits, 11-30 alphanumerics) whose ISO 7064 mod-97 check holds;
* ``cn-id``: an 18-character PRC resident identity number whose ISO 7064 MOD 11-2 check holds;
* ``breached-value``: any value the caller passes (e.g. the person's actual account number or
  password from the subject record), and every value in the context under a sensitive key such as
  ``password``, ``ssn``, ``card_number``, ``iban``, ``account_number`` (4+ characters; digits compared
  without separators, letters without case).

Findings carry a masked excerpt only (last 4 characters), never the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)(\d{3})[- ](?!00)(\d{2})[- ](?!0000)(\d{4})(?![\d-])")
_SSN_KEYWORD = re.compile(r"(?i)(?:ssn|social security(?: number)?)\D{0,12}(\d{9})(?!\d)")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_CN_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?![\dA-Za-z])")
SENSITIVE_KEY = re.compile(
    r"(?i)(^|_)(password|passwd|pwd|passcode|pin|secret|ssn|social_security|national_id|government_id|"
    r"tax_id|passport|driver_?licen[cs]e|card_number|pan|cvv|cvc|iban|account_number|security_answer)"
    r"($|_)")
_MIN_VALUE = 4


@dataclass(frozen=True)
class ForbiddenHit:
    """A breached value found in a part: ``kind`` (see the module docstring), ``part`` and a masked
    ``excerpt`` such as ``***6789``."""

    kind: str
    part: str
    excerpt: str


def _mask(value: str) -> str:
    return "***" + value[-4:] if len(value) > 4 else "***"


def luhn_valid(digits: str) -> bool:
    """Luhn (ISO/IEC 7812-1) check of a digit string."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """ISO 13616 / ISO 7064 mod-97 check of an IBAN (spaces ignored)."""
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def cn_id_valid(text: str) -> bool:
    """ISO 7064 MOD 11-2 check digit of an 18-character PRC resident identity number (GB 11643)."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(text[:17], weights, strict=True))
    return "10X98765432"[total % 11] == text[17].upper()


def _pattern_hits(text: str) -> Iterator[tuple[str, str]]:
    for match in _SSN.finditer(text):
        yield "ssn", match.group(0)
    for match in _SSN_KEYWORD.finditer(text):
        yield "ssn", match.group(1)
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            yield "card", digits
    for match in _IBAN.finditer(text):
        if iban_valid(match.group(0)):
            yield "iban", match.group(0).replace(" ", "")
    for match in _CN_ID.finditer(text):
        if cn_id_valid(match.group(0)):
            yield "cn-id", match.group(0)


def sensitive_values(context: Any) -> list[str]:
    """String values (and numbers) found under sensitive keys anywhere in a nested mapping/list."""
    found: list[str] = []
    if isinstance(context, Mapping):
        for key, value in context.items():
            if SENSITIVE_KEY.search(str(key)) and isinstance(value, str | int) and not isinstance(value, bool):
                found.append(str(value))
            else:
                found.extend(sensitive_values(value))
    elif isinstance(context, list | tuple):
        for item in context:
            found.extend(sensitive_values(item))
    return found


def _value_in(text: str, value: str) -> bool:
    digits = re.sub(r"[\s-]", "", value)
    if digits.isdigit():
        return digits in re.sub(r"(?<=\d)[\s-](?=\d)", "", text)
    return value.casefold() in text.casefold()


def find_forbidden(parts: Mapping[str, str], *, breached_values: Iterable[str] = (),
                   context: Any = None) -> list[ForbiddenHit]:
    """All forbidden values found in ``parts`` (part name -> text); see the module docstring."""
    values = [v.strip() for v in (*breached_values, *sensitive_values(context)) if v]
    values = [v for v in values if len(v) >= _MIN_VALUE]
    hits: list[ForbiddenHit] = []
    for part, text in parts.items():
        hits.extend(ForbiddenHit(kind, part, _mask(value)) for kind, value in _pattern_hits(text))
        hits.extend(ForbiddenHit("breached-value", part, _mask(v)) for v in values if _value_in(text, v))
    return hits
