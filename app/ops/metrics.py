"""Prometheus metrics (prometheus-client), served at ``/metrics`` by ``app.ops.routes``. No Flask here: the
dispatch worker imports this module.

Two kinds:

- **Events**, counted where they happen (this process): provider send latency per channel and outcome
  (``breach_notify_provider_send_seconds``, recorded in ``app.dispatch.worker``), retries scheduled
  (``breach_notify_delivery_retries_total``, ``app.dispatch.outcomes``) and fallbacks to the next channel or the
  substitute pool (``breach_notify_delivery_fallbacks_total``, ``app.dispatch.outbox``). Workers running as
  their own processes share them through prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``).
- **State**, read from the database at scrape time by :class:`DatabaseCollector`, so every web process reports
  the same truth whichever process did the work: deliveries by channel and state, outbox depth and age of the
  oldest queued delivery, obligations by status and seconds to the nearest open deadline, import rows and
  rejects.

No label ever carries contact data or free text: channels, states, outcomes and statuses are fixed vocabularies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlmodel import col

from app import db
from app.clock import Clock

SEND_SECONDS = Histogram(
    "breach_notify_provider_send_seconds", "Seconds one provider call took (SMTP, Twilio, Web Push), by outcome.",
    ["channel", "outcome"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
RETRIES = Counter("breach_notify_delivery_retries_total",
                  "Temporary failures rescheduled with backoff.", ["channel"])
FALLBACKS = Counter("breach_notify_delivery_fallbacks_total",
                    "People moved on from a failed channel, to the next channel or `substitute`.",
                    ["from_channel", "to_channel"])


class DatabaseCollector(Collector):
    """Gauges and counters computed from the database at each scrape (one short read transaction)."""

    def __init__(self, *, engine: Engine, clock: Clock) -> None:
        self.engine, self.clock = engine, clock

    def collect(self) -> Iterator[Metric]:
        """Yield the metric families; the queries are aggregates over indexed columns."""
        from app.dispatch.models import FAILED_TEMPORARY, QUEUED, SENDING, Delivery
        from app.obligations.models import OPEN, ObligationRecord
        from app.subjects.models import SubjectImport

        now = self.clock.now()
        with db.session_scope(self.engine) as session:
            by_state = session.execute(select(col(Delivery.channel), col(Delivery.state), func.count())
                                       .group_by(col(Delivery.channel), col(Delivery.state))).all()
            oldest = session.execute(select(col(Delivery.channel), func.min(col(Delivery.created_at)))
                                     .where(col(Delivery.state) == QUEUED).group_by(col(Delivery.channel))).all()
            obligations = session.execute(select(col(ObligationRecord.status), func.count())
                                          .group_by(col(ObligationRecord.status))).all()
            nearest = session.execute(select(func.min(col(ObligationRecord.due_at)))
                                      .where(col(ObligationRecord.status).in_(OPEN))).scalar_one()
            imports = session.execute(select(func.coalesce(func.sum(col(SubjectImport.rows_read)), 0),
                                             func.coalesce(func.sum(col(SubjectImport.rejected)), 0))).one()
        deliveries = GaugeMetricFamily("breach_notify_deliveries", "Deliveries by channel and state.",
                                       labels=["channel", "state"])
        depth = GaugeMetricFamily("breach_notify_outbox_depth",
                                  "Deliveries waiting to be sent (queued, retrying or being sent).", labels=["channel"])
        waiting: dict[str, int] = {}
        for channel, state, count in by_state:
            deliveries.add_metric([channel, state], count)
            if state in (QUEUED, FAILED_TEMPORARY, SENDING):
                waiting[channel] = waiting.get(channel, 0) + count
        for channel, count in sorted(waiting.items()):
            depth.add_metric([channel], count)
        age = GaugeMetricFamily("breach_notify_outbox_oldest_queued_seconds",
                                "Age in seconds of the oldest queued delivery.", labels=["channel"])
        for channel, created in oldest:
            age.add_metric([channel], max(0.0, (now - _aware(created)).total_seconds()))
        yield from (deliveries, depth, age)
        yield from _obligation_metrics(obligations, nearest, now)
        yield CounterMetricFamily("breach_notify_import_rows", "Rows read by subject imports.", value=imports[0])
        yield CounterMetricFamily("breach_notify_import_rejects", "Rows rejected by subject imports.",
                                  value=imports[1])


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _obligation_metrics(rows: Iterable[Any], nearest: dt.datetime | None, now: dt.datetime) -> Iterator[Metric]:
    by_status = GaugeMetricFamily("breach_notify_obligations", "Obligations by status.", labels=["status"])
    for status, count in rows:
        by_status.add_metric([status], count)
    yield by_status
    if nearest is not None:
        yield GaugeMetricFamily("breach_notify_obligation_nearest_deadline_seconds",
                                "Seconds until the nearest open obligation's deadline (negative: overdue).",
                                value=(_aware(nearest) - now).total_seconds())
