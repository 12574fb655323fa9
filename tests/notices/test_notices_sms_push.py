from __future__ import annotations

import json

import pytest

from app.notices.push import PUSH_MAX_PLAINTEXT_BYTES, PushPayloadTooLarge, build_push_payload
from app.notices.sms import SmsFit, fit_sms, segments, sms_encoding, to_gsm7


def test_single_gsm7_message_holds_160() -> None:
    assert segments("a" * 160) == SmsFit("GSM-7", 160, 1, 160)
    assert segments("a" * 161) == SmsFit("GSM-7", 161, 2, 153)


def test_gsm7_concatenation_uses_153_per_segment() -> None:
    assert segments("a" * 306).segments == 2
    assert segments("a" * 307).segments == 3
    assert segments("a" * 459).segments == 3
    assert segments("a" * 460).segments == 4


def test_extension_characters_take_two_septets() -> None:
    assert sms_encoding("Price: 5€ [promo]") == "GSM-7"
    assert segments("€[]{}").units == 10
    assert segments("€" * 80) == SmsFit("GSM-7", 160, 1, 160)
    assert segments("€" * 81).segments == 2


def test_extension_character_is_not_split_across_segments() -> None:
    text = "a" * 152 + "€" + "a" * 152  # 306 septets, but the escape pair cannot straddle segments
    fit = segments(text)
    assert fit.units == 306
    assert fit.segments == 3


def test_typographic_apostrophe_forces_ucs2_unless_normalised() -> None:
    text = "We\u2019re sorry \u2013 please read this\u2026"
    assert sms_encoding(text) == "UCS-2"
    assert segments(text).per_segment == 70
    normalised = to_gsm7(text)
    assert normalised == "We're sorry - please read this..."
    assert sms_encoding(normalised) == "GSM-7"
    assert to_gsm7("\u201cquoted\u201d \u2018single\u2019 \u2014 a\u00a0b") == "\"quoted\" 'single' - a b"


def test_ucs2_counts_utf16_units_and_emoji_as_two() -> None:
    assert segments("Hi 😀") == SmsFit("UCS-2", 5, 1, 70)
    assert segments("ж" * 70) == SmsFit("UCS-2", 70, 1, 70)
    assert segments("ж" * 71) == SmsFit("UCS-2", 71, 2, 67)
    assert segments("ж" * 134).segments == 2
    assert segments("ж" * 135).segments == 3


def test_surrogate_pair_is_not_split() -> None:
    fit = segments("ж" * 66 + "😀" + "ж" * 66)  # 134 units; the emoji cannot straddle segments
    assert (fit.units, fit.segments) == (134, 3)


def test_gsm7_basic_table_includes_greek_capitals_and_accents() -> None:
    assert sms_encoding("Ä Ö Ñ Ü é è Δ Ω ¿ ¡ £ ¥ §") == "GSM-7"
    assert sms_encoding("ê") == "UCS-2"
    assert sms_encoding("数据") == "UCS-2"


def test_fit_sms_against_max_segments() -> None:
    check = fit_sms("\u2019" + "a" * 150, max_segments=1)
    assert check.ok and check.fit.encoding == "GSM-7" and check.text.startswith("'")
    raw = fit_sms("\u2019" + "a" * 150, max_segments=1, normalise=False)
    assert not raw.ok
    assert raw.problem is not None and "3 segments" in raw.problem
    assert not fit_sms("", max_segments=1).ok
    with pytest.raises(ValueError):
        fit_sms("x", max_segments=0)


def test_push_limit_is_documented_value() -> None:
    assert PUSH_MAX_PLAINTEXT_BYTES == 3993


def test_push_payload_small_is_unchanged() -> None:
    payload = build_push_payload(title="Acme: notice", body="Please read.", url="https://x.example/n/t")
    assert json.loads(payload) == {"title": "Acme: notice", "body": "Please read.",
                                   "url": "https://x.example/n/t"}


def test_push_payload_is_capped_without_cutting_title_or_link() -> None:
    url = "https://x.example/n/abc.def.ghi"
    payload = build_push_payload(title="Titel über", body="数据" * 3000, url=url)
    assert len(payload) <= PUSH_MAX_PLAINTEXT_BYTES
    assert len(payload) > PUSH_MAX_PLAINTEXT_BYTES - 4  # a 3-byte character may not fit at the end
    data = json.loads(payload)
    assert data["url"] == url and data["title"] == "Titel über"
    assert data["body"].endswith("\u2026") and data["body"].startswith("数据数据")


def test_push_payload_too_large_title() -> None:
    with pytest.raises(PushPayloadTooLarge):
        build_push_payload(title="t" * 5000, body="b", url="https://x.example/n/t")
    with pytest.raises(ValueError):
        build_push_payload(title="t", body="b", url="u", max_bytes=5000)
