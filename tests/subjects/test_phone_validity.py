"""``is_valid_phone`` must answer exactly as ``phonenumbers.is_valid_number`` on every kind of number."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberType

from app.subjects.fields import _main_region, _valid_for_region, is_valid_phone, plain_phone


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


def _parsed(value: str, region: str | None) -> phonenumbers.PhoneNumber | str:
    try:
        return phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        return f"error {exc.error_type}"


_VARIANTS = (lambda f: f.replace(" ", "-"), lambda f: f.replace(" ", "."), lambda f: f.replace(" ", "/"),
             lambda f: f" {f} ", lambda f: f.replace(" ", "  ", 1), lambda f: "(" + f + ")",
             lambda f: f.replace("+", "00", 1))


def _written_forms(number: phonenumbers.PhoneNumber, turn: int) -> list[str]:
    """How people write a number: the library's formats, and each with its punctuation swapped or spaced
    out (one variant per format, taking turns across numbers)."""
    forms = [phonenumbers.format_number(number, f) for f in (phonenumbers.PhoneNumberFormat.NATIONAL,
                                                            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                                                            phonenumbers.PhoneNumberFormat.E164)]
    return forms + [_VARIANTS[(turn + i) % len(_VARIANTS)](form) for i, form in enumerate(forms)]


def test_plain_phone_parses_exactly_as_the_written_form() -> None:
    differing = []
    compacted = 0
    for turn, number in enumerate(_numbers()[::3]):
        region = phonenumbers.region_code_for_number(number)
        for value in _written_forms(number, turn):
            plain = plain_phone(value)
            compacted += plain != value
            for assumed in (region, None):
                if _parsed(plain, assumed) != _parsed(value, assumed):
                    differing.append((value, assumed))
    assert differing == []
    assert compacted > 5000  # the fast form is what most written numbers get


def test_plain_phone_leaves_anything_unusual_alone() -> None:
    assert plain_phone("+1 (201) 555-0123") == "+12015550123"
    assert plain_phone(" 030/1234 567") == "0301234567"
    for value in ("+1 201 555 0123 ext. 4", "(+1) 201 555 0123", "++1 201 555 0123", "1-800-FLOWERS",
                  "+49 30 1234567#", "1-2", "+4\u00a030 1234567", "\u0661\u0662\u0663\u0664\u0665"):
        assert plain_phone(value) == value, value


def test_valid_for_region_answers_as_the_library_for_every_region() -> None:
    numbers = _numbers()[::2]
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    differing = [(phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164), region)
                 for n in numbers for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(n.country_code, ())
                 if region in regions
                 and _valid_for_region(n, region) != phonenumbers.is_valid_number_for_region(n, region)]
    assert differing == []
