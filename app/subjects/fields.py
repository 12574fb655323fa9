"""Checks for single values. Each returns ``(value, None)`` or ``(None, reason)``; never raises.

Reasons never quote contact data (emails, phones, names, addresses).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from functools import cache, lru_cache
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import phonenumberutil

from app.incidents.schema import DataCategory

Checked = tuple[str | None, str | None]
"""``(normalised value, None)`` on success, ``(None, reason)`` on rejection."""

SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")
_DECIMAL = re.compile(r"^\+?\d+[.,]0+$")
_PHONE_CHARS = re.compile(r"[\s\-./()]")
_PLAIN_PHONE = re.compile(r" *\+?[0-9 ().\-/]+")
_PLAIN_PUNCTUATION = re.compile(r"[ ().\-/]")
_matches = phonenumberutil._is_number_matching_desc  # the library's own test of one number type's patterns
CATEGORIES: frozenset[str] = frozenset(c.value for c in DataCategory)
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"^{_ATEXT}(?:\.{_ATEXT})*$")
_MAX_EMAIL = 254
_MAX_LOCAL = 64
_P256DH_BYTES = 65
_AUTH_BYTES = 16


def spreadsheet_damage(value: str) -> str | None:
    """Why ``value`` looks like a number a spreadsheet reformatted, or None.

    ``4.47E+11`` lost digits and must never be guessed back; ``491512345.0`` had a decimal added.
    Both forms need an ``e``/``E`` or a ``.``/``,``; text with none of them (nearly every phone and postal
    code, checked for each row) is answered without the two regular expressions, a sixth of the cost.
    """
    if "." not in value and "," not in value and "e" not in value and "E" not in value:
        return None
    compact = value.replace(" ", "")
    if SCIENTIFIC.match(compact):
        return "scientific notation (e.g. 4.47E+11) from a spreadsheet: digits were lost; export the column as text"
    if _DECIMAL.match(compact):
        return "number with a decimal part (e.g. 4915123456.0) from a spreadsheet; export the column as text"
    return None


@lru_cache(maxsize=16384)
def check_phone(value: str, region: str | None) -> Checked:
    """E.164 for ``value``, read in ``region`` (ISO alpha-2) when it is in national format.

    Cached per process (the same number repeated across rows and systems is parsed once; phonenumbers'
    parse and validity check is the costliest per-row step of an import).

    International formats (``+49...``, and ``00`` followed by the country code) need no region.
    Rejects spreadsheet damage, unparsable text and numbers that are not valid for their region.
    """
    damage = spreadsheet_damage(value)
    if damage:
        return None, damage
    number = _parse_phone(value, region)
    if number is None and _PHONE_CHARS.sub("", value).startswith("00"):
        number = _parse_phone("+" + _PHONE_CHARS.sub("", value)[2:], None)
    if number is None:
        if region is None and not value.lstrip().startswith(("+", "00")):
            return None, "national number without a country: add a country column or --default-country"
        return None, "not a valid phone number" + (f" for {region}" if region else "")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def _parse_phone(value: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    _keep_phone_patterns()
    plain = plain_phone(value)
    try:
        number = parse_plus_digits(plain, region)
        if number is None:
            number = phonenumbers.parse(plain, region)
    except phonenumbers.NumberParseException:
        return None
    return number if is_valid_phone(number) else None


def parse_plus_digits(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    """Exactly ``phonenumbers.parse(text, region)`` for ``text`` of ``+`` and 3 to 20 ASCII digits, or None
    when the library's own path is needed (a number with no known country code after the ``+``).

    The library reads any text: it looks for the number inside it, tests it against its viability and
    extension patterns and converts it to ASCII digits one character at a time: about 11 us per number of
    the import's commonest shape (what :func:`plain_phone` makes of ``+1 201 555 0123``), against 2.4 us
    here. For ``+`` and ASCII digits all of that leaves the digits unchanged, so only its later steps can
    change the result, and they are taken here with the library's own functions, in its order: the country code
    (the shortest leading 1-3 digits that are a known code), the metadata it picks, the national prefix or
    carrier code it strips only when the rest still has a possible length, its length limits (raising the
    same ``NumberParseException`` types) and its Italian leading zeros. Digits after ``+`` that start with
    no known code send the library down a retry path (as an international prefix or the default region's
    code); those, and any other text, return None. ``tests/subjects/test_phone_fast_parse.py`` compares
    both on every region's example numbers, perturbed ones and random digit strings.
    """
    digits = text[1:]
    if text[:1] != "+" or not 3 <= len(digits) <= _MAX_PLUS_DIGITS or not digits.isdigit() or not digits.isascii():
        return None
    country_code, national = phonenumberutil._extract_country_code(digits)
    if country_code == 0:
        return None
    if len(national) < phonenumberutil._MIN_LENGTH_FOR_NSN:
        raise _too_short()
    metadata = _parse_metadata(country_code, region)
    if metadata is not None:
        _, stripped, _ = phonenumberutil._maybe_strip_national_prefix_carrier_code(national, metadata)
        if phonenumberutil._test_number_length(stripped, metadata) not in _KEEP_PREFIX:
            national = stripped
    if len(national) < phonenumberutil._MIN_LENGTH_FOR_NSN:  # as in the library, after stripping too
        raise _too_short()
    if len(national) > phonenumberutil._MAX_LENGTH_FOR_NSN:
        raise phonenumbers.NumberParseException(phonenumbers.NumberParseException.TOO_LONG,
                                                "The string supplied is too long to be a phone number.")
    number = phonenumbers.PhoneNumber()
    number.country_code = country_code
    phonenumberutil._set_italian_leading_zeros_for_phone_number(national, number)
    number.national_number = int(national)
    return number


_MAX_PLUS_DIGITS = 20


def _too_short() -> phonenumbers.NumberParseException:
    """The library's own error for a national number below its minimum length."""
    return phonenumbers.NumberParseException(phonenumbers.NumberParseException.TOO_SHORT_NSN,
                                             "The string supplied is too short to be a phone number.")
