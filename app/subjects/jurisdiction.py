"""Which jurisdiction's law applies to a subject: from the address, else the phone, else unknown.

Codes are ISO 3166-1 alpha-2 (``DE``), or ISO 3166-2 (``US-CA``, ``CA-ON``, ``AU-NSW``) where breach
law depends on the subdivision. A phone-derived jurisdiction is marked ``inferred``: for US and
Canadian numbers the state/province comes from the area code (``area_codes.json``, derived from
``phonenumbers.geocoder`` by ``scripts/gen_area_codes.py``; the geocoder itself costs ~8 s and ~190 MB to load).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import phonenumbers

from app.subjects.model import Jurisdiction
from app.subjects.places import has_subdivisions, subdivision_code

UNKNOWN = Jurisdiction(None, "unknown")
_GEOCODED = frozenset({"US", "CA"})


def resolve_jurisdiction(country: str | None, region: str | None, phone_e164: str | None) -> Jurisdiction:
    """Resolve the subject's jurisdiction.

    Args:
        country: ISO 3166-1 alpha-2 of the postal address, or None.
        region: the address region as an ISO 3166-2 code or a name/abbreviation (``California``,
            ``CA``), or None. Used only for countries with per-subdivision law (US, CA, AU).
        phone_e164: the subject's phone in E.164, or None.

    Returns:
        ``Jurisdiction(code, "address")`` when ``country`` is given (subdivision added when known),
        else ``Jurisdiction(code, "inferred")`` from the phone number's region, else
        ``Jurisdiction(None, "unknown")``. Never raises.
    """
    if country:
        return Jurisdiction(_with_subdivision(country, region), "address")
    if phone_e164:
        code = jurisdiction_from_phone(phone_e164)
        if code:
            return Jurisdiction(code, "inferred")
    return UNKNOWN


def _with_subdivision(country: str, region: str | None) -> str:
    if not region or not has_subdivisions(country):
        return country
    return subdivision_code(country, region) or country


def jurisdiction_from_phone(phone_e164: str) -> str | None:
    """ISO code inferred from an E.164 number: ``US-CA`` for a 415 number, ``DE`` for +49..., or None.

    Non-geographic numbers (+800...) and unparsable input give None.
    """
    try:
        number = phonenumbers.parse(phone_e164, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(number)
    if not region or len(region) != 2 or not region.isalpha():
        return None
    if region in _GEOCODED:
        subdivision = _area_codes().get(str(number.national_number)[:3])
        if subdivision and subdivision.startswith(region):
            return subdivision
    return str(region)


@cache
def _area_codes() -> dict[str, str]:
    table: dict[str, str] = json.loads((Path(__file__).with_name("area_codes.json")).read_text())
    return table
