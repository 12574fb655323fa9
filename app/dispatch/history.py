"""Deliveries of a run over time, per channel and terminal state: the data behind the dispatch chart."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from app.clock import Clock
from app.dispatch.models import DELIVERED, FAILED_PERMANENT, SKIPPED, Delivery, DispatchRun

BUCKETS = 30
SERIES_STATES = (DELIVERED, FAILED_PERMANENT, SKIPPED)


def _event(state: str, delivered_at: dt.datetime | None, finished_at: dt.datetime | None) -> dt.datetime | None:
    if state == DELIVERED:
        return delivered_at or finished_at
    return finished_at if state in SERIES_STATES else None


def history(session: Session, *, clock: Clock, run: DispatchRun, buckets: int = BUCKETS) -> dict[str, Any]:
    """Cumulative deliveries per (channel, terminal state) at ``buckets`` equally spaced times from the run's
    start to its end (or now while it runs).

    Returns ``{"labels": [ISO 8601 UTC, ...], "seconds": [s since start, ...], "series": [{"channel", "state",
    "data": [cumulative count per label]}, ...]}``; a delivery counts from the time it reached the state
    (``delivered_at``, else ``finished_at``). Series without any delivery are left out.
    """
    start = run.created_at
    rows = session.execute(select(col(Delivery.channel), col(Delivery.state), col(Delivery.delivered_at),
                                  col(Delivery.finished_at)).where(col(Delivery.run_id) == run.id)).all()
    events = [(channel, state, at) for channel, state, delivered, finished in rows
              if (at := _event(state, delivered, finished)) is not None]
    end = run.finished_at or clock.now()
    end = max([end, *(at for _c, _s, at in events)])
    span = max((end - start).total_seconds(), 1.0)
    steps = [start + dt.timedelta(seconds=span * i / (buckets - 1)) for i in range(buckets)]
    counts: dict[tuple[str, str], list[int]] = {}
    for channel, state, at in events:
        # the first label at or after the event
        index = min(buckets - 1, max(0, math.ceil((at - start).total_seconds() * (buckets - 1) / span)))
        counts.setdefault((channel, state), [0] * buckets)[index] += 1
    series = []
    for (channel, state), per_bucket in sorted(counts.items()):
        total, data = 0, []
        for n in per_bucket:
            total += n
            data.append(total)
        series.append({"channel": channel, "state": state, "data": data})
    return {"labels": [s.isoformat() for s in steps],
            "seconds": [round((s - start).total_seconds(), 1) for s in steps], "series": series}
