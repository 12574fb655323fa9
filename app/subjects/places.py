"""Country, subdivision and language lookups (pure, cached, no network).

Countries come from the CLDR data shipped with Babel: ISO 3166-1 alpha-2 and alpha-3 codes,
numeric codes and country names in English, German, French and Spanish. Subdivisions are listed
only where breach law depends on them: US states, Canadian provinces and Australian states.
"""

from __future__ import annotations

import re
from functools import cache

from babel import Locale
from babel.core import get_global

from app.errors import InvalidInput
from app.subjects.subdivisions import SUBDIVISION_NAMES

_NAME_LOCALES = ("en", "de", "fr", "es")
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"})
_EXTRA_NAMES = {
    "usa": "US", "us": "US", "unitedstatesofamerica": "US", "america": "US", "uk": "GB",
    "greatbritain": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "northernireland": "GB",
    "holland": "NL", "southkorea": "KR", "korea": "KR", "russia": "RU", "czechia": "CZ",
}
_FOLD = re.compile(r"[\s.\-_',()]+")
_LANGUAGE_TAG = re.compile(r"^([a-z]{2,3})(?:-([a-z]{4}))?(?:-([a-z]{2}|\d{3}))?$")


def fold(text: str) -> str:
    """Case-fold and drop spaces and punctuation: ``"U.S.A."`` -> ``"usa"``."""
    return _FOLD.sub("", text).casefold()


@cache
def _country_table() -> dict[str, str]:
    codes = {str(code) for code in Locale("en").territories if len(str(code)) == 2 and str(code).isalpha()}
    codes -= _NOT_COUNTRIES
    table: dict[str, str] = {}
    for alias, targets in get_global("territory_aliases").items():
        if targets and targets[0] in codes and (alias.isdigit() or len(alias) == 3):
            table[fold(alias)] = targets[0]
    for locale in _NAME_LOCALES:
        for code, name in Locale(locale).territories.items():
            if str(code) in codes:
                table.setdefault(fold(name), str(code))
    table.update(_EXTRA_NAMES)
    table.update({code.casefold(): code for code in codes})
    return table


@cache
def country_code(value: str) -> str | None:
    """ISO 3166-1 alpha-2 for a code (alpha-2/alpha-3/numeric) or a country name, else None."""
    return _country_table().get(fold(value))


def checked_country(value: str | None) -> str | None:
    """The ISO 3166-1 alpha-2 code of a ``--default-country`` (a code, alpha-3 or a name), None when not given.
    Raises ``InvalidInput`` naming ``default_country`` for a value that is no country: ignoring it would reject
    every national-format phone number with advice to give the option that was given."""
    if value is None or not value.strip():
        return None
    code = country_code(value.strip())
    if code is None:
        raise InvalidInput(f"default_country {value!r} is not a country (give an ISO 3166-1 code such as US or DE)",
                           details=[{"path": "default_country", "reason": "unknown country"}])
    return code


@cache
def _subdivision_table() -> dict[tuple[str, str], str]:
    table: dict[tuple[str, str], str] = {}
    for country, entries in SUBDIVISION_NAMES.items():
        for code, names in entries.items():
            for name in (code, f"{country}-{code}", *names):
                table[(country, fold(name))] = f"{country}-{code}"
    return table


def has_subdivisions(country: str) -> bool:
    """True for countries whose breach law is per subdivision (US, CA, AU)."""
    return country in SUBDIVISION_NAMES


@cache
def subdivision_code(country: str, value: str) -> str | None:
    """ISO 3166-2 code (``US-CA``) for a subdivision name or abbreviation in ``country``.

    Accepts full names (``California``), postal/ISO codes (``CA``, ``US-CA``) and common
    abbreviations (``Calif.``). None if ``country`` has no table or the name is unknown.
    """
    return _subdivision_table().get((country, fold(value)))


@cache
def _languages() -> frozenset[str]:
    return frozenset(str(code) for code in Locale("en").languages if str(code).isalpha())


@cache
def language_tag(value: str) -> str | None:
    """A BCP 47-style tag ``ll[-Ssss][-RR]`` with canonical case (``pt_br`` -> ``pt-BR``), else None.

    The language subtag must be a known ISO 639 code; the region, if any, a known country.
    """
    match = _LANGUAGE_TAG.match(value.strip().replace("_", "-").lower())
    if match is None or match.group(1) not in _languages():
        return None
    language, script, region = match.groups()
    if region and region.isalpha() and country_code(region) != region.upper():
        return None
    parts = [language, script.title() if script else None, region.upper() if region else None]
    return "-".join(p for p in parts if p)
