"""Live progress of a run: counts per channel and state, the share finished, the send rate and an ETA."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from app.clock import Clock
from app.dispatch.models import OPEN, STATES, TERMINAL, Delivery, DispatchRun, SubstitutePoolEntry

RATE_WINDOW = 60.0


@dataclass(frozen=True)
class Progress:
    """``counts``: ``{channel: {state: n}}``; ``totals``: ``{state: n}``; ``done_fraction`` 0..1 (terminal
    deliveries / all); ``rate``: provider acceptances per second over the last minute; ``eta_seconds``: open
    deliveries / rate (0 when none is open; None when nothing moves or the run is not running, e.g. paused);
    ``eta_text``: the ETA as the CLI and the page show it (``"12 s"``, ``"unknown"``, ``"none while paused"``);
    ``substitute``: people in the substitute pool."""

    run_id: int
    incident_id: int
    state: str
    counts: dict[str, dict[str, int]]
    totals: dict[str, int]
    total: int
    done_fraction: float
    rate: float
    eta_seconds: float | None
    eta_text: str
    substitute: dict[str, int]
    plan: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def progress(session: Session, *, clock: Clock, run: DispatchRun) -> Progress:
    """The run's progress now (see ``Progress``)."""
    rows = session.execute(select(col(Delivery.channel), col(Delivery.state), func.count())
                           .where(col(Delivery.run_id) == run.id)
                           .group_by(col(Delivery.channel), col(Delivery.state))).all()
    counts: dict[str, dict[str, int]] = {}
    totals = dict.fromkeys(STATES, 0)
    for channel, state, n in rows:
        counts.setdefault(channel, {})[state] = n
        totals[state] += n
    total = sum(totals.values())
    since = clock.now() - dt.timedelta(seconds=RATE_WINDOW)
    started = max(run.created_at, since)
    window = max(1.0, (clock.now() - started).total_seconds())
    recent = session.execute(select(func.count()).select_from(Delivery).where(
        col(Delivery.run_id) == run.id, col(Delivery.sent_at) >= since)).scalar_one()
    rate = recent / window
    open_count = sum(totals[s] for s in OPEN)
    pool = dict(session.execute(select(col(SubstitutePoolEntry.kind), func.count())
                                .where(col(SubstitutePoolEntry.run_id) == run.id)
                                .group_by(col(SubstitutePoolEntry.kind))).all())
    if not open_count:
        eta: float | None = 0.0
    elif run.state != "running" or rate <= 0:
        eta = None  # a paused run sends nothing, whatever it sent in the last minute
    else:
        eta = round(open_count / rate, 1)
    return Progress(run.id or 0, run.incident_id, run.state, counts, totals, total,
                    sum(totals[s] for s in TERMINAL) / total if total else 1.0, round(rate, 2), eta,
                    _eta_text(run.state, eta), pool, run.plan)


def _eta_text(state: str, eta: float | None) -> str:
    if eta is not None:
        return f"{eta:.0f} s"
    return "unknown" if state == "running" else f"none while {state}"