_KEEP_PREFIX = (phonenumberutil.ValidationResult.TOO_SHORT, phonenumberutil.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
                phonenumberutil.ValidationResult.INVALID_LENGTH)


@lru_cache(maxsize=4096)
def _parse_metadata(country_code: int, region: str | None) -> phonenumbers.PhoneMetadata | None:
    """The metadata ``phonenumbers.parse`` uses for a number with ``country_code`` read with ``region``: the
    code's main region's (or non-geographic entity's), unless ``region`` is spelt exactly as that region."""
    metadata = None if region is None else phonenumbers.PhoneMetadata.metadata_for_region(region.upper(), None)
    main = phonenumbers.region_code_for_country_code(country_code)
    if main != region:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, main)
    return metadata


@cache
def _keep_phone_patterns() -> None:
    """Have phonenumbers keep its compiled metadata patterns in its own dict (its ``enable_pattern_cache``)
    instead of asking ``re.compile``'s cache again on every test (about nine times per number)."""
    enable = getattr(phonenumbers, "enable_pattern_cache", None)  # older releases lack it
    if enable is not None:
        enable()


def plain_phone(value: str) -> str:
    """``value`` without its punctuation when ``phonenumbers.parse`` would read both the same way: half the
    parse's cost (its regular expressions run over fewer characters).

    Only for text of ASCII digits, spaces and ``( ) . - /`` with at most one ``+``, first, and at least three
    digits. The library drops everything before the first ``+`` or digit, normalises those characters away
    before it looks at any digit, and finds no extension, second number or letters among them; its
    viability test accepts either form alike from three digits. Anything else is returned unchanged.
    ``tests/subjects/test_phone_validity.py`` compares both forms on every region's example numbers.
    """
    if not _PLAIN_PHONE.fullmatch(value):
        return value
    compact = _PLAIN_PUNCTUATION.sub("", value)
    return compact if len(compact) - compact.startswith("+") >= 3 else value


def is_valid_phone(number: phonenumbers.PhoneNumber) -> bool:
    """Exactly ``phonenumbers.is_valid_number``, with one pattern pass fewer for the commonest numbers.

    ``is_valid_number`` first finds the number's region (for a calling code shared by several regions, such
    as +1 or +44, by testing the number against each region's patterns until one matches) and then tests it
    again against that region. When the code's main region (listed first) has no leading-digits rule and
    the number is valid for it, that search stops at the main region, so the answer is already known: True.
    Anything else takes the library's full path. ``tests/subjects/test_phone_validity.py`` compares the two
    on every region's example numbers and on perturbed ones.
    """
    main = _main_region(number.country_code)
    if main is not None and _valid_for_region(number, main):
        return True
    return bool(phonenumbers.is_valid_number(number))


_RARER_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail")


