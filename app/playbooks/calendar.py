"""Deadline arithmetic for playbook clocks.

- ``hours``: elapsed time; 72 hours are 72 hours whatever the local clocks do (GDPR Art. 33(1)).
- ``calendar_days``: local calendar arithmetic in the regime's time zone. The deadline keeps the local
  time of day of the start event, N days later, so a period spanning a daylight-saving change is 23 or
  25 hours longer or shorter in UTC. Keeping the time of day (rather than running to the end of the last
  day) is the conservative reading: it never ends later than the law allows.
- ``business_days``: as calendar days, but only weekdays that are not public holidays in the regime's
  holiday calendar (the maintained ``holidays`` package) are counted. A start on a weekend or holiday
  counts from the next business day.

All inputs and outputs are timezone-aware; outputs are UTC.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Container

from app.playbooks.schema import ClockUnit


def _require_aware(value: dt.datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("deadline arithmetic needs timezone-aware datetimes")


def _local_to_utc(day: dt.date, time: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    # fold=0: an ambiguous autumn time takes the first (earlier) instant; a spring gap maps forward.
    return dt.datetime.combine(day, time, tzinfo=zone).astimezone(dt.UTC)


def is_business_day(day: dt.date, holidays: Container[dt.date]) -> bool:
    """True for Monday to Friday when ``day`` is not in ``holidays``."""
    return day.weekday() < 5 and day not in holidays


def add_period(
    start: dt.datetime,
    *,
    unit: ClockUnit,
    amount: int,
    zone: zoneinfo.ZoneInfo,
    holidays: Container[dt.date] = frozenset(),
) -> dt.datetime:
    """``amount`` ``unit`` after ``start``, computed in ``zone`` where days matter; returns aware UTC.

    Raises ``ValueError`` for a naive ``start`` or a negative ``amount``.
    """
    _require_aware(start)
    if amount < 0:
        raise ValueError("amount must not be negative")
    if unit == ClockUnit.hours:
        return start.astimezone(dt.UTC) + dt.timedelta(hours=amount)
    local = start.astimezone(zone)
    if unit == ClockUnit.calendar_days:
        return _local_to_utc(local.date() + dt.timedelta(days=amount), local.time(), zone)
    day = local.date()
    counted = 0
    while counted < amount:
        day += dt.timedelta(days=1)
        if is_business_day(day, holidays):
            counted += 1
    return _local_to_utc(day, local.time(), zone)


def calendar_year_end(start: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The end of the local calendar year containing ``start`` (midnight starting 1 January), in UTC.

    Used by HIPAA's log of small breaches, due 60 days after the end of the year of discovery
    (45 CFR 164.408(c)).
    """
    _require_aware(start)
    year = start.astimezone(zone).year
    return _local_to_utc(dt.date(year + 1, 1, 1), dt.time(0, 0), zone)
