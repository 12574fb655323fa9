"""``parse_plus_digits`` must parse exactly as ``phonenumbers.parse`` (number, fields and rejection), and
``check_phone`` must still give the library's own verdict, for every ``+`` and digits text it takes."""

from __future__ import annotations

import random

import phonenumbers
from phonenumbers import PhoneNumberType

from app.subjects.fields import check_phone, parse_plus_digits

_REGIONS = (None, "US", "de", "IT", "001", "ZZ")


def _e164_texts() -> list[str]:
    """Every region's (and non-geographic entity's) example number of every type and its invalid example,
    in E.164, each with a digit changed, one added, one removed, and the first national digit replaced."""
    examples = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        examples += [phonenumbers.example_number_for_type(region, kind) for kind in PhoneNumberType.values()]
        examples.append(phonenumbers.invalid_example_number(region))
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        examples.append(phonenumbers.example_number_for_non_geo_entity(code))
    texts = {phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164) for n in examples if n is not None}
    variants = set()
    for text in texts:
        variants |= {text[:-1] + str((int(text[-1]) + 3) % 10), text + "5", text[:-1], text[:-2],
                     text[:3] + "0" + text[4:], text[:3] + "00" + text[3:], text + "12345"}
    return sorted(texts | variants)


def _random_texts(count: int = 20000) -> list[str]:
    rng = random.Random(2026)
    return [f"+{rng.randrange(10 ** (size - 1), 10 ** size) if rng.random() < 0.9 else 0:0{size}d}"
            for size in (rng.randrange(3, 23) for _ in range(count))]


def _fields(number: phonenumbers.PhoneNumber) -> tuple[object, ...]:
    return (number.country_code, number.national_number, number.extension, number.italian_leading_zero,
            number.number_of_leading_zeros, number.raw_input, number.country_code_source,
            number.preferred_domestic_carrier_code)


def _outcome(parse: object, text: str, region: str | None) -> object:
    try:
        number = parse(text, region)  # type: ignore[operator]
    except phonenumbers.NumberParseException as exc:
        return ("rejected", exc.error_type)
    return None if number is None else _fields(number)


def _compare(texts: list[str], regions: tuple[str | None, ...]) -> tuple[list[tuple[str, str | None]], int]:
    differing, handled = [], 0
    for text in texts:
        for region in regions:
            fast = _outcome(parse_plus_digits, text, region)
            if fast is None:
                continue
            handled += 1
            if fast != _outcome(phonenumbers.parse, text, region):
                differing.append((text, region))
    return differing, handled


def test_example_numbers_and_their_perturbations_parse_as_the_library() -> None:
    texts = _e164_texts()
    assert len(texts) > 9000
    differing, handled = _compare(texts, _REGIONS)
    assert differing == []
    assert handled > 0.9 * len(texts) * len(_REGIONS)


def test_random_plus_digit_strings_parse_as_the_library() -> None:
    texts = _random_texts()
    differing, handled = _compare(texts, (None, "GB"))
    assert differing == []
    assert handled > len(texts)
    outcomes = {_outcome(parse_plus_digits, t, None) for t in texts[:3000]}
    assert ("rejected", phonenumbers.NumberParseException.TOO_LONG) in outcomes
    assert ("rejected", phonenumbers.NumberParseException.TOO_SHORT_NSN) in outcomes


def _library_verdict(value: str, region: str | None) -> str | None:
    """Today's check in the library's plain terms: parse, ``is_valid_number``, E.164."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_check_phone_gives_the_library_verdict() -> None:
    texts = _e164_texts()[::2] + _random_texts(6000)
    differing = [(text, region) for text in texts for region in (None, "US")
                 if check_phone.__wrapped__(text, region)[0] != _library_verdict(text, region)]
    assert differing == []
    spaced = "+1 201 555 0123"
    assert check_phone.__wrapped__(spaced, None) == ("+12015550123", None)


def test_other_texts_are_left_to_the_library() -> None:
    for text in ("+12", "0049301234567", "+0049301234567", "+49 30 1234567", "12015550123", "+\u0664\u0669301234567",
                 "+49\u00b230123", "+" + "4" * 21, "", "+", "++4930123456", "+9991234567"):
        assert parse_plus_digits(text, None) is None, text
