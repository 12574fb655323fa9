"""Group commit of provider acceptances: one recorder thread per worker writes what all sender threads had
accepted, many per transaction, while the senders go on rendering the next message.

A sender takes a ``Slots`` permit before each provider call and hands an acceptance to ``submit``; the permit
comes back once the acceptance is committed. With ``limit`` permits per sender thread
(``WorkerOptions.flush_every``, default 1) a sender never holds more than ``limit`` sent-but-unrecorded
messages, which is the crash window of ``docs/dispatch.md``; the transaction, its connection and (on SQLite)
its fsync are shared by every acceptance that arrived while the previous transaction ran.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading

from sqlalchemy import Connection, Engine
from sqlmodel import Session

from app.dispatch.outcomes import Accepted, Policy, accept_rows, apply_early_receipts, early_receipts

log = logging.getLogger(__name__)
MAX_GROUP = 500
"""Most acceptances written in one transaction."""


class Slots:
    """A sender thread's permits: ``take`` before a provider call (blocks while ``limit`` acceptances of this
    thread are unrecorded), ``give`` when the call failed or its acceptance was committed."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._semaphore = threading.BoundedSemaphore(self.limit)

    def take(self) -> None:
        """Wait for a free permit."""
        self._semaphore.acquire()

    def give(self) -> None:
        """Return one permit."""
        self._semaphore.release()

    def drain(self) -> None:
        """Wait until every acceptance of this thread is recorded (then return the permits)."""
        for _ in range(self.limit):
            self._semaphore.acquire()
        for _ in range(self.limit):
            self._semaphore.release()


class Recorder:
    """Records ``Accepted`` items for ``worker`` on ``engine``; ``start`` the thread, ``close`` to drain and
    stop it. The recorder thread keeps one database connection between its transactions (it makes no provider
    call; the sender threads hold none). A failed transaction is logged and its deliveries stay ``sending``
    (the sweeper re-queues them)."""

    def __init__(self, *, engine: Engine, worker: str, policy: Policy, max_group: int = MAX_GROUP) -> None:
        self._engine, self._worker, self._policy, self._max = engine, worker, policy, max(1, max_group)
        self._queue: queue.Queue[tuple[Accepted, Slots] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="dispatch-recorder", daemon=True)
        self.transactions = 0

    def start(self) -> None:
        """Start the recorder thread."""
        self._thread.start()

    def submit(self, item: Accepted, slots: Slots) -> None:
        """Queue one acceptance; its permit goes back to ``slots`` once it is committed (or failed)."""
        self._queue.put((item, slots))

    def close(self) -> None:
        """Record everything submitted so far, then stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _loop(self) -> None:
        conn: Connection | None = None  # kept between transactions: no connect (and SQLite pragmas) per group
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                group, last = [first], False
                while len(group) < self._max:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        last = True
                        break
                    group.append(more)
                conn = self._write(group, conn)
                if last:
                    return
        finally:
            if conn is not None:
                conn.close()

    def _write(self, group: list[tuple[Accepted, Slots]], conn: Connection | None) -> Connection | None:
        """One transaction for ``group``; returns the connection to keep (None after a failure)."""
        try:
            conn = conn if conn is not None else self._engine.connect()
            items = [item for item, _ in group]
            with conn.begin():
                moved = accept_rows(conn, items=items, worker=self._worker)
                early = early_receipts(conn, items=items, moved=moved)
                if early:  # a receipt overtook an acceptance: apply it (ORM) in the same transaction
                    with Session(bind=conn, expire_on_commit=False) as session:
                        apply_early_receipts(session, items=items, early=early, policy=self._policy)
                        session.flush()
            self.transactions += 1
            return conn
        except Exception:
            log.exception("recording %d acceptances failed; the sweeper will re-queue them", len(group))
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
            return None
        finally:
            for _, slots in group:
                slots.give()
