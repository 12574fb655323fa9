"""Dispatch: the outbox of deliveries, workers that claim and send them, receipts, the fallback chain and
runs with pause/resume/cancel and progress. See ``docs/dispatch.md``."""
