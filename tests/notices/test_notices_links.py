from __future__ import annotations

import datetime as dt

import pytest

from app.notices.links import LinkTokenError, make_link_token, personal_link, verify_link_token

KEY = b"k" * 32
NOW = dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC)
EXPIRES = NOW + dt.timedelta(days=90)


def test_round_trip_returns_ref() -> None:
    token = make_link_token("4711", key=KEY, expires_at=EXPIRES)
    assert verify_link_token(token, key=KEY, now=NOW) == "4711"
    assert verify_link_token(token, key=KEY, now=EXPIRES - dt.timedelta(seconds=1)) == "4711"
    assert len(token) < 40


def test_expired_at_and_after_expiry() -> None:
    token = make_link_token("4711", key=KEY, expires_at=EXPIRES)
    for now in (EXPIRES, EXPIRES + dt.timedelta(days=1)):
        with pytest.raises(LinkTokenError) as info:
            verify_link_token(token, key=KEY, now=now)
        assert info.value.reason == "expired"


def test_tampering_is_detected() -> None:
    token = make_link_token("4711", key=KEY, expires_at=EXPIRES)
    ref, expiry, sig = token.split(".")
    later = make_link_token("4711", key=KEY, expires_at=EXPIRES + dt.timedelta(days=365)).split(".")[1]
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    for forged in (f"4712.{expiry}.{sig}", f"{ref}.{later}.{sig}", f"{ref}.{expiry}.{flipped}"):
        with pytest.raises(LinkTokenError) as info:
            verify_link_token(forged, key=KEY, now=NOW)
        assert info.value.reason == "bad-signature"
    with pytest.raises(LinkTokenError) as other:
        verify_link_token(token, key=b"o" * 32, now=NOW)
    assert other.value.reason == "bad-signature"


def test_malformed_tokens() -> None:
    for bad in ("", "abc", "a.b", "4711.zz.short", "../x.1.AbCdEfGhIjKlMnOpQrStUv"):
        with pytest.raises(LinkTokenError) as info:
            verify_link_token(bad, key=KEY, now=NOW)
        assert info.value.reason == "malformed"


def test_tokens_differ_per_ref_and_inputs_are_validated() -> None:
    assert make_link_token("1", key=KEY, expires_at=EXPIRES) != make_link_token("2", key=KEY, expires_at=EXPIRES)
    with pytest.raises(ValueError):
        make_link_token("1", key=b"short", expires_at=EXPIRES)
    with pytest.raises(ValueError):
        make_link_token("a/b", key=KEY, expires_at=EXPIRES)
    with pytest.raises(ValueError):
        make_link_token("1", key=KEY, expires_at=dt.datetime(2026, 1, 1))  # naive
    token = make_link_token("1", key=KEY, expires_at=EXPIRES)
    with pytest.raises(ValueError):
        verify_link_token(token, key=KEY, now=dt.datetime(2026, 1, 1))  # naive


def test_personal_link() -> None:
    assert personal_link("https://notify.example/", "t.1.x") == "https://notify.example/n/t.1.x"
    with pytest.raises(ValueError):
        personal_link("javascript:alert(1)", "t")
