"""The dispatch worker: per channel one claiming lane and N sender threads, plus a sweeper thread.

Per delivery: claim (commit) -> render and send with no session open -> record the outcome in a short
transaction. Why no session during the send: a slow provider must never hold a database connection (and
on SQLite the write lock), so the claim commits first and the outcome opens a fresh session.

Acceptances go to the worker's ``Recorder`` (one thread, group commit: one transaction records what every
sender thread accepted meanwhile); a sender renders its next message while its acceptance is written and waits
before its next provider call until it holds fewer than ``flush_every`` (default 1) unrecorded acceptances.
Failures are recorded at once by the sender. A lane claims at most ``batch`` deliveries ahead of its senders
and, when its channel is rate limited, no more than the token bucket releases within ``LOOKAHEAD`` seconds, so
claimed rows never age towards the claim timeout. The crash window: a worker killed between the provider's
acceptance and the outcome commit leaves the delivery in ``sending``; the sweeper re-queues it and it is sent
again. At most ``flush_every`` messages per sender thread (never more than the deliveries claimed) are in that
window per kill (``docs/dispatch.md``).
"""

from __future__ import annotations

import logging
import os
import queue
import random
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog
from sqlalchemy import Engine

from app import db
from app.channels.base import Channel, OutboundMessage, SendResult, VoiceOutbound
from app.clock import Clock
from app.crypto import FieldCipher
from app.dispatch.outbox import Job, claim
from app.dispatch.outcomes import Accepted, Policy, defer, record_result
from app.dispatch.quiet import wait_until
from app.dispatch.ratelimit import TokenBucket
from app.dispatch.recorder import Recorder, Slots
from app.dispatch.render import MessageBuilder, VersionInfo, load_versions
from app.dispatch.settings import DispatchSettings
from app.dispatch.sweeps import sweep
from app.ops.metrics import SEND_SECONDS

log = logging.getLogger(__name__)
events = structlog.get_logger(__name__)
LOOKAHEAD = 2.0
RECEIPT_CHANNELS = frozenset({"sms", "voice"})
"""Channels whose live acceptance waits for a status callback (Twilio) before it counts as delivered."""
ChannelFactory = Callable[[], Mapping[str, Channel]]


def worker_name() -> str:
    """``host:pid:random`` - unique per worker instance."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def claim_room(*, batch: int, backlog: int, available: int) -> int:
    """How many deliveries a lane may claim now: at most ``batch`` ahead of its senders (``backlog`` claimed
    and not yet done) and, when rate limited, at most ``available`` (tokens the bucket releases within
    ``LOOKAHEAD`` seconds) minus the backlog; one when nothing waits, so a rate below one message per
    ``LOOKAHEAD`` still moves. Bounding the claims is what lets pause and cancel stop a slow channel within
    about ``LOOKAHEAD`` seconds of its messages: claimed deliveries are sent."""
    room = min(batch - backlog, available - backlog)
    return max(room, 1 if backlog == 0 else 0)


@dataclass
class WorkerOptions:
    """``batch``: most deliveries claimed ahead per channel; ``concurrency``: sender threads per channel
    (None: from the settings); ``sweep_every``/``poll`` in seconds; ``once``: stop when nothing is due;
    ``flush_every``: sent-but-unrecorded acceptances a sender thread may hold (1: it waits for the previous
    acceptance's commit before its next provider call; more widens the crash window to that many messages per
    thread)."""

    batch: int = 50
    concurrency: int | None = None
    sweep_every: float = 5.0
    poll: float = 0.2
    once: bool = False
    channels: tuple[str, ...] | None = None
    flush_every: int = 1


@dataclass
class WorkerStats:
    """Outcomes counted by this worker (``accepted``, ``temporary_failure``, ``permanent_failure``)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: str) -> None:
        """Count one outcome."""
        with self.lock:
            self.outcomes[outcome] += 1


