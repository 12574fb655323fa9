"""``is_valid_phone`` must answer exactly as ``phonenumbers.is_valid_number`` on every kind of number."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberType

from app.subjects.fields import _main_region, is_valid_phone


def _numbers() -> list[phonenumbers.PhoneNumber]:
    """Every region's example number of every type, its invalid example, and digit-level perturbations."""
    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                found.append(example)
        invalid = phonenumbers.invalid_example_number(region)
        if invalid is not None:
            found.append(invalid)
    perturbed = []
    for number in found:
        nsn = str(number.national_number)
        for variant in (nsn[:-1] + str((int(nsn[-1]) + 1) % 10), nsn[:-1], nsn + "7", "9" + nsn[1:], "2" + nsn[1:]):
            if variant:
                perturbed.append(phonenumbers.PhoneNumber(country_code=number.country_code,
                                                          national_number=int(variant)))
    return found + perturbed


def test_same_answer_as_the_library_on_every_region() -> None:
    numbers = _numbers()
    assert len(numbers) > 5000
    differing = [phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164) for n in numbers
                 if is_valid_phone(n) != phonenumbers.is_valid_number(n)]
    assert differing == []
    assert {is_valid_phone(n) for n in numbers} == {True, False}


def test_the_short_path_applies_to_shared_calling_codes_only() -> None:
    assert _main_region(1) == "US"  # +1 is shared by 25 regions; US is tested first
    assert _main_region(44) == "GB"
    assert _main_region(49) is None  # one region: the library does not search
    canadian = phonenumbers.parse("+1 416 555 0199")
    assert phonenumbers.is_valid_number(canadian) is is_valid_phone(canadian)
    assert is_valid_phone(phonenumbers.parse("+1 201 555 0123"))
