"""Connecting dispatch to the Flask app: settings, channels, workers and run requests from the config."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from flask import Flask

from app import db
from app.channels import build_channels
from app.channels.base import Channel
from app.dispatch.outcomes import Policy
from app.dispatch.runs import RunRequest
from app.dispatch.sandbox_store import DbRecorder
from app.dispatch.settings import DispatchSettings, from_config, parse_chain
from app.dispatch.worker import ChannelFactory, Worker, WorkerOptions, worker_name
from app.errors import InvalidInput


def settings_for(app: Flask) -> DispatchSettings:
    """The app's ``DispatchSettings`` (built once)."""
    found: DispatchSettings | None = app.extensions.get("dispatch_settings")
    if found is None:
        found = from_config(app.config)
        app.extensions["dispatch_settings"] = found
    return found


def channel_factory(app: Flask) -> ChannelFactory:
    """A callable building a fresh set of channels (sandbox ones record into the outbox viewer)."""
    settings = settings_for(app)
    recorder = DbRecorder(db.engine_for(app), app.extensions["keys"].cipher(), app.extensions["clock"])

    def build() -> Mapping[str, Channel]:
        return build_channels(settings.channels, recorder=recorder)

    return build


def senders(app: Flask) -> tuple[str, ...]:
    """Channels that have a sender in the current mode, ``letter`` when a letter drop is configured
    (computed once per app)."""
    names: tuple[str, ...] | None = app.extensions.get("dispatch_senders")
    if names is None:
        built = build_channels(settings_for(app).channels)
        names = settings_for(app).with_letters(tuple(built))
        for channel in built.values():
            channel.close()
        app.extensions["dispatch_senders"] = names
    return names


def policy_for(app: Flask) -> Policy:
    """The retry policy (receipts and sweeps outside a worker use it too)."""
    import random

    s = settings_for(app)
    return Policy(s.max_attempts, s.backoff_base, s.backoff_cap, senders(app), random.Random())


def run_request(app: Flask, *, chain: str | None = None, regime: str | None = None) -> RunRequest:
    """A ``RunRequest`` with the configured (or given) channel order; rates for the whole system.

    Raises ``InvalidInput`` (field ``chain``) when ``chain`` names an unknown channel or one twice.
    """
    settings = settings_for(app)
    workers = max(1, int(app.config.get("DISPATCH_WORKERS", 1)))
    try:
        order: Sequence[str] = parse_chain(chain) if chain else settings.chain
    except ValueError as exc:
        raise InvalidInput(str(exc), details=[{"path": "chain", "reason": str(exc)}]) from exc
    return RunRequest(chain=order, senders=senders(app), rates={c: r * workers for c, r in settings.rates.items()},
                      regime=regime or None, quiet_hours=settings.quiet_hours,
                      playbooks=app.extensions.get("playbooks", {}))


def make_worker(app: Flask, options: WorkerOptions | None = None) -> Worker:
    """A worker on the app's database, clock, keys and channels."""
    from app.webhooks.jobs import run_once

    name = worker_name()
    return Worker(engine=db.engine_for(app), settings=settings_for(app), clock=app.extensions["clock"],
                  cipher=app.extensions["keys"].cipher(), channels=channel_factory(app), options=options, name=name,
                  also=(lambda: run_once(app, worker=name, passes=1),))


def start_background_worker(app: Flask, options: WorkerOptions | None = None) -> tuple[threading.Thread,
                                                                                       threading.Event]:
    """Run a worker in a daemon thread (the embedded default); set the returned event to stop it."""
    stop = threading.Event()
    worker = make_worker(app, options)
    thread = threading.Thread(target=worker.run, args=(stop,), name="dispatch-worker", daemon=True)
    thread.start()
    return thread, stop