class Worker:
    """Claims and sends deliveries from the database at ``engine`` (see the module docstring).

    ``channels`` builds one set of channels per sender thread (a channel serialises its sends); ``also``:
    periodic jobs run each in its own thread every ``sweep_every`` seconds (webhook delivery).
    """

    def __init__(self, *, engine: Engine, settings: DispatchSettings, clock: Clock, cipher: FieldCipher,
                 channels: ChannelFactory, options: WorkerOptions | None = None, name: str | None = None,
                 also: Sequence[Callable[[], object]] = ()) -> None:
        self.engine, self.settings, self.clock, self.also = engine, settings, clock, tuple(also)
        self.options = options or WorkerOptions()
        self.name = name or worker_name()
        self._factory = channels
        self._builder = MessageBuilder(cipher, settings)
        self._versions: dict[int, VersionInfo] = {}
        self._versions_lock = threading.Lock()
        probe = channels()
        self.senders = tuple(n for n in probe if self.options.channels is None or n in self.options.channels)
        self._live = not settings.sandbox
        self.policy = Policy(settings.max_attempts, settings.backoff_base, settings.backoff_cap,
                             settings.with_letters(tuple(probe)), random.Random())
        self.stats = WorkerStats()
        self._recorder = Recorder(engine=engine, worker=self.name, policy=self.policy)

    def sweep_once(self) -> None:
        """Run the dispatch sweeps once."""
        with db.session_scope(self.engine) as session:
            sweep(session, clock=self.clock, claim_timeout=self.settings.claim_timeout,
                  timeouts=self.settings.receipt_timeouts, policy=self.policy)

    def run(self, stop: threading.Event | None = None) -> WorkerStats:
        """Work until ``stop`` is set (or, with ``once``, until nothing is due); returns the stats."""
        stop = stop or threading.Event()
        self.sweep_once()
        self._recorder = Recorder(engine=self.engine, worker=self.name, policy=self.policy)
        self._recorder.start()
        sweeper = threading.Thread(target=self._sweep_loop, args=(stop,), name="dispatch-sweeper", daemon=True)
        sweeper.start()
        extras = [threading.Thread(target=self._also_loop, args=(job, stop), name="dispatch-also", daemon=True)
                  for job in self.also]
        for extra in extras:
            extra.start()
        lanes = [threading.Thread(target=self._lane, args=(c, stop), name=f"dispatch-{c}", daemon=True)
                 for c in self.senders]
        for lane in lanes:
            lane.start()
        for lane in lanes:
            lane.join()
        self._recorder.close()
        if self.options.once:
            stop.set()
            self.sweep_once()
        sweeper.join()
        for extra in extras:
            extra.join()
        return self.stats

    def _sweep_loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.options.sweep_every):
            try:
                self.sweep_once()
            except Exception:
                log.exception("dispatch sweep failed")

    def _also_loop(self, job: Callable[[], object], stop: threading.Event) -> None:
        """Run ``job`` every ``sweep_every`` seconds in its own thread, so a slow one (webhook receivers) never
        delays the dispatch sweeps."""
        while not stop.wait(self.options.sweep_every):
            try:
                job()
            except Exception:
                log.exception("worker job failed")

    def _threads(self, channel: str) -> int:
        return self.options.concurrency or self.settings.threads(channel)

    def _lane(self, channel: str, stop: threading.Event) -> None:
        bucket = TokenBucket(self.settings.rate(channel))
        jobs: queue.Queue[Job] = queue.Queue()
        done = threading.Event()
        senders = [threading.Thread(target=self._send_loop, args=(channel, jobs, bucket, done),
                                    name=f"dispatch-{channel}-send-{i}", daemon=True)
                   for i in range(self._threads(channel))]
        for thread in senders:
            thread.start()
        try:
            self._claim_loop(channel, jobs, bucket, stop)
        finally:
            jobs.join()
            done.set()
            for thread in senders:
                thread.join()

    def _claim_loop(self, channel: str, jobs: queue.Queue[Job], bucket: TokenBucket, stop: threading.Event) -> None:
        batch = max(1, self.options.batch)
        while not stop.is_set():
            backlog = jobs.unfinished_tasks
            if backlog > batch // 2:
                time.sleep(0.005)
                continue
            room = claim_room(batch=batch, backlog=backlog, available=bucket.available_within(LOOKAHEAD))
            if room <= 0:  # rate limited and LOOKAHEAD seconds of work already waiting: claim nothing yet
                stop.wait(0.05)
                continue
            claimed = self._claim(channel, room)
            for job in claimed:
                jobs.put(job)
            if not claimed:
                if self.options.once and jobs.unfinished_tasks == 0:
                    return
                stop.wait(self.options.poll)

    def _claim(self, channel: str, limit: int) -> list[Job]:
        with db.session_scope(self.engine) as session:
            claimed = claim(session, worker=self.name, channel=channel, limit=limit, now=self.clock.now())
            with self._versions_lock:
                missing = {j.version_id for j in claimed} - set(self._versions)
            if missing:
                loaded = load_versions(session, missing)
                with self._versions_lock:
                    self._versions.update(loaded)
        return claimed

    def _send_loop(self, channel: str, jobs: queue.Queue[Job], bucket: TokenBucket, done: threading.Event) -> None:
        sender = self._factory()[channel]
        slots = Slots(self.options.flush_every)
        try:
            while not (done.is_set() and jobs.empty()):
                try:
                    job = jobs.get(timeout=0.05)
                except queue.Empty:
                    continue
                try:
                    self._process(job, sender, bucket, slots)
                except Exception:
                    log.exception("delivery %s: processing failed; the sweeper will re-queue it", job.delivery_id)
                finally:
                    jobs.task_done()
        finally:
            slots.drain()
            sender.close()

    def _quiet(self, job: Job, message: VoiceOutbound) -> bool:
        """Defer a call outside the person's calling window (``app.dispatch.quiet``); True when deferred."""
        now = self.clock.now()
        wait = wait_until(now, phone_e164=message.to, jurisdiction=job.jurisdiction,
                          window=self.settings.quiet_hours)
        if wait is None:
            return False
        opening, zones = wait
        why = (f"quiet hours: outside {self.settings.quiet_hours.text} in {', '.join(zones)}; "
               f"waits until {opening:%Y-%m-%d %H:%M} UTC")
        with db.session_scope(self.engine) as session:
            defer(session, delivery_id=job.delivery_id, worker=self.name, until=opening, why=why, now=now)
        return True

    def _process(self, job: Job, sender: Channel, bucket: TokenBucket, slots: Slots) -> None:
        with self._versions_lock:
            info = self._versions[job.version_id]
        with structlog.contextvars.bound_contextvars(delivery_id=job.delivery_id, incident_id=info.incident_id,
                                                     run_id=job.run_id):
            self._send_one(job, info, sender, bucket, slots)

    def _build(self, job: Job, info: VersionInfo) -> OutboundMessage | SendResult:
        try:
            return self._builder.build(job, info, self.clock.now())
        except (ValueError, KeyError) as exc:
            return SendResult("permanent_failure", error_code="render",
                              error_message=f"message could not be built: {type(exc).__name__}")

    def _send_one(self, job: Job, info: VersionInfo, sender: Channel, bucket: TokenBucket, slots: Slots) -> None:
        result = self._build(job, info)
        if not isinstance(result, SendResult):
            if isinstance(result, VoiceOutbound) and self._quiet(job, result):
                return
            slots.take()  # at most flush_every acceptances of this thread unrecorded
            bucket.acquire()  # after the wait for the slot, so the token is spent right before the send
            handed = False
            try:
                started = time.perf_counter()
                result = sender.send(result)  # no database session is open here
                SEND_SECONDS.labels(job.channel, result.outcome).observe(time.perf_counter() - started)
                if result.accepted:
                    self._recorder.submit(Accepted(job.delivery_id, result,
                                                   job.channel in RECEIPT_CHANNELS and self._live,
                                                   self.clock.now()), slots)
                    handed = True
            finally:
                if not handed:
                    slots.give()
        # ids and provider codes only: provider error messages may quote the address
        events.info("delivery attempt", channel=job.channel, attempt=job.attempts, outcome=result.outcome,
                    error_code=result.error_code)
        self.stats.add(result.outcome)
        if not result.accepted:
            with db.session_scope(self.engine) as session:
                record_result(session, delivery_id=job.delivery_id, worker=self.name, result=result,
                              awaits_receipt=False, policy=self.policy, now=self.clock.now())
