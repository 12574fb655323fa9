"""Injected clocks: every service takes one, so tests can freeze or move time.

All times are timezone-aware UTC. Nothing else reads the system clock inline.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    """Anything with ``now() -> datetime`` returning an aware UTC datetime."""

    def now(self) -> dt.datetime:
        """The current instant, timezone-aware UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        """The current instant, timezone-aware UTC."""
        return dt.datetime.now(dt.UTC)


class FixedClock:
    """A clock that stands still until moved; for tests and rehearsals.

    ``FixedClock(at)`` raises ``ValueError`` if ``at`` is naive.
    """

    def __init__(self, at: dt.datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(dt.UTC)

    def now(self) -> dt.datetime:
        """The frozen instant, timezone-aware UTC."""
        return self._at

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self._at += dt.timedelta(seconds=seconds)

    def set(self, at: dt.datetime) -> None:
        """Jump to ``at`` (must be aware)."""
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(dt.UTC)


def parse_utc(text: str) -> dt.datetime:
    """Parse an ISO 8601 timestamp with offset (``Z`` allowed) into aware UTC.

    Raises ``ValueError`` when the text has no UTC offset or is not ISO 8601.
    """
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return value.astimezone(dt.UTC)