def _valid_for_region(number: phonenumbers.PhoneNumber, region: str) -> bool:
    """Exactly ``phonenumbers.is_valid_number_for_region`` for a region whose calling code is the number's.

    The library answers through the number's type, testing eight rarer types before fixed line and
    mobile; valid means "of some type", so the same tests in another order give the same answer, and most
    numbers are fixed line or mobile (three pattern tests instead of eleven). As in the library, mobile
    counts only when its pattern differs from fixed line's.
    """
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    if metadata is None or number.country_code != metadata.country_code:
        return False
    nsn = phonenumbers.national_significant_number(number)
    if not _matches(nsn, metadata.general_desc):
        return False
    if _matches(nsn, metadata.fixed_line):
        return True
    if not metadata.same_mobile_and_fixed_line_pattern and _matches(nsn, metadata.mobile):
        return True
    return any(_matches(nsn, getattr(metadata, kind)) for kind in _RARER_TYPES)


@cache
def _main_region(calling_code: int) -> str | None:
    """The first region of a shared calling code when region look-up tests it by its patterns; else None."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(calling_code, ())
    if len(regions) < 2:
        return None
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(regions[0], None)
    return regions[0] if metadata is not None and metadata.leading_digits is None else None


def check_email(value: str) -> Checked:
    """email-validator's normalised form (syntax only, no DNS): domain lower-cased, local part kept.

    Fast path (same result, ~10x cheaper): a plain ASCII dot-atom local part and a domain whose
    email-validator verdict is cached per process. Anything else, and every failure, goes through
    the full ``validate_email`` so reasons are always email-validator's own.
    """
    local, at, domain = value.rpartition("@")
    if at and len(value) <= _MAX_EMAIL and len(local) <= _MAX_LOCAL and _DOT_ATOM.match(local):
        normalised_domain = _email_domain(domain)
        if normalised_domain is not None:
            return f"{local}@{normalised_domain}", None
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        return None, f"invalid email: {exc}"
    return result.normalized, None


@lru_cache(maxsize=65536)
def _email_domain(domain: str) -> str | None:
    """The normalised domain if email-validator accepts it (probed with a trivial local part)."""
    if not domain or domain.startswith("["):
        return None
    try:
        return validate_email(f"a@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None


def check_push_subscription(value: str) -> Checked:
    """Compact, key-sorted Web Push subscription JSON.

    Needs ``endpoint`` (http/https URL) and ``keys.p256dh`` (65-byte uncompressed P-256 point) and
    ``keys.auth`` (16 bytes), both base64url. ``expirationTime`` is kept when present.
    """
    try:
        obj = json.loads(value)
    except ValueError:
        return None, "push subscription is not valid JSON"
    if not isinstance(obj, dict):
        return None, "push subscription is not a JSON object"
    endpoint = obj.get("endpoint")
    if not isinstance(endpoint, str) or not _is_http_url(endpoint):
        return None, "push subscription endpoint must be an http(s) URL"
    keys = obj.get("keys")
    if not isinstance(keys, dict):
        return None, "push subscription lacks keys.p256dh and keys.auth"
    for name, size in (("p256dh", _P256DH_BYTES), ("auth", _AUTH_BYTES)):
        if _b64url_len(keys.get(name)) != size:
            return None, f"push subscription keys.{name} must be base64url of {size} bytes"
    clean: dict[str, Any] = {"endpoint": endpoint, "keys": {"auth": keys["auth"], "p256dh": keys["p256dh"]}}
    if obj.get("expirationTime") is not None:
        clean["expirationTime"] = obj["expirationTime"]
    return json.dumps(clean, separators=(",", ":"), sort_keys=True), None


def _is_http_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("https", "http") and bool(parts.netloc)


def _b64url_len(value: object) -> int:
    if not isinstance(value, str) or not value:
        return -1
    try:
        return len(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError):
        return -1


@cache
def _category(part: str) -> str | None:
    key = re.sub(r"[\s\-]+", "_", part.strip()).casefold()
    return key if key in CATEGORIES else None


@lru_cache(maxsize=4096)
def check_categories(value: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(known categories sorted and de-duplicated, unknown parts as given)`` from a ``;`` list.

    Cached per process (the result is immutable): an export repeats a handful of category lists on every
    row, and splitting and folding one cost about 2 us a row of the import's workers."""
    known: set[str] = set()
    unknown: list[str] = []
    for part in value.split(";"):
        if not part.strip():
            continue
        category = _category(part)
        if category is None:
            unknown.append(part.strip())
        else:
            known.add(category)
    return tuple(sorted(known)), tuple(unknown)


def clean_text(value: str | None) -> str | None:
    """Whitespace-collapsed NFC text, or None for missing/blank."""
    if value is None:
        return None
    text = " ".join(value.split())
    if not text:
        return None
    return text if text.isascii() else unicodedata.normalize("NFC", text)
