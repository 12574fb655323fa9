"""SMS encoding, segment counting and fit (3GPP TS 23.038 / TS 23.040).

Units:

* **GSM-7**: one septet per character of the basic table; a character of the extension table (``€ [ ] { }
  \\ ^ ~ |`` and form feed) is sent as ESC + char, so it takes **2 septets**. One SMS carries 160
  septets; a concatenated message carries **153** per segment (the User Data Header takes 7), and an
  ESC pair is never split across two segments.
* **UCS-2**: one unit per UTF-16 code unit, so a character outside the Basic Multilingual Plane (an
  emoji) takes **2**. One SMS carries 70 units; a concatenated one **67** per segment, and a surrogate
  pair is never split.

SMS is a supplementary channel only: it carries a short alert and the personal link to the full notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# 3GPP TS 23.038 default alphabet, 0x00-0x7F (0x1B, the escape to the extension table, is left out).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# 3GPP TS 23.038 default alphabet extension table: each costs ESC + char = 2 septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE_CAPACITY: dict[Encoding, int] = {"GSM-7": 160, "UCS-2": 70}
CONCAT_CAPACITY: dict[Encoding, int] = {"GSM-7": 153, "UCS-2": 67}

# Typographic characters outside GSM-7 and their GSM-7 replacements (used by ``to_gsm7``).
_TYPOGRAPHIC = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"', "\u2039": "'", "\u203a": "'",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2009": " ", "\u202f": " ", "\u2007": " ",
    "\u200b": "", "\u200c": "", "\u200d": "", "\ufeff": "",
    "\u2022": "-", "\u00b7": "-",
}


@dataclass(frozen=True)
class SmsFit:
    """How a text travels as SMS.

    ``units`` is septets (GSM-7) or UTF-16 code units (UCS-2); ``segments`` the number of SMS billed
    (0 for an empty text); ``per_segment`` the capacity in units of each segment (160/70 for a single
    message, 153/67 when concatenated).
    """

    encoding: Encoding
    units: int
    segments: int
    per_segment: int


@dataclass(frozen=True)
class SmsCheck:
    """Result of ``fit_sms``: the (possibly normalised) ``text``, its ``fit``, and ``ok`` when it has at
    most ``max_segments`` segments; ``problem`` explains a failure."""

    text: str
    fit: SmsFit
    max_segments: int
    ok: bool
    problem: str | None


def _is_gsm7(char: str) -> bool:
    return char in GSM7_BASIC or char in GSM7_EXTENSION


def sms_encoding(text: str) -> Encoding:
    """``"GSM-7"`` when every character is in the GSM-7 basic or extension table, else ``"UCS-2"``."""
    return "GSM-7" if all(_is_gsm7(c) for c in text) else "UCS-2"


def _unit_costs(text: str, encoding: Encoding) -> list[int]:
    if encoding == "GSM-7":
        return [2 if c in GSM7_EXTENSION else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def _pack(costs: list[int], capacity: int) -> int:
    """Greedy packing of indivisible characters into segments of ``capacity`` units."""
    count, used = 1, 0
    for cost in costs:
        if used + cost > capacity:
            count, used = count + 1, 0
        used += cost
    return count


def segments(text: str) -> SmsFit:
    """Encoding, unit count and segment count of ``text`` (see the module docstring for units)."""
    encoding = sms_encoding(text)
    costs = _unit_costs(text, encoding)
    units = sum(costs)
    if units == 0:
        return SmsFit(encoding, 0, 0, SINGLE_CAPACITY[encoding])
    if units <= SINGLE_CAPACITY[encoding]:
        return SmsFit(encoding, units, 1, SINGLE_CAPACITY[encoding])
    capacity = CONCAT_CAPACITY[encoding]
    return SmsFit(encoding, units, _pack(costs, capacity), capacity)


def to_gsm7(text: str) -> str:
    """Replace typographic quotes, dashes, ellipsis and special spaces by their GSM-7 equivalents.

    U+2019 (right single quote) becomes ``'``, U+201C/U+201D become ``"``, U+2013/U+2014 (en and em
    dash) become ``-``, U+2026 (ellipsis) becomes ``...``. Other
    characters are kept, so a text in a non-Latin script stays UCS-2.
    """
    return "".join(_TYPOGRAPHIC.get(c, c) for c in text)


def sms_text(text: str, *, normalise: bool) -> str:
    """An SMS as it is counted and sent: ``to_gsm7(text)`` when ``normalise`` (the
    ``NOTICE_SMS_NORMALISE`` setting a version was approved with), else ``text`` as written."""
    return to_gsm7(text) if normalise else text


def fit_sms(text: str, *, max_segments: int, normalise: bool = True) -> SmsCheck:
    """Check that ``text`` fits in ``max_segments`` SMS segments (``>= 1``).

    With ``normalise`` the text is first passed through ``to_gsm7`` (only typographic punctuation is
    changed), which often turns a UCS-2 message into a GSM-7 one of more than twice the capacity.
    """
    if max_segments < 1:
        raise ValueError("max_segments must be at least 1")
    final = sms_text(text, normalise=normalise)
    fit = segments(final)
    if fit.segments == 0:
        return SmsCheck(final, fit, max_segments, False, "SMS text is empty")
    if fit.segments > max_segments:
        problem = (f"SMS needs {fit.segments} segments ({fit.units} {fit.encoding} units), "
                   f"more than the maximum of {max_segments}")
        return SmsCheck(final, fit, max_segments, False, problem)
    return SmsCheck(final, fit, max_segments, True, None)
