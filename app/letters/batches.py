"""Print-and-post batches: claim an incident's queued letter deliveries, render each letter to PDF, merge them
with a manifest, hand both to the drop, and move the letters to ``sent`` with the batch as evidence.

Per batch: claim (commit, the same claim as the dispatch worker's) -> render every letter with no database
transaction open, refreshing the claim while rendering takes long, so the sweeper never re-queues a letter
being batched -> hand over (folder or SFTP) -> one transaction records the ``LetterBatch`` with the files'
SHA-256, its items, each delivery's acceptance (``sent``, ``provider_id`` = the batch reference), an audit
event and a timeline entry. A letter that cannot be rendered fails permanently (its person moves on); a
failed hand-over is a temporary failure of every letter of the batch (retried with backoff in a later batch,
after ``DISPATCH_MAX_ATTEMPTS`` the people move on). The duplicate window is the dispatch worker's: a process
killed between the hand-over and the recording commit leaves the letters ``sending``; the sweeper re-queues
them and they are posted again in a later batch.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.channels.base import SendResult, redact
from app.clock import Clock
from app.crypto import FieldCipher
from app.dispatch.models import SENDING, Delivery
from app.dispatch.outbox import Job, claim
from app.dispatch.outcomes import Accepted, Policy, record_accepted, record_result
from app.dispatch.render import NAMELESS, MessageBuilder
from app.dispatch.settings import DispatchSettings
from app.errors import InvalidInput
from app.incidents import service as incidents
from app.letters.addresses import block_from_json
from app.letters.drops import Drop, DropError
from app.letters.files import BatchFiles, Letter, build_files
from app.letters.models import LetterBatch, LetterBatchItem
from app.notices.context import Recipient
from app.notices.letters import html_to_pdf, letter_html
from app.notices.models import NoticeVersion
from app.wording import plural

TOUCH_SECONDS = 30.0


@dataclass(frozen=True)
class BatchOptions:
    """``size`` (most letters per batch), ``origin`` (ISO country posted from), ``mail_class`` for domestic
    letters, and the prices in USD: ``unit_cost`` per letter and ``page_cost`` per printed page."""

    size: int = 500
    origin: str = "US"
    mail_class: str = "first_class"
    unit_cost: float = 0.0
    page_cost: float = 0.0

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> BatchOptions:
        """Options from the app config (``LETTER_*`` and ``UNIT_COSTS``)."""
        prices = config.get("UNIT_COSTS") or {}
        assert isinstance(prices, Mapping)
        return cls(size=int(str(config.get("LETTER_BATCH_SIZE", 500))), origin=str(config.get("LETTER_ORIGIN", "US")),
                   mail_class=str(config.get("LETTER_MAIL_CLASS", "first_class")),
                   unit_cost=float(prices.get("letter", 0.0)), page_cost=float(prices.get("letter_page", 0.0)))


@dataclass(frozen=True)
class BatchOutcome:
    """What ``make_batch`` did: the ``batch`` handed over (None when nothing was), ``failed`` letters that
    could not be rendered (delivery id -> reason) and the hand-over ``error`` if it failed."""

    batch: LetterBatch | None
    failed: Mapping[int, str]
    error: str | None = None


class _Renderer:
    """Renders claimed letter jobs (decrypting name and address) at ``now``."""

    def __init__(self, session: Session, *, cipher: FieldCipher, settings: DispatchSettings, options: BatchOptions,
                 now: dt.datetime) -> None:
        self.session, self.cipher, self.options, self.now = session, cipher, options, now
        self.links = MessageBuilder(cipher, settings)
        self.versions: dict[int, NoticeVersion] = {}

    def load(self, jobs: Sequence[Job]) -> None:
        """Load the jobs' notice versions, detached, and end the read transaction (nothing is held while
        rendering)."""
        for version_id in {job.version_id for job in jobs}:
            found = self.session.get(NoticeVersion, version_id)
            assert found is not None
            self.session.expunge(found)
            self.versions[version_id] = found
        self.session.commit()

    def version(self, version_id: int) -> NoticeVersion:
        return self.versions[version_id]

    def letter(self, job: Job) -> Letter:
        if job.contact_enc is None:
            raise InvalidInput("the letter has no postal address")
        name = " ".join(((self.cipher.decrypt(job.name_enc) if job.name_enc else "") or NAMELESS).split())
        block = block_from_json(self.cipher.decrypt(job.contact_enc), name=name, origin=self.options.origin)
        recipient = Recipient(full_name=name, preferred_language=job.language,
                              personal_link=self.links.link(job.delivery_id, self.now),
                              postal_address=block.below_name[:6], address_block=block.lines)
        html = letter_html(self.version(job.version_id), recipient, notice_date=self.now.date())
        mail_class = "international" if block.international else self.options.mail_class
        return Letter(job.delivery_id, name, block.below_name, block.country, mail_class, html_to_pdf(html))


def _touch(session: Session, worker: str, now: dt.datetime) -> None:
    """Refresh the claim of the letters being batched (so the sweeper leaves them alone); commits."""
    session.execute(update(Delivery).where(col(Delivery.claimed_by) == worker, col(Delivery.state) == SENDING)
                    .values(claimed_at=now))
    session.commit()


def _render_all(session: Session, jobs: Sequence[Job], renderer: _Renderer, *, worker: str, clock: Clock,
                policy: Policy) -> tuple[list[Letter], dict[int, str]]:
    letters: list[Letter] = []
    failed: dict[int, str] = {}
    last = time.monotonic()
    for job in jobs:
        try:
            letters.append(renderer.letter(job))
        except (InvalidInput, ValueError) as exc:
            reason = redact(exc.message if isinstance(exc, InvalidInput) else str(exc))
            failed[job.delivery_id] = reason
            record_result(session, delivery_id=job.delivery_id, worker=worker, policy=policy, now=clock.now(),
                          awaits_receipt=False, result=SendResult("permanent_failure", error_code="render",
                                                                  error_message=reason))
        if time.monotonic() - last > TOUCH_SECONDS:
            _touch(session, worker, clock.now())
            last = time.monotonic()
    session.commit()  # end the read transaction: nothing is held while handing over
    return letters, failed


def make_batch(session: Session, *, clock: Clock, actor: str, incident_id: int, drop: Drop, cipher: FieldCipher,
               settings: DispatchSettings, policy: Policy, options: BatchOptions) -> BatchOutcome:
    """Make and hand over one batch of ``incident_id``'s queued letters (see the module docstring).

    Returns ``BatchOutcome`` (``batch`` None when no letter was waiting or the hand-over failed: ``error``).
    """
    incidents.get(session, incident_id=incident_id)
    worker = f"letters:{uuid.uuid4().hex[:10]}"
    jobs = claim(session, worker=worker, channel="letter", limit=max(1, options.size), now=clock.now(),
                 incident_id=incident_id)
    if not jobs:
        return BatchOutcome(None, {})
    now = clock.now()
    renderer = _Renderer(session, cipher=cipher, settings=settings, options=options, now=now)
    renderer.load(jobs)
    letters, failed = _render_all(session, jobs, renderer, worker=worker, clock=clock, policy=policy)
    if not letters:
        return BatchOutcome(None, failed)
    files = build_files(letters)
    reference = f"LB-{incident_id}-{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:4]}"
    try:
        drop.put([(f"{reference}.pdf", files.pdf), (f"{reference}-manifest.csv", files.manifest)])
    except DropError as exc:
        for letter in letters:
            record_result(session, delivery_id=letter.delivery_id, worker=worker, policy=policy, now=clock.now(),
                          awaits_receipt=False, result=SendResult("temporary_failure", error_code="drop",
                                                                  error_message=redact(str(exc))))
        return BatchOutcome(None, failed, str(exc))
    batch = _record(session, clock=clock, actor=actor, incident_id=incident_id, reference=reference, drop=drop,
                    letters=letters, files=files, options=options, worker=worker, policy=policy)
    return BatchOutcome(batch, failed)


def _record(session: Session, *, clock: Clock, actor: str, incident_id: int, reference: str, drop: Drop,
            letters: Sequence[Letter], files: BatchFiles, options: BatchOptions, worker: str,
            policy: Policy) -> LetterBatch:
    now = clock.now()
    cost = round(len(letters) * options.unit_cost + files.total_pages * options.page_cost, 2)
    batch = LetterBatch(incident_id=incident_id, reference=reference, destination=drop.describe(),
                        pdf_name=f"{reference}.pdf", pdf_sha256=files.pdf_sha256,
                        manifest_name=f"{reference}-manifest.csv", manifest_sha256=files.manifest_sha256,
                        letters=len(letters), pages=files.total_pages, cost=cost, created_by=actor, created_at=now)
    session.add(batch)
    session.flush()
    first = 1
    for position, (letter, pages) in enumerate(zip(letters, files.pages, strict=True), start=1):
        session.add(LetterBatchItem(batch_id=batch.id or 0, delivery_id=letter.delivery_id, position=position,
                                    first_page=first, pages=pages, country=letter.country,
                                    mail_class=letter.mail_class))
        first += pages
    evidence = {"reference": reference, "destination": batch.destination, "letters": batch.letters,
                "pages": batch.pages, "cost": cost, "pdf_sha256": batch.pdf_sha256,
                "manifest_sha256": batch.manifest_sha256}
    audit.record(session, clock=clock, actor=actor, action="letters.batch_handed_over", entity="letter_batch",
                 entity_id=batch.id or 0, incident_id=incident_id, after=evidence)
    incidents.add_timeline(session, clock=clock, incident_id=incident_id, actor=actor, kind="dispatch",
                           text=f"Letter batch {reference}: {plural(batch.letters, 'letter')}, "
                                f"{plural(batch.pages, 'page')} handed over to {batch.destination} "
                                f"(PDF SHA-256 {batch.pdf_sha256[:16]}...)")
    accepted = SendResult("accepted", provider_id=reference, provider_status="handed_over")
    record_accepted(session, items=[Accepted(letter.delivery_id, accepted, True, now) for letter in letters],
                    worker=worker, policy=policy)  # commits the batch, its items, audit and deliveries together
    return batch


def batches(session: Session, *, incident_id: int) -> list[LetterBatch]:
    """The incident's batches, newest first."""
    return list(session.exec(select(LetterBatch).where(LetterBatch.incident_id == incident_id)
                             .order_by(col(LetterBatch.id).desc())).all())
