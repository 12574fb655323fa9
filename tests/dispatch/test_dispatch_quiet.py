"""Quiet hours of voice calls: the window setting, the person's time zones and when the window opens."""

from __future__ import annotations

import datetime as dt

import pytest

from app.dispatch.quiet import call_zones, opens_at, parse_window, wait_until
from app.dispatch.settings import from_config

DAY = parse_window("08:00-21:00")


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


@pytest.mark.parametrize("text", ["8-21", "08:00", "08:00-08:00", "25:00-26:00", "08:60-21:00", "ab:cd-21:00"])
def test_bad_windows_are_refused_naming_the_setting(text: str) -> None:
    with pytest.raises(ValueError, match="VOICE_QUIET_HOURS"):
        parse_window(text)


def test_bad_settings_stop_the_configuration() -> None:
    with pytest.raises(ValueError, match="VOICE_MACHINE_POLICY"):
        from_config({"VOICE_MACHINE_POLICY": "shout"})
    with pytest.raises(ValueError, match="VOICE_QUIET_HOURS"):
        from_config({"VOICE_QUIET_HOURS": "9-5"})
    settings = from_config({"VOICE_QUIET_HOURS": "09:30-20:00", "VOICE_MACHINE_POLICY": "hangup"})
    assert (settings.quiet_hours.start, settings.quiet_hours.end, settings.voice_machine) == (570, 1200, "hangup")
    assert settings.chain == ("email", "sms", "voice", "push", "letter")
    assert settings.receipt_timeouts == {"sms": 600.0, "voice": 900.0}


def test_time_zones_from_address_subdivision_number_and_country() -> None:
    assert call_zones("+12125550100", "US-CA") == ("America/Los_Angeles",)  # lives in California, NY number
    assert call_zones("+12125550100", None) == ("America/New_York",)       # the area code
    assert call_zones("+12125550100", "US") == ("America/New_York",)       # same country: the number is finer
    assert call_zones("+4915112345678", "FR") == ("Europe/Paris",)         # address abroad: the address country
    assert call_zones(None, "DE") == ("Europe/Berlin",)
    assert call_zones("+8613800138000", "CN") == ("Asia/Shanghai",)
    assert call_zones(None, "US-TX") == ("America/Chicago", "America/Denver")  # El Paso is on Mountain time
    assert call_zones("not a number", None) == ("UTC",)


def test_window_opening_in_local_time() -> None:
    la = ("America/Los_Angeles",)
    assert opens_at(utc(2026, 3, 2, 10, 0), la, DAY) == utc(2026, 3, 2, 16, 0)   # 02:00 PST -> 08:00 PST
    assert opens_at(utc(2026, 3, 2, 16, 0), la, DAY) == utc(2026, 3, 2, 16, 0)   # open: now
    assert opens_at(utc(2026, 3, 3, 5, 0), la, DAY) == utc(2026, 3, 3, 16, 0)    # 21:00 PST: the end is exclusive
    assert opens_at(utc(2026, 3, 8, 9, 30), la, DAY) == utc(2026, 3, 8, 15, 0)   # DST starts: 08:00 PDT
    assert opens_at(utc(2026, 3, 2, 10, 0), la, parse_window("00:00-24:00")) == utc(2026, 3, 2, 10, 0)
    night = parse_window("20:00-08:00")                                              # a window across midnight
    assert opens_at(utc(2026, 3, 2, 10, 0), la, night) == utc(2026, 3, 2, 10, 0)
    assert opens_at(utc(2026, 3, 2, 20, 0), la, night) == utc(2026, 3, 3, 4, 0)


def test_several_zones_must_all_be_inside_the_window() -> None:
    texas = call_zones(None, "US-TX")
    assert opens_at(utc(2026, 3, 2, 14, 0), texas, DAY) == utc(2026, 3, 2, 15, 0)   # 08:00 Chicago, 07:00 Denver
    assert opens_at(utc(2026, 3, 3, 2, 30), texas, DAY) == utc(2026, 3, 3, 2, 30)   # 20:30 / 19:30
    assert opens_at(utc(2026, 3, 3, 3, 0), texas, DAY) == utc(2026, 3, 3, 15, 0)    # 21:00 in Chicago
    assert wait_until(utc(2026, 3, 2, 10, 0), phone_e164="+4915112345678", jurisdiction="DE", window=DAY) is None
    waited = wait_until(utc(2026, 3, 2, 10, 0), phone_e164="+14155550100", jurisdiction="US-CA", window=DAY)
    assert waited == (utc(2026, 3, 2, 16, 0), ("America/Los_Angeles",))
