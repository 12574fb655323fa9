"""Quiet hours for voice calls: nobody is called outside the calling window in their local time.

The window (``VOICE_QUIET_HOURS``, e.g. ``08:00-21:00``) is local wall-clock time, start inclusive, end
exclusive; ``00:00-24:00`` never waits. The person's time zones (``call_zones``) come from:

1. the subdivision of their jurisdiction (``US-CA`` from the postal address, or inferred from the number):
   every zone of that state's or province's area codes (``app/subjects/area_codes.json``);
2. else the phone number (``phonenumbers.timezone``: per area code in North America, per country elsewhere)
   when it belongs to the address country (or there is no address country);
3. else the address country (the zones of its example fixed-line number);
4. else ``UTC``.

When several zones remain (a number that spans zones), a call is placed only when it is inside the window in
**every** one of them; when they never share a window within three days, the first zone decides. The FCC's
TCPA rule (47 CFR 64.1200(c)(1)) forbids telemarketing calls before 8 am and after 9 pm local time; a breach
notice is not telemarketing, but the same courtesy applies.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezone

_UNKNOWN = "Etc/Unknown"
_SEARCH_DAYS = 3


@dataclass(frozen=True)
class Window:
    """A daily calling window in local time: ``start`` to ``end`` minutes after midnight (end exclusive;
    ``end`` may be 1440). ``text`` is the setting as written."""

    start: int
    end: int
    text: str

    @property
    def always(self) -> bool:
        """True for ``00:00-24:00``: calls never wait."""
        return self.start == 0 and self.end == 1440

    def contains(self, local: dt.datetime) -> bool:
        """Whether the local wall-clock time ``local`` is inside the window."""
        minute = local.hour * 60 + local.minute
        if self.start <= self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end


def _minutes(text: str, name: str) -> int:
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"{name}: {text!r} is not HH:MM")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 1440:
        raise ValueError(f"{name}: {text!r} is not a time of day")
    return value


def parse_window(text: str, name: str = "VOICE_QUIET_HOURS") -> Window:
    """``"08:00-21:00"`` -> ``Window(480, 1260)``; ``ValueError`` naming ``name`` on bad input or an empty
    window."""
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f"{name}: {text!r} is not HH:MM-HH:MM")
    window = Window(_minutes(start, name), _minutes(end, name), text.strip())
    if window.start == window.end:
        raise ValueError(f"{name}: {text!r} is an empty window")
    return window


@cache
def _subdivision_zones() -> dict[str, tuple[str, ...]]:
    table: dict[str, str] = json.loads((Path(__file__).parents[1] / "subjects" / "area_codes.json").read_text())
    zones: dict[str, set[str]] = {}
    for area, subdivision in table.items():
        number = phonenumbers.parse(f"+1{area}5550100")
        found = [z for z in phone_timezone.time_zones_for_geographical_number(number) if z != _UNKNOWN]
        zones.setdefault(subdivision, set()).update(found)
    return {k: tuple(sorted(v)) for k, v in zones.items() if v}


def _phone(phone_e164: str | None) -> phonenumbers.PhoneNumber | None:
    if not phone_e164:
        return None
    try:
        return phonenumbers.parse(phone_e164, None)
    except phonenumbers.NumberParseException:
        return None


def _country_zones(country: str) -> tuple[str, ...]:
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.FIXED_LINE)
    if example is None:
        return ()
    return tuple(z for z in phone_timezone.time_zones_for_geographical_number(example) if z != _UNKNOWN)


def call_zones(phone_e164: str | None, jurisdiction: str | None) -> tuple[str, ...]:
    """The IANA time zones a call to ``phone_e164`` may ring in, for a person whose jurisdiction is
    ``jurisdiction`` (``US-CA``, ``DE`` or None); see the module docstring. Never empty, never raises."""
    if jurisdiction and jurisdiction in _subdivision_zones():
        return _subdivision_zones()[jurisdiction]
    country = jurisdiction.split("-")[0].upper() if jurisdiction else None
    number = _phone(phone_e164)
    if number is not None and (country is None or phonenumbers.region_code_for_number(number) == country):
        zones = tuple(z for z in phone_timezone.time_zones_for_number(number) if z != _UNKNOWN)
        if zones:
            return zones
    if country:
        zones = _country_zones(country)
        if zones:
            return zones
    return ("UTC",)


def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _inside(at: dt.datetime, zones: Sequence[str], window: Window) -> bool:
    return all(window.contains(at.astimezone(_zone(z))) for z in zones)


def _openings(now: dt.datetime, zone: str, window: Window) -> list[dt.datetime]:
    tz = _zone(zone)
    local_day = now.astimezone(tz).date()
    out = []
    for offset in range(-1, _SEARCH_DAYS + 1):
        day = local_day + dt.timedelta(days=offset)
        local = dt.datetime.combine(day, dt.time(window.start // 60, window.start % 60), tzinfo=tz)
        out.append(local.astimezone(dt.UTC))
    return out


def opens_at(now: dt.datetime, zones: Sequence[str], window: Window) -> dt.datetime:
    """The first instant at or after ``now`` (aware UTC) inside ``window`` in every zone of ``zones``: ``now``
    itself when calling is allowed now. Falls back to the first zone alone when the zones share no window."""
    if window.always or _inside(now, zones, window):
        return now
    candidates = sorted({t for z in zones for t in _openings(now, z, window) if t > now})
    for candidate in candidates:
        if _inside(candidate, zones, window):
            return candidate
    first = [t for t in _openings(now, zones[0], window) if t > now]
    return min(first) if first else now


def wait_until(now: dt.datetime, *, phone_e164: str | None, jurisdiction: str | None,
               window: Window) -> tuple[dt.datetime, tuple[str, ...]] | None:
    """``(opening, zones)`` when a call to this person must wait until ``opening`` (aware UTC); None when it
    may be placed at ``now``."""
    zones = call_zones(phone_e164, jurisdiction)
    opening = opens_at(now, zones, window)
    return None if opening <= now else (opening, zones)
