"""The webhooks tests run on the laptop case's clock (``tests.support.AFTER_LAPTOP``)."""

from __future__ import annotations

import pytest

from app.clock import FixedClock
from tests.support import AFTER_LAPTOP


@pytest.fixture
def clock() -> FixedClock:
    """The test clock, frozen the day after the laptop case's discovery (``AFTER_LAPTOP``)."""
    return FixedClock(AFTER_LAPTOP)
