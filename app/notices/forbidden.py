"""A notice never carries the breached values themselves: find them in rendered text.

Detected, in every part of every channel:

* ``ssn``: a US Social Security number written ``123-45-6789`` or ``123 45 6789`` (valid area, group and
  serial), or nine digits right after "SSN" / "social security";
* ``card``: 13-19 digits (spaces or dashes allowed between them) that pass the Luhn check;
* ``iban``: an IBAN (country, check digits, 11-30 alphanumerics) whose ISO 7064 mod-97 check holds;
* ``cn-id``: an 18-character PRC resident identity number whose ISO 7064 MOD 11-2 check holds;
* a value written right after its label (``LABELS``), in English, German, French or Chinese:
  ``password`` (password, passcode, PIN, security code, CVV; Passwort, Kennwort, Geheimzahl; mot de passe,
  code PIN, code de sécurité; 密码, 口令), ``account-number`` (account or routing number; Kontonummer;
  numéro de compte; 账号, 银行卡号), ``driver-licence`` (driver's licence/license (number); Führerschein(nummer);
  permis de conduire, numéro de permis; 驾驶证号, 驾照号) and ``passport`` (passport (number);
  Reisepassnummer, Passnummer; numéro de passeport; 护照号). Between label and value may stand ``:``, ``=``,
  ``#``, ``no.`` or a verb such as "is", "was", "ist", "lautet", "est", 为 or 是. The value is the next
  token and counts only when it contains a digit, mixes letters with a symbol (``!``, ``@``, ``$`` ...) or
  is quoted after a connector (``password: "letmein"``), and is not masked (``****3456``, ``XXXX3456``).
  So "change your password", "your account number was involved" and "90-day password "age" limits" pass,
  while "account number 00123456", "password hunter2!" and "passport 123456789" are found. A plain word
  after a label ("password: secret") is not told apart from prose and is not found unless quoted;
* ``breached-value``: any value the caller passes (e.g. the person's actual account number or
  password from the subject record), and every value in the context under a sensitive key such as
  ``password``, ``ssn``, ``card_number``, ``iban``, ``account_number`` (4+ characters; digits compared
  without separators, letters without case).

Findings carry a masked excerpt only (last 4 characters), never the value; a ``password`` finding (a
secret, not an identifier) carries ``***`` alone.
"""

from __future__ import annotations

import html
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
_CONNECTOR = (r"(?:[ \t]*(?P<connector>[:=#\uff1a\u4e3a\u662f]|(?:n[o\u00b0]\.?|nr\.?|is|was|ist|lautet|war|est|"
              r"\u00e9tait)(?![^\W\d_])))?[ \t]*")
_OPEN_QUOTE, _CLOSE_QUOTE = "\"'\u201c\u2018\u00ab\u201e\u300c", "\"'\u201d\u2019\u00bb\u201c\u300d"
_VALUE = (rf"(?:[{_OPEN_QUOTE}]\s?(?P<quoted>[^\s{_CLOSE_QUOTE}]{{3,}})\s?[{_CLOSE_QUOTE}]"
          r"|(?P<value>[0-9A-Za-z\u00c0-\u00ff!#$%&*+=@^_~./\\-]{3,}))")
LABELS: dict[str, tuple[str, ...]] = {
    "password": (r"pass(?:word|code|phrase)", r"pin(?:[ -]?(?:code|number|no\.?))?", r"security[ -]code", r"cvv2?",
                 r"cvc2?", r"passwort", r"kennwort", r"geheimzahl", r"pin-nummer", r"sicherheitscode",
                 r"mot de passe", r"code (?:pin|secret|confidentiel|de sécurité)", r"密码", r"口令"),
    "account-number": (r"(?:bank[ -])?account[ -]?(?:number|no\.?|nr\.?|#)", r"acct\.?[ -]?(?:number|no\.?|#)?",
                       r"routing[ -](?:number|no\.?|#)", r"kontonummer", r"konto-?nr\.?",
                       r"numéro de compte(?: bancaire)?", r"n° de compte", r"银行卡号", r"账号", r"帐号", r"账户号码"),
    "driver-licence": (r"driver[\u2019']?s?[ -]licen[cs]e(?:[ -](?:number|no\.?|#))?",
                       r"driving[ -]licen[cs]e(?:[ -](?:number|no\.?|#))?", r"führerschein(?:nummer|-?nr\.?)?",
                       r"(?:numéro de )?permis de conduire", r"numéro de permis", r"驾驶证号(?:码)?", r"驾照号(?:码)?"),
    "passport": (r"passport(?:[ -](?:number|no\.?|#))?", r"(?:reise)?pass(?:nummer|-?nr\.?)",
                 r"(?:numéro de )?passeport", r"护照号(?:码)?"),
}
"""Labels of values a notice must never carry, per finding kind (regular expressions, any case)."""
_CJK = re.compile(r"[\u4e00-\u9fff]")
_MASKED = re.compile(r"[*•]{2,}|[xX]{3,}")
_SYMBOL = re.compile(r"[!#$%&*+=@^_~]")


def _label_pattern(labels: tuple[str, ...]) -> re.Pattern[str]:
    """A label followed by a connector and a value. A Latin-script label must not sit inside a longer word
    ("password-protected", "Passwörter"); a Chinese one has no word boundaries to respect."""
    latin = "|".join(label for label in labels if not _CJK.match(label))
    cjk = "|".join(label for label in labels if _CJK.match(label))
    return re.compile(rf"(?i)(?:(?<!\w)(?:{latin})(?!\w|-\w)|{cjk}){_CONNECTOR}{_VALUE}")


_LABELLED = {kind: _label_pattern(labels) for kind, labels in LABELS.items()}


def labelled_values(text: str) -> Iterator[tuple[str, str]]:
    """``(kind, value)`` for every value written right after a ``LABELS`` label (see the module docstring).
    HTML character references are read as the characters they stand for (``&#39;`` is no value)."""
    plain = html.unescape(text)
    for kind, pattern in _LABELLED.items():
        for match in pattern.finditer(plain):
            quoted = match.group("quoted")
            value = quoted or match.group("value").rstrip("./-")
            if _MASKED.search(value) or len(value) < 3:
                continue
            symbol_in_word = _SYMBOL.search(value) is not None and any(c.isalpha() for c in value)
            said = quoted is not None and match.group("connector") is not None  # 'password: "letmein"'
            if said or symbol_in_word or any(c.isdigit() for c in value):
                yield kind, value


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
    yield from labelled_values(text)


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
        hits.extend(ForbiddenHit(kind, part, "***" if kind == "password" else _mask(value))
                    for kind, value in _pattern_hits(text))
        hits.extend(ForbiddenHit("breached-value", part, _mask(v)) for v in values if _value_in(text, v))
    return hits
